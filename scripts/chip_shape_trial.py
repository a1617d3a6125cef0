"""Why the chip fitted to a small image is square: the held-out KIT frames (668 x 196 model
px) scored in one chip of their own shape with the edge pad, against one square chip.

    python scripts/chip_shape_trial.py -o docs/results/chip_shape_kit_seqC.json

"own shape" replaces ``skyscan.pipeline.fitted_window`` for the run with a chip of the
frame's shape plus the card's edge pad each way (736 x 264 px), the plan tried before the
square one; "square" is ``--chip-size 736``, one 736 px chip per frame, the frame centred.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kit_frames import GSD, HELD_OUT, KIT, kit_report

import skyscan.pipeline
from skyscan.chips import chip_size_in_source
from skyscan.detectors.card import ModelCard
from skyscan.options import DetectSettings
from skyscan.types import ChipWindow, ImageRef


def own_shape(ref: ImageRef, card: ModelCard, chip_size: int | None, pad: int) -> ChipWindow:
    """A chip of the image's shape plus ``pad`` model px each way, the image centred."""
    to_model = ref.gsd / card.gsd if ref.gsd and card.gsd else 1.0
    out_w = card.whole_multiple(ref.width * to_model + 2 * pad)
    out_h = card.whole_multiple(ref.height * to_model + 2 * pad)
    src_w = chip_size_in_source(out_w, ref.gsd, card.gsd)
    src_h = chip_size_in_source(out_h, ref.gsd, card.gsd)
    return ChipWindow(
        (ref.width - src_w) // 2, (ref.height - src_h) // 2, src_w, src_h, out_w, out_h
    )


def car(data: Path, chip_size: int | None) -> dict[str, object]:
    report = kit_report(data, DetectSettings(gsd=GSD, chip_size=chip_size))
    c = report["classes"]["car"]
    return {k: c[k] for k in ("ap50", "ap50_95", "precision", "recall", "n_detections")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=KIT.resolve())
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    square = car(args.data, 736)
    shipped = skyscan.pipeline.fitted_window
    skyscan.pipeline.fitted_window = own_shape  # type: ignore[assignment]
    try:
        shaped = car(args.data, None)
    finally:
        skyscan.pipeline.fitted_window = shipped
    result = {
        "frames": f"KIT AIS Munich {HELD_OUT} (held out), published labels, card threshold",
        "command": f"python scripts/chip_shape_trial.py -o {args.output}",
        "own_shape_736x264": shaped,
        "square_736": square,
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
