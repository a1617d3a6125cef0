"""Model pixels the default chip plan runs on some images, against fixed chip sizes: what
fitting each image's chips under the cap saves (docs/performance.md, *Chips fitted to each
image*). Plans only: nothing is read beyond the images' headers, no model runs.

    python scripts/chip_plans.py benchmarks/_work/real_10000.tif \\
        ../shared/data/georef/autzen/autzen.jpg \\
        ../shared/data/georef/orthophotos/pix4d_alpha_nodata.tif \\
        ../shared/data/kit-ais-munich/images/MunichStreet02-MOS74.png:0.13 \\
        -o docs/results/chip_plans.json

``PATH:GSD`` gives an image without georeferencing its ground sample distance.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from skyscan.detectors import DetectorRecipe, recipe_card
from skyscan.io.reader import ReadOptions, open_image
from skyscan.pipeline import DetectOptions, chip_plan, model_pixels, model_scale, plan_units

PLANS = {
    "default (fitted)": DetectOptions(),
    "--chip-size 512": DetectOptions(chip_size=512),
    "--chip-size 1024": DetectOptions(chip_size=1024),
}


CARD = recipe_card(DetectorRecipe())


def plan_row(spec: str) -> dict[str, Any]:
    path, _, gsd = spec.partition(":")
    ref = open_image(path, ReadOptions(gsd=float(gsd) if gsd else None))
    to_model = model_scale(ref, CARD)
    image_px = ref.width * ref.height * to_model**2
    row: dict[str, Any] = {
        "image": Path(path).name,
        "size_px": [ref.width, ref.height],
        "gsd_m": ref.gsd,
        "model_px": [round(ref.width * to_model), round(ref.height * to_model)],
        "default_chip_side": chip_plan(ref, CARD, DetectOptions())[0],
    }
    for name, options in PLANS.items():
        windows = [w for u in plan_units(ref, CARD, options) for w in u.windows]
        chips = [w for w in windows if not w.border_only]
        row[name] = {
            "chips": len(chips),
            "chip_sides": sorted({w.out_width for w in chips}),
            "strips": len(windows) - len(chips),
            "model_px_over_image_px": round(model_pixels(windows) / image_px, 3),
        }
    return row


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("images", nargs="+", help="PATH or PATH:GSD")
    ap.add_argument("-o", "--out", type=Path, required=True)
    args = ap.parse_args(argv)
    report = {
        "command": "python scripts/chip_plans.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "images": [plan_row(spec) for spec in args.images],
    }
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    for row in report["images"]:
        print(row["image"], {k: v["model_px_over_image_px"] for k, v in row.items() if k in PLANS})


if __name__ == "__main__":
    main()
