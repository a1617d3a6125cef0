"""Contact sheet of the regions in an ignore-region CSV, so anyone can check a label audit.

    python scripts/audit_sheet.py docs/label_audit/kit_seqC_unlabelled.csv \
        ../shared/data/kit-ais-munich/images docs/images/label_audit_kit_seqC.jpg
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from PIL import Image, ImageDraw

TILE, CONTEXT, COLS = 120, 40, 7


def main(regions_csv: str, images_dir: str, out: str) -> None:
    with Path(regions_csv).open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    sheet = Image.new("RGB", (COLS * TILE, -(-len(rows) // COLS) * TILE), "white")
    for k, row in enumerate(rows):
        im = Image.open(Path(images_dir) / row["image"]).convert("RGB")
        x0, y0, x1, y1 = (float(row[c]) for c in ("xmin", "ymin", "xmax", "ymax"))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        win = (int(cx - CONTEXT), int(cy - CONTEXT), int(cx + CONTEXT), int(cy + CONTEXT))
        f = TILE / (2 * CONTEXT)
        tile = im.crop(win).resize((TILE, TILE), Image.LANCZOS)
        draw = ImageDraw.Draw(tile)
        draw.rectangle(
            ((x0 - win[0]) * f, (y0 - win[1]) * f, (x1 - win[0]) * f, (y1 - win[1]) * f),
            outline="yellow",
        )
        draw.text((2, TILE - 12), row["image"].rsplit("-", 1)[-1].split(".")[0], fill="yellow")
        sheet.paste(tile, ((k % COLS) * TILE, (k // COLS) * TILE))
    sheet.save(out, quality=85)


if __name__ == "__main__":
    main(*sys.argv[1:4])
