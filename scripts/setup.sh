#!/usr/bin/env bash
# Installs what the demo and the tests need, skipping whatever is already there: Debian packages (kcat,
# openssl, a JRE, Chromium for the browser test, Maven when jars are missing), npm dependencies, the Kafka 3.9.1 and 4.1.1 broker/CLI jars and the
# kafka-clients jars whose message definitions the schema tests compare against.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
KAFKA_CORE_JAR=.kafka-lib/kafka_2.13-3.9.1.jar
KAFKA4_CORE_JAR=.kafka-lib/4.1.1/kafka_2.13-4.1.1.jar # the Kafka 4.1 test brokers' jars (scripts/kafka/fetch.sh)

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
  # HAProxy in front of the proxy for the PROXY protocol tests (test/deploy/haproxy.test.ts, run in the foreground).
  [[ -x /usr/sbin/haproxy ]] || pkgs+=(haproxy)
  # A C compiler for the SNI test's getaddrinfo shim (test/deploy/resolve-shim.c: kcat resolves test names to loopback).
  command -v gcc >/dev/null || pkgs+=(gcc libc6-dev)
  # Prometheus and promtool for the metrics tests (test/admin/promtool.test.ts, prometheus-live.test.ts: rules, config,
  # metrics checks and a real server scraping the proxy); the tests run their own server on a loopback port, not the package's service.
  command -v promtool >/dev/null && command -v prometheus >/dev/null || pkgs+=(prometheus)
  # Maven only matters when the Kafka jars still have to be fetched.
  if [[ ! -f $KAFKA_CORE_JAR || ! -f $KAFKA4_CORE_JAR ]] && ! command -v mvn >/dev/null; then pkgs+=(maven); fi
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


# Python's confluent-kafka (librdkafka) for test/clients/, in a virtual environment of the repo (.venv-clients, no
# global pip). Debian's python3 needs python3-venv for `python3 -m venv`.
CLIENTS_VENV=.venv-clients
CONFLUENT_KAFKA_VERSION=2.16.1
client_venv() {
  local py=$CLIENTS_VENV/bin/python
  if [[ -x $py ]] && "$py" -c "import confluent_kafka, importlib.metadata as m, sys; sys.exit(m.version('confluent-kafka') != '$CONFLUENT_KAFKA_VERSION')" 2>/dev/null; then
    return 0
  fi
  rm -rf "$CLIENTS_VENV"
  if ! command -v python3 >/dev/null || ! python3 -m venv "$CLIENTS_VENV" >/dev/null 2>&1; then
    rm -rf "$CLIENTS_VENV"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv
    python3 -m venv "$CLIENTS_VENV"
  fi
  "$py" -m pip install --quiet "confluent-kafka==$CONFLUENT_KAFKA_VERSION"
  "$py" -c "import confluent_kafka as c, importlib.metadata as m; print('confluent-kafka', m.version('confluent-kafka'), 'librdkafka', c.libversion()[0])"
}

# The Helm chart's CI check (test/deploy/helm.test.ts) in .tools/ (gitignored): helm built from its Go module
# (go install: the module proxy is reachable, GitHub release binaries are not; ~4 min the first time, under 1 min with a
# warm ~/go cache, nothing once .tools/bin/helm is there) and kubernetes-validate from PyPI, which ships the
# Kubernetes API JSON schemas inside the package, so schema checks need no network.
HELM_VERSION=v4.3.2
KUBERNETES_VALIDATE_VERSION=1.37.0
k8s_tools() {
  mkdir -p .tools/bin
  if [[ ! -x .tools/bin/helm || $(cat .tools/helm.version 2>/dev/null) != "$HELM_VERSION" ]]; then
    local go
    go=$(command -v go || echo /usr/local/go/bin/go)
    [[ -x $go ]] || { echo "setup: Go (1.24 or later) is needed to build helm $HELM_VERSION: install it, or put a helm $HELM_VERSION binary at .tools/bin/helm and its version in .tools/helm.version" >&2; return 1; }
    GOBIN=$PWD/.tools/bin GOFLAGS=-mod=mod "$go" install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
    echo "$HELM_VERSION" > .tools/helm.version
  fi
  local kv=.tools/venv/bin/kubernetes-validate
  if [[ ! -x $kv || $("$kv" --version 2>/dev/null) != "$KUBERNETES_VALIDATE_VERSION" ]]; then
    rm -rf .tools/venv
    python3 -m venv .tools/venv || { rm -rf .tools/venv; as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv; python3 -m venv .tools/venv; }
    .tools/venv/bin/pip install --quiet "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  fi
  echo "helm $(cat .tools/helm.version), kubernetes-validate $("$kv" --version)"
}

# franz-go as a client (test/clients/franz-go.test.ts): the Go program in test/clients/franz-go built into
# .tools/franz-go/ (gitignored), rebuilt only when its sources (go.mod, go.sum, main.go) change: their SHA-256 is kept
# in .tools/franz-go/sources.sha256, which the test compares too. Modules come from the Go module proxy; ~3 min on 2
# loaded cores with an empty Go build cache, seconds with a warm one, nothing when the sources are unchanged.
FRANZ_GO_SRC=test/clients/franz-go
FRANZ_GO_OUT=.tools/franz-go
franz_go_client() {
  local sum
  sum=$(cat "$FRANZ_GO_SRC/go.mod" "$FRANZ_GO_SRC/go.sum" "$FRANZ_GO_SRC/main.go" | sha256sum | cut -d' ' -f1)
  if [[ -x $FRANZ_GO_OUT/franz-go-client && $(cat "$FRANZ_GO_OUT/sources.sha256" 2>/dev/null) == "$sum" ]]; then return 0; fi
  local go
  go=$(command -v go || echo /usr/local/go/bin/go)
  [[ -x $go ]] || { echo "setup: Go 1.26 or later is needed to build $FRANZ_GO_SRC (franz-go 1.22 needs it)" >&2; return 1; }
  mkdir -p "$FRANZ_GO_OUT"
  rm -f "$FRANZ_GO_OUT/sources.sha256"
  (cd "$FRANZ_GO_SRC" && "$go" build -trimpath -o "$OLDPWD/$FRANZ_GO_OUT/franz-go-client" .)
  echo "$sum" > "$FRANZ_GO_OUT/sources.sha256"
  echo "franz-go client built: $FRANZ_GO_OUT/franz-go-client"
}

system_packages
npm_deps
k8s_tools
client_venv
franz_go_client
bash scripts/kafka/fetch.sh
bash scripts/kafka/fetch-specs.sh
