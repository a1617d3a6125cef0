"""False vehicles per hectare on labelled vehicle-free regions (data/labels/negative_regions.csv).

    python scripts/negatives_fp.py data/labels/negative_regions.csv ../shared/data/georef \
        -o docs/results/real_world_negatives.json [--model vehicles] [--edge-pad N] \
        [--thresholds 0.3,0.5]

Each image named in the CSV is found under the imagery folder (recursively, by file name)
and run once through ``skyscan.detect`` at a low score floor; a detection counts against a
region when its box centre lies inside the region. Reported per region, per kind of
ground (water, forest, fields, ...) and pooled: detections of any class and of class car,
per hectare, at each threshold (the model card's first); pooled also by the CSV's
``split`` column when it has one.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

FLOOR = 0.05


def read_regions(path: str | Path) -> list[dict[str, Any]]:
    with Path(path).open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        for c in ("xmin", "ymin", "xmax", "ymax", "area_ha"):
            r[c] = float(r[c])
    return rows


def find_image(root: Path, name: str) -> Path:
    hits = sorted(p for p in root.rglob(name) if p.is_file())
    if not hits:
        raise SystemExit(f"{name}: not found under {root}")
    return hits[0]


def count(dets: Any, region: dict[str, Any], threshold: float) -> tuple[int, int, int]:
    """Detections centred in ``region`` at ``threshold``: all, cars, and those touching the
    image border (``truncated``: what an edge pad changes most)."""
    cx = (dets.px_xmin + dets.px_xmax) / 2
    cy = (dets.px_ymin + dets.px_ymax) / 2
    inside = (
        (cx >= region["xmin"])
        & (cx < region["xmax"])
        & (cy >= region["ymin"])
        & (cy < region["ymax"])
    )
    sel = dets[inside & (dets.score >= threshold)]
    return len(sel), int((sel.class_name == "car").sum()), int(sel.truncated.sum())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("regions")
    ap.add_argument("imagery")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--model", default="vehicles")
    ap.add_argument("--edge-pad", type=int, default=None)
    ap.add_argument("--tta", type=int, default=1, help="views per chip (skyscan --tta)")
    ap.add_argument(
        "--thresholds", default=None, help="comma-separated; default: the card's threshold and 0.5"
    )
    args = ap.parse_args(argv)

    import skyscan
    from skyscan.detectors.card import load_card
    from skyscan.detectors.registry import resolve_model

    card = load_card(resolve_model(args.model)).score_threshold
    thresholds = [float(t) for t in args.thresholds.split(",")] if args.thresholds else [card, 0.5]
    regions = read_regions(args.regions)
    root = Path(args.imagery)
    by_image: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in regions:
        by_image[r["image"]].append(r)

    out_regions = []
    for name, regs in by_image.items():
        path = find_image(root, name)
        dets = skyscan.detect(
            path, model=args.model, score_threshold=FLOOR, edge_pad=args.edge_pad, tta=args.tta
        )
        for r in regs:
            row = {
                k: r.get(k)
                for k in (
                    "image",
                    "split",
                    "xmin",
                    "ymin",
                    "xmax",
                    "ymax",
                    "kind",
                    "area_ha",
                    "note",
                )
            }
            for t in thresholds:
                n_all, n_car, n_cut = count(dets, r, t)
                row[f"at_{t:g}"] = {"detections": n_all, "car": n_car, "truncated": n_cut}
            out_regions.append(row)

    def pool(rows: list[dict[str, Any]]) -> dict[str, Any]:
        area = sum(r["area_ha"] for r in rows)
        res: dict[str, Any] = {"area_ha": round(area, 4), "regions": len(rows)}
        for t in thresholds:
            n_all = sum(r[f"at_{t:g}"]["detections"] for r in rows)
            n_car = sum(r[f"at_{t:g}"]["car"] for r in rows)
            res[f"at_{t:g}"] = {
                "detections": n_all,
                "car": n_car,
                "truncated": sum(r[f"at_{t:g}"]["truncated"] for r in rows),
                "per_ha": round(n_all / area, 3),
                "car_per_ha": round(n_car / area, 3),
            }
        return res

    kinds: dict[str, list[dict[str, Any]]] = defaultdict(list)
    images: dict[str, list[dict[str, Any]]] = defaultdict(list)
    splits: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in out_regions:
        kinds[r["kind"]].append(r)
        images[r["image"]].append(r)
        if r["split"]:
            splits[r["split"]].append(r)
    report = {
        "model": args.model,
        "edge_pad": args.edge_pad,
        "thresholds": thresholds,
        "rule": "a detection counts against a region when its box centre lies inside it",
        "command": "python scripts/negatives_fp.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "pooled": pool(out_regions),
        "by_kind": {k: pool(v) for k, v in sorted(kinds.items())},
        "by_split": {k: pool(v) for k, v in sorted(splits.items())},
        "by_image": {k: pool(v) for k, v in sorted(images.items())},
        "regions": out_regions,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(report["pooled"]))
    return report


if __name__ == "__main__":
    main()
