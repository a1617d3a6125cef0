"""The false positives of one class on a labelled set, and how many touch the image border.

Runs the real pipeline (``skyscan.detect``) and matches detections to labels as the metric
does (:func:`skyscan.evaluate.metrics.match_image`, IoU 0.5). This is how the edge pad of
docs/model.md was found: the top false positives on KIT seqC were vehicles cut by the
image border, which the labels leave out.

    python scripts/false_positives.py ../shared/data/kit-ais-munich/images \
        --labels ../shared/data/kit-ais-munich/labels --classes ../shared/data/kit-ais-munich/classes.txt \
        --list ../shared/data/kit-ais-munich/splits/seqC_MunichStreet02-MOS74-93.txt --gsd 0.13 --edge-pad 0

``--border-px N --csv OUT.csv --sheet OUT.jpg`` keeps the false positives within N px of
the image border (less the regions of ``--ignore``, e.g. an earlier audit) and writes them
as a numbered list and a contact sheet of crops (the box drawn), to be judged by eye:
this is how the border audit of docs/label_audit/ was made.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import skyscan
from skyscan.detectors.card import load_card
from skyscan.detectors.registry import resolve_model
from skyscan.evaluate.ignore import IgnoreRegions, read_ignore_regions
from skyscan.evaluate.metrics import match_image
from skyscan.evaluate.run import SCORE_FLOOR
from skyscan.labels import ClassMapping
from skyscan.labels.read import read_labels, read_name_list


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("images", type=Path)
    ap.add_argument("--labels", type=Path, required=True)
    ap.add_argument("--classes", type=Path, default=None)
    ap.add_argument("--list", dest="name_list", type=Path, default=None)
    ap.add_argument("--model", default="vehicles")
    ap.add_argument("--gsd", type=float, default=None)
    ap.add_argument("--edge-pad", type=int, default=None)
    ap.add_argument("--cls", default="car")
    ap.add_argument("--threshold", type=float, default=0.3)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--border-px", type=float, default=None)
    ap.add_argument("--ignore", type=Path, default=None, help="regions already judged (CSV)")
    ap.add_argument("--csv", type=Path, default=None)
    ap.add_argument("--sheet", type=Path, default=None)
    args = ap.parse_args()
    card = load_card(resolve_model(args.model))
    names = read_name_list(args.name_list) if args.name_list else None
    label_set = read_labels(
        args.images,
        args.labels,
        "yolo",
        classes=args.classes,
        names=names,
        mapping=ClassMapping.for_targets(tuple(card.class_names)),
    )
    k = label_set.classes.index(args.cls)
    gdf = skyscan.detect(
        [im.image_path for im in label_set.images],
        model=args.model,
        gsd=args.gsd,
        edge_pad=args.edge_pad,
        score_threshold=min(SCORE_FLOOR, args.threshold),
    )
    # detected as `skyscan evaluate` detects (down to its floor), then cut at the threshold
    gdf = gdf[(gdf["class_name"] == args.cls) & (gdf["score"] >= args.threshold)]
    rows = []
    for im in label_set.images:
        det = gdf[gdf["image_path"] == str(Path(im.image_path).resolve())]
        boxes = det[["px_xmin", "px_ymin", "px_xmax", "px_ymax"]].to_numpy()
        scores = det["score"].to_numpy()
        tp = match_image(boxes, scores, im.boxes[im.labels == k])
        for (x0, y0, x1, y1), score in zip(boxes[~tp], scores[~tp], strict=True):
            border = min(x0, y0, im.width - x1, im.height - y1)
            rows.append(
                (
                    float(score),
                    Path(im.image_path).name,
                    float(border),
                    (round(x0), round(y0), round(x1), round(y1)),
                )
            )
    rows.sort(reverse=True)
    if args.border_px is not None:
        regions = read_ignore_regions(args.ignore) if args.ignore else None
        rows = [r for r in rows if r[2] <= args.border_px and not judged(r, regions)]
        write_candidates(rows, args.images, args.csv, args.sheet)
    touching = sum(border <= 1.0 for _, _, border, _ in rows)
    print(
        f"{args.cls} false positives >= {args.threshold}: {len(rows)}; touching the image border (<= 1 px): {touching}"
    )
    for score, name, border, box in rows[: args.top]:
        print(f"  {score:.3f}  {name}  {border:6.1f} px from the border  {box}")
    if rows:
        print(
            f"scores of the {args.top} highest: {np.round([r[0] for r in rows[: args.top]], 2).tolist()}"
        )


def judged(row: tuple[float, str, float, tuple[int, ...]], regions: IgnoreRegions | None) -> bool:
    """Whether the box's centre lies in one of ``regions`` of its image (already judged)."""
    if regions is None:
        return False
    _, name, _, (x0, y0, x1, y1) = row
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    r = regions.for_image(name)
    return bool(((r[:, 0] <= cx) & (cx <= r[:, 2]) & (r[:, 1] <= cy) & (cy <= r[:, 3])).any())


def write_candidates(
    rows: list[tuple[float, str, float, tuple[int, ...]]],
    images: Path,
    csv_out: Path | None,
    sheet: Path | None,
    context: int = 24,
    tile: int = 160,
    cols: int = 8,
) -> None:
    """The candidates as a numbered CSV and a contact sheet of crops with the box drawn."""
    import csv

    from PIL import Image, ImageDraw

    if csv_out is not None:
        with csv_out.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["n", "image", "xmin", "ymin", "xmax", "ymax", "score"])
            for n, (score, name, _, box) in enumerate(rows):
                w.writerow([n, name, *box, round(score, 3)])
    if sheet is None or not rows:
        return
    out = Image.new("RGB", (cols * tile, -(-len(rows) // cols) * tile), "black")
    opened: dict[str, Image.Image] = {}
    for n, (_, name, _, (x0, y0, x1, y1)) in enumerate(rows):
        if name not in opened:
            opened[name] = Image.open(images / name).convert("RGB")
        img = opened[name]
        side = max(x1 - x0, y1 - y0) + 2 * context
        cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
        crop = img.crop((cx - side // 2, cy - side // 2, cx + side // 2, cy + side // 2))
        draw = ImageDraw.Draw(crop)
        ox, oy = cx - side // 2, cy - side // 2
        draw.rectangle((x0 - ox, y0 - oy, x1 - ox, y1 - oy), outline="yellow")
        crop = crop.resize((tile, tile))
        ImageDraw.Draw(crop).text((3, 3), str(n), fill="red")
        out.paste(crop, ((n % cols) * tile, (n // cols) * tile))
    out.save(sheet, quality=90)


if __name__ == "__main__":
    main()
