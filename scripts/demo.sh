#!/usr/bin/env bash
# Set up everything and run the main job on real georeferenced imagery from ../shared/data:
# detections (GeoParquet, GeoJSON), errors table, run manifest and an offline map in out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
DATA=${SKYSCAN_SHARED_DATA:-../shared/data}
.venv/bin/skyscan detect \
  "$DATA/georef/orthophotos/201404_13SED190110_201404_0x1500m_CL_1.tif" \
  "$DATA/georef/spacenet/pan1.tif" "$DATA/georef/spacenet/pan2.tif" "$DATA/georef/spacenet/pan3.tif" \
  "$DATA/georef/swissimage-zurich/tiles" \
  -o out/demo --overwrite --map "$@" || [[ $? == 3 ]]
echo "outputs: $(ls out/demo | tr '\n' ' ')"
echo "open out/demo/map.html in a browser"
