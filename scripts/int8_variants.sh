#!/usr/bin/env bash
# The int8 variants compared in docs/model.md ("int8 variant"): each quantized from the
# shipped model with calibration chips from its training images (the data.json that
# scripts/train_vehicles.sh wrote for it) and scored on KIT seqC at the card's edge pad.
#   bash scripts/int8_variants.sh     # prints: name, options, car AP50, bus AP50, mAP50
set -euo pipefail
cd "$(dirname "$0")/.."
KIT=${SKYSCAN_SHARED_DATA:-../shared/data}/kit-ais-munich
SPEC=${SPEC:-runs/ft_centre_nosensor/data.json}
OUT=${OUT:-runs/int8_variants}
mkdir -p "$OUT"
while read -r name options; do
  # shellcheck disable=SC2086  # options are separate flags
  .venv/bin/skyscan -q quantize src/skyscan/detectors/models/vehicles.onnx --data "$SPEC" -o "$OUT/$name.onnx" --overwrite $options 2>/dev/null
  .venv/bin/skyscan -q evaluate "$KIT/images" --labels "$KIT/labels" --format yolo --classes "$KIT/classes.txt" \
    --list "$KIT/splits/seqC_MunichStreet02-MOS74-93.txt" --gsd 0.13 --model "$OUT/$name.onnx" \
    -o "$OUT/$name.eval.json" --overwrite 2>/dev/null
  .venv/bin/python -c "import json,sys; d=json.load(open(sys.argv[1])); print(sys.argv[2], sys.argv[3], round(d['classes']['car']['ap50'], 4), round(d['classes']['bus']['ap50'], 4), round(d['map50'], 4))" \
    "$OUT/$name.eval.json" "$name" "$options"
done <<'VARIANTS'
minmax --calibration minmax --quantize-stem
percentile --calibration percentile --quantize-stem
entropy --calibration entropy --quantize-stem
symmetric --calibration minmax --quantize-stem --symmetric-activations
minmax_float_stem --calibration minmax
percentile_float_stem --calibration percentile
symmetric_float_stem --calibration minmax --symmetric-activations
percentile_symmetric_float_stem --calibration percentile --symmetric-activations
VARIANTS
