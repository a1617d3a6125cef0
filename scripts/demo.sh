#!/usr/bin/env bash
# Set up everything and run the main job on real georeferenced imagery from ../shared/data:
# detections (GeoParquet, GeoJSON), errors table, run manifest and an offline map in out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
DATA=${SKYSCAN_SHARED_DATA:-../shared/data}
# Everything at 0.1-0.5 m: Colorado and Bali orthophotos, Rotterdam and Atlanta 0.5 m
# panchromatic, Zurich SWISSIMAGE scenes and tiles (LV95), a Florida NEON scene.
status=0
.venv/bin/skyscan detect \
  "$DATA/georef/orthophotos" \
  "$DATA/georef/spacenet/pan*.tif" "$DATA/georef/spacenet/sample_geotiff.tif" \
  "$DATA/georef/swissimage-zurich" \
  "$DATA/georef/neon-osbs" \
  -o out/demo --overwrite --map "$@" || status=$?
# exit code 3 = some inputs failed; they are listed in out/demo/errors.parquet
[[ $status == 0 || $status == 3 ]] || exit $status
echo "outputs: $(ls out/demo | tr '\n' ' ')"
echo "open out/demo/map.html in a browser"
