#!/usr/bin/env bash
# Set up skyscan in .venv on a fresh machine of this kind (Debian, Python 3.11).
#   bash scripts/setup.sh --demo   # what `skyscan detect --map` needs: runtime + map (the demo)
#   bash scripts/setup.sh          # runtime + map + training (torch) + Spark + STAC inputs
#   bash scripts/setup.sh --dev    # all of it, plus test tools and headless Chromium (the tests)
# Idempotent: a second run only checks. Nothing is downloaded at run time afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=full
case "${1:-}" in
  --demo) MODE=demo ;;
  --dev) MODE=dev ;;
  "") ;;
  *) echo "usage: bash scripts/setup.sh [--demo|--dev]" >&2; exit 2 ;;
esac
PY=${PYTHON:-python3}
say() { echo "setup: $*" >&2; }
if [[ ! -x .venv/bin/python ]]; then
  say "creating .venv with $("$PY" --version 2>&1)"
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
case $MODE in
  demo) EXTRAS="map" ;;
  full) EXTRAS="map,train,spark,stac" ;;
  dev) EXTRAS="map,train,spark,keras,stac,dev" ;;
esac
if [[ $MODE != demo ]]; then
  # torch first, pinned to the CPU build that lies on this machine's disk: any other torch
  # (or an unpinned one pulled in by a dependency) downloads gigabytes of CUDA.
  say "installing torch (CPU build) for training and model conversion"
  pip_install "torch==2.13.0"
fi
say "installing skyscan with extras [$EXTRAS] (numpy, GDAL via rasterio, ONNX Runtime, ...)"
pip_install -e ".[$EXTRAS]"
# An editable install leaves skyscan's own modules uncompiled (a wheel install compiles
# them); where PYTHONDONTWRITEBYTECODE is set every command would compile them again.
.venv/bin/python -m compileall -q src/skyscan
if [[ -f package.json ]] && command -v npm >/dev/null; then
  # Leaflet for the offline map comes from the npm registry (declared in package.json).
  npm ci --silent --no-audit --no-fund >/dev/null 2>&1 || npm install --silent --no-audit --no-fund
fi
if [[ $MODE == dev ]] && [[ ! -x /usr/bin/chromium ]]; then
  if [[ $(id -u) == 0 ]]; then
    say "installing Debian's chromium for the map's browser tests"
    # apt and debconf talk on stderr even when all is well ("debconf: delaying package
    # configuration, since apt-utils is not installed"): show their log only on failure
    log=$(mktemp)
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$log" 2>&1; then
      cat "$log" >&2
      rm -f "$log"
      exit 1
    fi
    rm -f "$log"
  else
    say "note: install Debian's chromium (sudo apt-get install chromium) for the map browser tests"
  fi
fi
if [[ $MODE != demo ]] && ! command -v java >/dev/null; then
  say "note: Java 17+ is needed for the Spark engine (apt-get install openjdk-17-jre-headless)"
fi
say "ready: .venv/bin/skyscan"
