#!/usr/bin/env bash
# Set up everything skyscan needs on a fresh machine of this kind (Debian, Python 3.11).
#   bash scripts/setup.sh          # runtime + training + spark
#   bash scripts/setup.sh --dev    # plus test tools and headless Chromium for the map tests
# Idempotent: a second run only checks. Nothing is downloaded at run time afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=0
[[ "${1:-}" == "--dev" ]] && DEV=1
PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
pip_install() {
  # pip warns once per package about this machine's optional local index: keep only real output
  local log status=0
  log=$(mktemp)
  .venv/bin/pip --disable-pip-version-check -q install "$@" >"$log" 2>&1 || status=$?
  grep -v "is ignored: it is neither a file nor a directory" "$log" >&2 || true
  rm -f "$log"
  return $status
}
# torch first, pinned to the CPU build that lies on this machine's disk: any other torch
# (or an unpinned one pulled in by a dependency) downloads gigabytes of CUDA.
pip_install "torch==2.13.0"
EXTRAS="train,spark,map"
[[ $DEV == 1 ]] && EXTRAS="$EXTRAS,keras,dev"
pip_install -e ".[$EXTRAS]"
# An editable install leaves skyscan's own modules uncompiled (a wheel install compiles
# them): without bytecode every command compiles them again where PYTHONDONTWRITEBYTECODE
# is set (a one-chip command: medians 0.81 s without bytecode against 0.75 s with it,
# `python benchmarks/bench_parts.py bytecode --runs 5`).
.venv/bin/python -m compileall -q src/skyscan
if [[ -f package.json ]] && command -v npm >/dev/null; then
  # Leaflet for the offline map comes from the npm registry (declared in package.json).
  npm ci --silent --no-audit --no-fund >/dev/null 2>&1 || npm install --silent --no-audit --no-fund
fi
if [[ $DEV == 1 ]] && [[ ! -x /usr/bin/chromium ]]; then
  if [[ $(id -u) == 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: install Debian's chromium (sudo apt-get install chromium) for the map browser tests" >&2
  fi
fi
if ! command -v java >/dev/null; then
  echo "note: Java 17+ is needed for the Spark engine (apt-get install openjdk-17-jre-headless)" >&2
fi
