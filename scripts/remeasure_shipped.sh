#!/usr/bin/env bash
# Re-measure every figure of the shipped models that the docs quote, with the commands that
# first made them: after a change meant to move detections (new weights, a card's
# box_scale or threshold, a new merge). Writes docs/results/*.json, the cards' metrics
# (--record-in-card), tests/data/reference_detections.csv and the held-out street's PR plot;
# about 12 min on 2 cores.
# The docs' tables are then brought in line with the reports by hand.
#   bash scripts/remeasure_shipped.sh
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH
D=${SKYSCAN_SHARED_DATA:-../shared/data}; K=$D/kit-ais-munich
KIT="$K/images --labels $K/labels --format yolo --classes $K/classes.txt --list $K/splits/seqC_MunichStreet02-MOS74-93.txt --gsd 0.13"
AUDIT="--ignore-regions docs/label_audit/kit_seqC_unlabelled.csv"
NEG="python scripts/negatives_fp.py $PWD/data/labels/negative_regions.csv $D/georef"
failed=0
run() { echo "=== $(date +%T) $*"; "$@" || { echo "FAILED: $*"; failed=1; }; }
mkdir -p runs/cards
for model in vehicles vehicles-int8; do
  suffix=${model#vehicles}; suffix=${suffix:+_int8}
  run skyscan -q evaluate $KIT --model $model -o docs/results/kit_seqC_eval$suffix.json --record-in-card kit_seqC --overwrite
  run skyscan -q evaluate $KIT --model $model $AUDIT -o runs/cards/eval_kit_seqC_audited_$model.json --record-in-card kit_seqC_audited --overwrite
done
run python scripts/border_recall.py --edge-pad 0 32 --model vehicles -o docs/results/border_recall.json
run python scripts/border_recall.py --edge-pad 0 32 --model vehicles --min-visible 0.5 -o docs/results/border_recall_centre_rule.json
run python scripts/border_recall.py --edge-pad 0 32 --model vehicles --crops-per-image 16 -o docs/results/border_recall_320_crops.json
run python scripts/border_recall.py --edge-pad 0 32 --model vehicles --crops-per-image 16 --min-visible 0.5 -o docs/results/border_recall_centre_rule_320_crops.json
run python scripts/border_recall.py --edge-pad 0 32 --model vehicles --truncated-thresholds 0.35 0.3 0.25 0.2 0.15 0.1 -o docs/results/border_truncated_threshold.json
run python scripts/real_world_baseline.py $D/georef -o docs/results/real_world_baseline.json
run $NEG -o docs/results/real_world_baseline_negatives.json --model vehicles
run python scripts/real_world_baseline.py $D/georef --score-threshold 0.3 -o docs/results/real_world_baseline_t030.json
run $NEG -o docs/results/real_world_baseline_t030_negatives.json --model vehicles
# the validation places' F1-best point (skyscan set-threshold takes it into the card)
run python scripts/split_report.py docs/results/real_world_baseline_t030.json --split validation -o docs/results/threshold_validation_places.json
for pad in 32 0; do
  run skyscan -q evaluate $KIT --edge-pad $pad --angles 0,15,30,45,60,75,90,135,180,270 -o docs/results/rotated_kit_seqC_edge_pad_$pad.json --overwrite
done
run python scripts/real_world_baseline.py $D/georef -o docs/results/real_world_baseline_int8.json --model vehicles-int8
run $NEG -o docs/results/real_world_baseline_int8_negatives.json --model vehicles-int8
run python scripts/real_world_baseline.py $D/georef -o docs/results/real_world_baseline_edge_pad_0.json --edge-pad 0
run $NEG -o docs/results/real_world_baseline_edge_pad_0_negatives.json --model vehicles --edge-pad 0
for n in 2 4; do
  run skyscan -q evaluate $KIT --tta $n -o docs/results/kit_seqC_eval_tta$n.json --overwrite
  run skyscan -q evaluate $KIT --tta $n $AUDIT -o docs/results/kit_seqC_eval_tta${n}_audited.json --overwrite
  run python scripts/real_world_baseline.py $D/georef --tta $n -o docs/results/real_world_baseline_tta$n.json
  run $NEG -o docs/results/real_world_baseline_tta${n}_negatives.json --model vehicles --tta $n
done
run env SKYSCAN_UPDATE_REFERENCE=1 python -m pytest -q -p no:cacheprovider tests/e2e/test_reference_detections.py
cp docs/results/kit_seqC_eval.png docs/images/pr_kit_seqC.png  # the plot docs/model.md shows
rm -f docs/results/kit_seqC_eval_tta*.png  # plots evaluate writes beside reports no page shows
echo "=== $(date +%T) done$( ((failed)) && echo ', with failures above')"
exit $failed
