#!/usr/bin/env bash
# Installs what the demo and the tests need, skipping whatever is already there: Debian packages (kcat,
# openssl, a JRE, Chromium for the browser test, Maven when jars are missing), npm dependencies, the Kafka broker/CLI jars and the
# kafka-clients jars whose message definitions the schema tests compare against.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
KAFKA_CORE_JAR=.kafka-lib/kafka_2.13-3.9.1.jar

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo -n "$@"
  else echo "need root or sudo for: $*" >&2; return 1
  fi
}

system_packages() {
  local pkgs=()
  command -v kcat >/dev/null || pkgs+=(kcat openssl)
  command -v openssl >/dev/null || pkgs+=(openssl)
  # A JDK, not only a runtime: the SASL differential test compiles a small program against kafka-clients.
  command -v javac >/dev/null || pkgs+=(openjdk-17-jdk-headless)
  # Headless Chromium for the audit browser's end-to-end test (driven by playwright-core, which downloads nothing).
  [[ -x /usr/bin/chromium ]] || pkgs+=(chromium fonts-dejavu-core)
  # Maven only matters when the Kafka jars still have to be fetched.
  if [[ ! -f $KAFKA_CORE_JAR ]] && ! command -v mvn >/dev/null; then pkgs+=(maven); fi
  if (( ${#pkgs[@]} > 0 )); then
    echo "apt-get install: ${pkgs[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}"
  fi
  echo "node $(node --version), npm $(npm --version)"
  java -version 2>&1 | sed -n 1p
  kcat -V 2>&1 | sed -n 1p
  openssl version
}

npm_deps() {
  if [[ -d node_modules/kafkajs && node_modules/.package-lock.json -nt package-lock.json ]]; then return 0; fi
  if [[ -f package-lock.json ]]; then npm ci --no-audit --no-fund
  else npm install --no-audit --no-fund
  fi
}


system_packages
npm_deps
bash scripts/kafka/fetch.sh
bash scripts/kafka/fetch-specs.sh
