#!/usr/bin/env bash
# The main job on real georeferenced imagery from ../shared/data: detections (GeoParquet,
# GeoJSON), errors table, run manifest and an offline map in out/demo/. Installs only
# what the demo runs (runtime + map); training, Spark and test tools come with
# scripts/setup.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "skyscan demo: [1/2] setting up .venv with what the demo needs (first run: about a minute)" >&2
bash scripts/setup.sh --demo
DATA=${SKYSCAN_SHARED_DATA:-../shared/data}
# Everything at 0.1-0.5 m: Colorado and Bali orthophotos, Rotterdam and Atlanta 0.5 m
# panchromatic, Zurich SWISSIMAGE scenes and tiles (LV95), a Florida NEON scene.
echo "skyscan demo: [2/2] detecting vehicles in the imagery of $DATA/georef -> out/demo/" >&2
status=0
.venv/bin/skyscan detect \
  "$DATA/georef/orthophotos" \
  "$DATA/georef/spacenet/pan*.tif" "$DATA/georef/spacenet/sample_geotiff.tif" \
  "$DATA/georef/swissimage-zurich" \
  "$DATA/georef/neon-osbs" \
  -o out/demo --overwrite --map "$@" || status=$?
# exit code 3 = some inputs failed; skyscan detect named each above (and in errors.parquet)
[[ $status == 0 || $status == 3 ]] || exit $status
echo "outputs: $(ls out/demo | tr '\n' ' ')"
echo "map: open out/demo/map.html in a browser (it works offline)"
