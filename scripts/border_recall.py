"""Recall at image borders with and without the edge pad, under both label conventions.

    python scripts/border_recall.py --edge-pad 0 32 -o docs/results/border_recall.json

With ``--truncated-thresholds T ...`` each run also scores, from the same detections, rules
that keep a detection flagged ``truncated`` from a lower score T, on the crops and on the
whole frames (published labels with the audit's ignore regions): what near-border recall
such a rule buys and what it costs in precision.

Convention A, the clipped box is the label: crops of the held-out frames whose edges cut
through labelled vehicles (skyscan.evaluate.borders; the audited unlabelled vehicles where a
crop shows them are ignored, counted neither way). Convention B, the published labels,
which leave out most vehicles cut by the frame's border: ``skyscan evaluate`` on the whole
frames, as published and with the audited unlabelled vehicles as ignore regions
(docs/label_audit/kit_seqC_unlabelled.csv).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from functools import partial
from pathlib import Path

from kit_frames import GSD, HELD_OUT, KIT, ROOT, kit_report

from skyscan.evaluate.borders import border_recall
from skyscan.labels.read import read_name_list
from skyscan.options import DetectSettings

AUDIT = ROOT / "docs" / "label_audit" / "kit_seqC_unlabelled.csv"


def whole_frames(
    data: Path, split: str, model: str, pad: int, band: int | None, ignore: Path | None
) -> dict[str, object]:
    """Car figures of ``skyscan evaluate`` on the whole held-out frames."""
    settings = DetectSettings(model=model, gsd=GSD, edge_pad=pad)
    if band is not None:
        settings = replace(settings, border_band=band)
    report = kit_report(data, settings, split=split, ignore=ignore)
    car = report["classes"]["car"]
    return {
        "edge_pad": pad,
        "border_band": band,
        "labels": "published + audited ignore regions" if ignore else "published",
        "car_ap50": car["ap50"],
        "car_precision": car["precision"],
        "car_recall": car["recall"],
        "map50": report["map50"],
        "bus_ap50": report["classes"]["bus"]["ap50"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=KIT.resolve())
    parser.add_argument("--split", default=HELD_OUT, help="held-out frames (splits/)")
    parser.add_argument("--edge-pad", type=int, nargs="+", default=[0, 32])
    parser.add_argument(
        "--border-band",
        type=int,
        default=None,
        help="skyscan detect's --border-band (default: its default; 0: no border strips)",
    )
    parser.add_argument("--model", default="vehicles")
    parser.add_argument("--crops-per-image", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--min-visible",
        type=float,
        default=0.3,
        help="a cut vehicle is a label when this much of it is in the crop (less: ignored); "
        "0.5 is the centre rule, a vehicle belongs to the image that holds its centre",
    )
    parser.add_argument(
        "--truncated-thresholds",
        type=float,
        nargs="*",
        default=[],
        help="also score rules keeping detections flagged truncated from these lower scores",
    )
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    names = read_name_list(args.data / "splits" / args.split)
    # the crops' and the whole frames' runs share the frames, the model and the rules
    measure = partial(
        border_recall,
        args.data / "images",
        args.data / "labels",
        args.data / "classes.txt",
        names=names,
        gsd=GSD,
        model=args.model,
        unlabelled=AUDIT,
        truncated_thresholds=args.truncated_thresholds,
        border_band=args.border_band,
    )
    runs = [
        measure(
            edge_pad=pad,
            crops_per_image=args.crops_per_image,
            min_visible=args.min_visible,
            seed=args.seed,
        )
        for pad in args.edge_pad
    ]
    # the same rules on the whole frames: precision where borders are the frame's own
    frame_sweeps = (
        [measure(edge_pad=pad, crops_per_image=1, fraction=1.0) for pad in args.edge_pad]
        if args.truncated_thresholds
        else []
    )
    frames = [
        whole_frames(args.data, args.split, args.model, pad, args.border_band, ignore)
        for pad in args.edge_pad
        for ignore in (None, AUDIT)
    ]
    result = {
        "frames": f"KIT AIS Munich {args.split} (held out from training)",
        "gsd": 0.13,
        "command": "python scripts/border_recall.py "
        + " ".join(
            [
                "--edge-pad",
                *map(str, args.edge_pad),
                "--model",
                args.model,
                *(["--border-band", str(args.border_band)] if args.border_band is not None else []),
                *(["--min-visible", str(args.min_visible)] if args.min_visible != 0.3 else []),
                *(
                    ["--crops-per-image", str(args.crops_per_image)]
                    if args.crops_per_image != 4
                    else []
                ),
                *(["--seed", str(args.seed)] if args.seed else []),
                *(
                    ["--truncated-thresholds", *map(str, args.truncated_thresholds)]
                    if args.truncated_thresholds
                    else []
                ),
                "-o",
                str(args.output),
            ]
        ),
        "crops": {
            "label_convention": "A: the clipped box is the label (vehicles cut by the crop border are "
            f"labelled; those under {args.min_visible:.0%} visible and the audited unlabelled "
            "vehicles are ignored)",
            "runs": runs,
        },
        "whole_frames": {
            "label_convention": "B: the published labels (vehicles cut by the frame border "
            "mostly unlabelled)",
            "runs": frames,
        },
    }
    if frame_sweeps:
        result["whole_frames_class_agnostic"] = {
            "label_convention": "B with the audit: published labels, the audited unlabelled "
            "vehicles ignored; matching class-agnostic, as on the crops",
            "runs": frame_sweeps,
        }
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for run in runs:
        print(
            f"edge_pad {run['edge_pad']}: recall near {run['recall_near']:.3f} "
            f"(cut {run['recall_near_cut']:.3f}, whole {run['recall_near_whole']:.3f}) "
            f"far {run['recall_far']:.3f} "
            f"ratio {run['recall_near_over_far']:.3f} "
            f"(95 % interval over frames {run['recall_near_over_far_95ci']}) "
            f"precision {run['precision']:.3f}"
        )
        for rule in run.get("truncated_threshold_sweep", []):
            print(
                f"  truncated from {rule['truncated_threshold']}: recall near "
                f"{rule['recall_near']:.3f} ratio {rule['recall_near_over_far']:.3f} "
                f"precision {rule['precision']:.3f}"
            )
    for run in frame_sweeps:
        print(f"edge_pad {run['edge_pad']} whole frames, audited, class-agnostic:")
        for rule in [run, *run.get("truncated_threshold_sweep", [])]:
            print(
                f"  truncated from {rule.get('truncated_threshold', run['score_threshold'])}: "
                f"precision {rule['precision']:.3f} recall {rule['recall']:.3f}"
            )
    for run in frames:
        print(
            f"edge_pad {run['edge_pad']} whole frames, {run['labels']}: car AP50 {run['car_ap50']:.4f} "
            f"precision {run['car_precision']:.4f} recall {run['car_recall']:.4f}"
        )


if __name__ == "__main__":
    main()
