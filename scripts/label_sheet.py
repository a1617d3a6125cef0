"""Views for labelling real imagery by eye (data/labels/README.md).

    # magnified grid crops of an image (or a pixel window of it) with candidate
    # detections drawn and numbered and pixel ticks every 10 px, to search for misses
    python scripts/label_sheet.py grid IMAGE -o DIR [--window X0,Y0,X1,Y1] [--cell 160]
        [--scale 4] [--detections detections.parquet] [--min-score 0.1]
    # contact sheet of numbered crops, one per labelled box (drawn), to verify every box
    python scripts/label_sheet.py sheet IMAGE LABELS.txt CLASSES.txt -o sheet.jpg [--context 12]
    # the whole image (or window) reduced, with labels, ignore and negative regions drawn
    python scripts/label_sheet.py overview IMAGE -o out.jpg [--labels TXT --classes F
        --ignore CSV --negatives CSV --max-side 1400]

Images are read with rasterio; one-band images (panchromatic) are stretched from their
0.5 to 99.5 percentiles, more than three bands are cut to RGB.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS = {"car": "yellow", "truck": "orange", "bus": "magenta"}


def read_rgb(path: str | Path) -> Image.Image:
    """The image as 8-bit RGB (stretched when not uint8)."""
    import rasterio

    with rasterio.open(path) as src:
        arr = src.read(indexes=list(range(1, min(src.count, 3) + 1)))
    if arr.shape[0] == 1:
        arr = np.repeat(arr, 3, axis=0)
    if arr.dtype != np.uint8:
        lo, hi = np.percentile(arr, (0.5, 99.5))
        arr = ((arr.astype(np.float64) - lo) / max(hi - lo, 1) * 255).clip(0, 255).astype(np.uint8)
    return Image.fromarray(np.moveaxis(arr, 0, -1))


def read_yolo(
    txt: str | Path, classes: list[str], width: int, height: int
) -> list[tuple[str, float, float, float, float]]:
    """(class, xmin, ymin, xmax, ymax) in pixels from a YOLO txt."""
    out = []
    for line in Path(txt).read_text(encoding="utf-8").splitlines():
        p = line.split()
        if len(p) != 5:
            continue
        c, cx, cy, w, h = int(p[0]), *(float(v) for v in p[1:])
        out.append(
            (
                classes[c],
                (cx - w / 2) * width,
                (cy - h / 2) * height,
                (cx + w / 2) * width,
                (cy + h / 2) * height,
            )
        )
    return out


def read_regions(path: str | Path, image_name: str) -> list[tuple[str, float, float, float, float]]:
    """(note, xmin, ymin, xmax, ymax) of an ignore or negative region CSV, for one image."""
    with Path(path).open(encoding="utf-8") as fh:
        return [
            (
                r.get("note") or r.get("kind") or "",
                *(float(r[c]) for c in ("xmin", "ymin", "xmax", "ymax")),
            )
            for r in csv.DictReader(fh)
            if r["image"] == image_name
        ]


def candidates(
    parquet: str, image: str, min_score: float
) -> list[tuple[str, float, float, float, float, float]]:
    """Detections of one image above min_score, duplicates across classes merged (IoU > 0.3)."""
    import pandas as pd

    df = pd.read_parquet(
        parquet,
        columns=["image_path", "class_name", "score", "px_xmin", "px_ymin", "px_xmax", "px_ymax"],
    )
    df = df[
        (df.image_path.map(lambda s: Path(s).name) == Path(image).name) & (df.score >= min_score)
    ]
    df = df.sort_values("score", ascending=False)
    kept: list[tuple[str, float, float, float, float, float]] = []
    for r in df.itertuples():
        b = (r.px_xmin, r.px_ymin, r.px_xmax, r.px_ymax)
        if all(_iou(b, k[2:]) <= 0.3 for k in kept):
            kept.append((r.class_name, float(r.score), *b))
    return kept


def _iou(a, b) -> float:  # type: ignore[no-untyped-def]
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def grid(args: argparse.Namespace) -> None:
    im = read_rgb(args.image)
    x0, y0, x1, y1 = (
        [int(v) for v in args.window.split(",")] if args.window else (0, 0, im.width, im.height)
    )
    cands = candidates(args.detections, args.image, args.min_score) if args.detections else []
    if args.labels:  # draw labelled boxes instead (score 1), to check them in place
        classes = Path(args.classes).read_text(encoding="utf-8").split()
        cands = [(c, 1.0, *b) for c, *b in read_yolo(args.labels, classes, im.width, im.height)]
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    rows = [("n", "class", "score", "xmin", "ymin", "xmax", "ymax")]
    for n, c in enumerate(cands):
        rows.append((str(n), c[0], f"{c[1]:.3f}", *(f"{v:.1f}" for v in c[2:])))
    with (out / "candidates.csv").open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    s, cell = args.scale, args.cell
    for cy in range(y0, y1, cell):
        for cx in range(x0, x1, cell):
            box = (cx, cy, min(cx + cell, x1), min(cy + cell, y1))
            tile = im.crop(box).resize(
                ((box[2] - box[0]) * s, (box[3] - box[1]) * s), Image.Resampling.LANCZOS
            )
            canvas = Image.new("RGB", (2 * tile.width + 50, tile.height + 20), "white")
            canvas.paste(tile, (40, 20))
            canvas.paste(tile, (50 + tile.width, 20))  # a clean copy beside the annotated one
            d = ImageDraw.Draw(canvas)
            for t in range((cx // 10) * 10, box[2] + 1, 10):
                if t >= cx:
                    X = 40 + (t - cx) * s
                    d.line((X, 12 if t % 50 == 0 else 16, X, 20), fill="black")
                    if t % 50 == 0:
                        d.text((X + 1, 0), str(t), fill="black")
            for t in range((cy // 10) * 10, box[3] + 1, 10):
                if t >= cy:
                    Y = 20 + (t - cy) * s
                    d.line((28 if t % 50 == 0 else 34, Y, 40, Y), fill="black")
                    if t % 50 == 0:
                        d.text((0, Y + 1), str(t), fill="black")
            for n, (cls, score, bx0, by0, bx1, by1) in enumerate(cands):
                if bx1 < box[0] or bx0 > box[2] or by1 < box[1] or by0 > box[3]:
                    continue
                col = "red" if score >= 0.3 else "cyan"
                d.rectangle(
                    (
                        40 + (bx0 - cx) * s,
                        20 + (by0 - cy) * s,
                        40 + (bx1 - cx) * s,
                        20 + (by1 - cy) * s,
                    ),
                    outline=col,
                )
                d.text((40 + (bx1 - cx) * s + 1, 20 + (by0 - cy) * s), f"{n}{cls[0]}", fill=col)
            canvas.save(out / f"grid_x{cx:05d}_y{cy:05d}.png")


def sheet(args: argparse.Namespace) -> None:
    im = read_rgb(args.image)
    classes = Path(args.classes).read_text(encoding="utf-8").split()
    boxes = read_yolo(args.labels, classes, im.width, im.height)
    tile_px, cols = args.tile, args.cols
    sheet_im = Image.new("RGB", (cols * tile_px, max(1, -(-len(boxes) // cols)) * tile_px), "white")
    for k, (cls, bx0, by0, bx1, by1) in enumerate(boxes):
        cx, cy = (bx0 + bx1) / 2, (by0 + by1) / 2
        half = max(bx1 - bx0, by1 - by0) / 2 + args.context
        win = (int(cx - half), int(cy - half), int(cx + half), int(cy + half))
        f = tile_px / (win[2] - win[0])
        tile = im.crop(win).resize((tile_px, tile_px), Image.Resampling.LANCZOS)
        d = ImageDraw.Draw(tile)
        d.rectangle(
            ((bx0 - win[0]) * f, (by0 - win[1]) * f, (bx1 - win[0]) * f, (by1 - win[1]) * f),
            outline=COLOURS[cls],
        )
        d.text((2, 2), f"{k} {cls}", fill=COLOURS[cls])
        sheet_im.paste(tile, ((k % cols) * tile_px, (k // cols) * tile_px))
    sheet_im.save(args.output, quality=80)


def overview(args: argparse.Namespace) -> None:
    im = read_rgb(args.image)
    x0, y0, x1, y1 = (
        [int(v) for v in args.window.split(",")] if args.window else (0, 0, im.width, im.height)
    )
    name = Path(args.image).name
    f = min(1.0 * args.scale, args.max_side / max(x1 - x0, y1 - y0))
    view = im.crop((x0, y0, x1, y1)).resize(
        (int((x1 - x0) * f), int((y1 - y0) * f)), Image.Resampling.LANCZOS
    )
    d = ImageDraw.Draw(view)

    def rect(b, col, width=1):  # type: ignore[no-untyped-def]
        d.rectangle(
            ((b[0] - x0) * f, (b[1] - y0) * f, (b[2] - x0) * f, (b[3] - y0) * f),
            outline=col,
            width=width,
        )

    for path, col in ((args.negatives, "lime"), (args.ignore, "blue")):
        for note, *b in read_regions(path, name) if path else []:
            rect(b, col, 2)
            d.text(((b[0] - x0) * f + 3, (b[1] - y0) * f + 2), note[:24], fill=col)
    if args.labels:
        classes = Path(args.classes).read_text(encoding="utf-8").split()
        for cls, *b in read_yolo(args.labels, classes, im.width, im.height):
            rect(b, COLOURS[cls])
    view.save(args.output, quality=80)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("grid")
    g.add_argument("image")
    g.add_argument("-o", "--output", required=True)
    g.add_argument("--window")
    g.add_argument("--cell", type=int, default=160)
    g.add_argument("--scale", type=int, default=4)
    g.add_argument("--detections")
    g.add_argument("--min-score", type=float, default=0.1)
    g.add_argument("--labels", help="YOLO txt to draw instead of detections")
    g.add_argument("--classes")
    s = sub.add_parser("sheet")
    s.add_argument("image")
    s.add_argument("labels")
    s.add_argument("classes")
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--context", type=float, default=12)
    s.add_argument("--tile", type=int, default=96)
    s.add_argument("--cols", type=int, default=10)
    o = sub.add_parser("overview")
    o.add_argument("image")
    o.add_argument("-o", "--output", required=True)
    o.add_argument("--window")
    o.add_argument("--labels")
    o.add_argument("--classes")
    o.add_argument("--ignore")
    o.add_argument("--negatives")
    o.add_argument("--scale", type=float, default=2.0)
    o.add_argument("--max-side", type=int, default=1400)
    args = ap.parse_args()
    {"grid": grid, "sheet": sheet, "overview": overview}[args.cmd](args)


if __name__ == "__main__":
    main()
