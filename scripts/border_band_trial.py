"""Trial of a border band: the padded run inside, a run without the pad near the border.

    python scripts/border_band_trial.py --band 8 16 32 --crops-per-image 16 \
        -o docs/results/border_band_trial.json

The card's edge pad (black past the border) keeps the context the network was trained
with but makes it drop the vehicles a border cuts; without the pad it finds them and
scores the rest of a small image lower. This combines the two runs of the same images
after the fact: boxes within BAND model pixels of an image border from the run without
the pad, the others from the padded run, merged as the pipeline merges chips
(``merge_detections``, class-agnostic). It measures what a detector that ran such a band
would give, on the crops of ``scripts/border_recall.py`` (both label rules, from one
draw of crops) and on the whole held-out frames (car AP50, precision, recall and COCO
AP@[.5:.95], published labels and with the audit's ignore regions). Both runs here are
without the border strips the pipeline now runs (``--border-band 0``): this combines
whole runs after the fact, the measurement that decided for the strips.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from border_recall import AUDIT
from kit_frames import GSD, HELD_OUT, KIT

from skyscan.api import detect
from skyscan.detectors.card import load_card
from skyscan.detectors.merge import merge_detections
from skyscan.detectors.registry import resolve_model
from skyscan.evaluate.borders import (
    detect_crops,
    labelled_crops,
    near_border,
    score_crops,
)
from skyscan.evaluate.ignore import read_ignore_regions
from skyscan.evaluate.metrics import evaluate_detections
from skyscan.evaluate.run import SCORE_FLOOR, read_card_labels
from skyscan.labels.read import read_name_list
from skyscan.types import JsonObject

RULES = {"30 % rule": 0.3, "centre rule": 0.5}  # min_visible of each label rule


def banded(
    padded: tuple[np.ndarray, ...],
    flush: tuple[np.ndarray, ...],
    width: int,
    height: int,
    band_px: float,
) -> tuple[np.ndarray, ...]:
    """Detections (boxes, scores, then any per-box columns) within ``band_px`` of the
    border from ``flush``, the others from ``padded``, merged into one per object."""
    inner = ~near_border(padded[0], width, height, band_px)
    edge = near_border(flush[0], width, height, band_px)
    columns = [np.concatenate([p[inner], f[edge]]) for p, f in zip(padded, flush, strict=True)]
    n = len(columns[0])
    keep = merge_detections(columns[0], columns[1], np.zeros(n, np.int64), cut=np.zeros(n, bool))
    return tuple(c[keep] for c in columns)


def frame_detections(
    paths: list[str], model: str, edge_pad: int, index: dict[str, int]
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each whole frame's detections: boxes, scores and class indexes."""
    gdf = detect(
        paths, model=model, gsd=GSD, edge_pad=edge_pad, border_band=0, score_threshold=SCORE_FLOOR
    )
    return {
        p: (
            g[["px_xmin", "px_ymin", "px_xmax", "px_ymax"]].to_numpy(np.float64),
            g["score"].to_numpy(np.float64),
            g["class_name"].map(index).to_numpy(np.int64),
        )
        for p, g in gdf.groupby("image_path")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--band", type=float, nargs="+", default=[8.0, 16.0, 32.0])
    parser.add_argument("--model", default="vehicles")
    parser.add_argument("--crops-per-image", type=int, default=16)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    data = KIT.resolve()
    names = read_name_list(data / "splits" / HELD_OUT)
    card = load_card(resolve_model(args.model))
    threshold, pad = card.score_threshold, card.edge_pad
    to_image = card.gsd / GSD if card.gsd else 1.0  # model pixels to frame pixels
    crops = {
        rule: labelled_crops(
            data / "images",
            data / "labels",
            data / "classes.txt",
            card,
            names=names,
            crops_per_image=args.crops_per_image,
            min_visible=visible,
            unlabelled=AUDIT,
        )
        for rule, visible in RULES.items()
    }
    windows = next(iter(crops.values()))  # one draw: the rules differ in labels only
    runs = {
        p: detect_crops(
            windows, model=args.model, gsd=GSD, edge_pad=p, border_band=0, floor=threshold
        )
        for p in (pad, 0)
    }
    variants: dict[str, list[Any]] = {f"edge pad {pad}": runs[pad], "edge pad 0": runs[0]}
    for band in args.band:
        variants[f"band {band:g} model px"] = [
            banded(a, b, c.window[2], c.window[3], band * to_image)
            for a, b, c in zip(runs[pad], runs[0], windows, strict=True)
        ]
    crop_figures = {
        name: {
            rule: {
                k: v
                for k, v in score_crops(crops[rule], dets, threshold, threshold, 8.0, 0.5).items()
                if k.startswith(("recall_near", "recall_far", "labels_near", "precision"))
            }
            for rule in RULES
        }
        for name, dets in variants.items()
    }

    label_set = read_card_labels(
        data / "images", data / "labels", "yolo", card, classes=data / "classes.txt", names=names
    )
    paths = [im.image_path for im in label_set.images]
    index = {n: i for i, n in enumerate(card.class_names)}
    frames = {p: frame_detections(paths, args.model, p, index) for p in (pad, 0)}
    empty = (np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64))
    gts = [(im.boxes, im.labels) for im in label_set.images]
    audit = read_ignore_regions(AUDIT)

    def frame_scores(dets: list[Any]) -> JsonObject:
        out: JsonObject = {}
        for labels, ignore in (
            ("published", None),
            ("audited", [audit.for_image(p) for p in paths]),
        ):
            car = evaluate_detections(card.class_names, gts, dets, threshold, 0.5, ignore)["car"]
            out[labels] = {
                "car_ap50": round(car.ap50, 4),
                "car_precision": round(car.precision or 0.0, 4),
                "car_recall": round(car.recall or 0.0, 4),
                "car_coco_ap": round(car.ap50_95 or 0.0, 4),
            }
        return out

    frame_figures: JsonObject = {
        f"edge pad {p}": frame_scores([frames[p].get(path, empty) for path in paths])
        for p in (pad, 0)
    }
    for band in args.band:
        frame_figures[f"band {band:g} model px"] = frame_scores(
            [
                banded(
                    frames[pad].get(path, empty),
                    frames[0].get(path, empty),
                    im.width,
                    im.height,
                    band * to_image,
                )
                for im, path in zip(label_set.images, paths, strict=True)
            ]
        )

    result = {
        "model": card.model_id,
        "score_threshold": threshold,
        "frames": f"KIT AIS Munich {HELD_OUT} (held out from training)",
        "command": "python scripts/border_band_trial.py --band "
        + " ".join(f"{b:g}" for b in args.band)
        + f" --model {args.model} --crops-per-image {args.crops_per_image} -o {args.output}",
        "crops": {"count": len(windows), "by_variant": crop_figures},
        "whole_frames": frame_figures,
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for name in variants:
        c = crop_figures[name]
        f = frame_figures[name]
        print(
            f"{name:18s} crops: "
            + "; ".join(
                f"{rule} {c[rule]['recall_near_over_far']:.3f}x "
                f"({c[rule]['recall_near_over_far_95ci'][0]:.2f}-{c[rule]['recall_near_over_far_95ci'][1]:.2f})"
                for rule in RULES
            )
            + f", precision {c['centre rule']['precision']:.3f} | frames car AP50 published "
            f"{f['published']['car_ap50']:.4f}, audited {f['audited']['car_ap50']:.4f} "
            f"(P {f['audited']['car_precision']:.3f} R {f['audited']['car_recall']:.3f}, "
            f"COCO {f['audited']['car_coco_ap']:.3f})"
        )


if __name__ == "__main__":
    main()
