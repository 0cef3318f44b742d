#!/usr/bin/env bash
# Resolve the kafka-clients jars whose common/message/*.json definitions the schema tests compare against:
# 3.9.1 (oldest versions we decode) and 4.1.1 (newest). Idempotent; jars land in .kafka-lib/spec-<version>/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
for v in 3.9.1 4.1.1; do
  dir="$ROOT/.kafka-lib/spec-$v"
  if [ -f "$dir/kafka-clients-$v.jar" ]; then continue; fi
  mkdir -p "$dir"
  mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
    -Dartifact="org.apache.kafka:kafka-clients:$v" -DoutputDirectory="$dir"
done
ls "$ROOT"/.kafka-lib/spec-*/kafka-clients-*.jar
