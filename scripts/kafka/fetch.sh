#!/usr/bin/env bash
# Resolve the Apache Kafka broker + CLI jars (versions pinned in scripts/kafka/pom.xml) into <repo>/.kafka-lib.
# Idempotent: does nothing when the Kafka core jar is already there. Needs Maven Central (or a warm ~/.m2) once.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
LIB="$ROOT/.kafka-lib"
CORE_JAR="kafka_2.13-3.9.1.jar"

if [[ -f "$LIB/$CORE_JAR" ]]; then
  echo "fetch.sh: $LIB already has $CORE_JAR ($(find "$LIB" -maxdepth 1 -name "*.jar" | wc -l) jars), skipping Maven" >&2
else
  echo "fetch.sh: resolving Kafka jars into $LIB with Maven" >&2
  command -v mvn >/dev/null || { echo "fetch.sh: mvn not found on PATH" >&2; exit 1; }
  mkdir -p "$LIB"
  mvn -B -q -f "$HERE/pom.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIB"
  [[ -f "$LIB/$CORE_JAR" ]] || { echo "fetch.sh: Maven finished but $CORE_JAR is missing from $LIB" >&2; exit 1; }
  echo "fetch.sh: $(find "$LIB" -maxdepth 1 -name "*.jar" | wc -l) jars in $LIB" >&2
fi

JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
printf 'kafka version: '
"$JAVA" -Xmx64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
  "-Dlog4j.configuration=file:$HERE/tools-log4j.properties" \
  -cp "$LIB/*" kafka.Kafka --version
