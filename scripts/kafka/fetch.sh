#!/usr/bin/env bash
# Resolve the Apache Kafka broker + CLI jars the test clusters run from (test/harness/kafka-cluster.ts):
#   3.9.1 (scripts/kafka/pom.xml)       -> <repo>/.kafka-lib/*.jar
#   4.1.1 (scripts/kafka/pom-4.1.1.xml) -> <repo>/.kafka-lib/4.1.1/*.jar   (a directory of its own: the JVM's "dir/*"
#                                          classpath takes only the jars directly in dir, so the versions never mix)
# Idempotent: a version whose Kafka core jar is already there is skipped. Needs Maven Central (or a warm ~/.m2) once.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

# fetch VERSION POM LIBDIR
fetch() {
  local version=$1 pom=$2 lib=$3
  local core="kafka_2.13-$version.jar"
  if [[ -f "$lib/$core" ]]; then
    echo "fetch.sh: $lib already has $core ($(find "$lib" -maxdepth 1 -name "*.jar" | wc -l) jars), skipping Maven" >&2
    return 0
  fi
  echo "fetch.sh: resolving Kafka $version jars into $lib with Maven" >&2
  command -v mvn >/dev/null || { echo "fetch.sh: mvn not found on PATH" >&2; exit 1; }
  mkdir -p "$lib"
  mvn -B -q -f "$pom" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$lib"
  [[ -f "$lib/$core" ]] || { echo "fetch.sh: Maven finished but $core is missing from $lib" >&2; exit 1; }
  echo "fetch.sh: $(find "$lib" -maxdepth 1 -name "*.jar" | wc -l) jars in $lib" >&2
}

fetch 3.9.1 "$HERE/pom.xml" "$ROOT/.kafka-lib"
fetch 4.1.1 "$HERE/pom-4.1.1.xml" "$ROOT/.kafka-lib/4.1.1"

printf 'kafka version: '
"$JAVA" -Xmx64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
  "-Dlog4j.configuration=file:$HERE/tools-log4j.properties" \
  -cp "$ROOT/.kafka-lib/*" kafka.Kafka --version
printf 'kafka version: '
"$JAVA" -Xmx64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
  "-Dlog4j2.configurationFile=$HERE/tools-log4j2.properties" \
  -cp "$ROOT/.kafka-lib/4.1.1/*" kafka.Kafka --version
echo # 4.x prints the version without a newline
