#!/usr/bin/env bash
# Installs what `make demo` and `make test` need on a fresh Debian machine, then does nothing
# on later runs: system packages (Java 17, Maven, Prometheus tools, Chromium, Node.js, Go) when
# missing, and a virtualenv in .venv with the project, its pipeline and its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP=$VENV/.installed

missing=()
java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
if ! command -v java >/dev/null || [ "$(java_major)" -lt 17 ]; then missing+=(openjdk-17-jre-headless); fi
command -v mvn >/dev/null || missing+=(maven)
# Prometheus (live alert check), promtool (rule tests), amtool (Alertmanager config check).
command -v prometheus >/dev/null && command -v promtool >/dev/null || missing+=(prometheus)
command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
# Headless Chromium for the report.html test (driven by Playwright, which downloads no browser).
command -v chromium >/dev/null || missing+=(chromium)
# The publisher examples in other languages (examples/node, examples/go), built and run by the suite.
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
command -v go >/dev/null || missing+=(golang-go)
if [ ${#missing[@]} -gt 0 ]; then
  echo "[bootstrap] installing system packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "[bootstrap] need root to install ${missing[*]}; install them and run again" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  PYTHON=${PYTHON:-python3}
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "[bootstrap] Python 3.11+ is needed, found $("$PYTHON" --version)" >&2; exit 1; }
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  echo "[bootstrap] installing the project into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e '.[pipeline,test]'
  touch "$STAMP"
fi
