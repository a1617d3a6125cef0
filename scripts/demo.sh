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
# Imagery inside the model's validated range (0.10-0.15 m RGB: the Colorado orthophoto, the
# Florida NEON forest) and beside it imagery outside it, drawn hollow on the map: the Bali
# drone orthomosaic, Gorinchem (0.25 m), Autzen (0.3 m, world file), Rotterdam 0.5 m
# panchromatic and Zurich SWISSIMAGE (LV95). The final-test images (the Zurich tiles,
# spacenet/pan3.tif and sample_geotiff.tif) are left out.
echo "skyscan demo: [2/2] detecting vehicles in the imagery of $DATA/georef -> out/demo/" >&2
status=0
.venv/bin/skyscan detect \
  "$DATA/georef/orthophotos" "$DATA/georef/neon-osbs" \
  "$DATA/georef/gorinchem" "$DATA/georef/autzen" \
  "$DATA/georef/spacenet/pan1.tif" "$DATA/georef/spacenet/pan2.tif" \
  "$DATA/georef/swissimage-zurich/big_img_1091-322_00.tif" "$DATA/georef/swissimage-zurich/lidar_ref-img.tif" \
  -o out/demo --overwrite --map "$@" || status=$?
# exit code 3 = some inputs failed; skyscan detect named each above (and in errors.parquet)
[[ $status == 0 || $status == 3 ]] || exit $status
echo "outputs: $(ls out/demo | tr '\n' ' ')"
echo "map: open out/demo/map.html in a browser (it works offline)"
