"""Score a model on rotated copies of a labelled set: does it find vehicles at every heading?

A validation street runs one way, so its vehicles point one way (in KIT seqC mostly along
the image's y axis). Real scenes (crossroads, roundabouts, car parks) do not. This writes
copies of the images turned by each angle (the canvas grows to hold the whole image; the
new corners are black, as outside any image), turns the YOLO boxes with them and runs
the real ``skyscan evaluate`` pipeline on each copy. A turned box becomes the axis-aligned
box of its turned corners, the convention the model was trained with
(:mod:`skyscan.train.augment`); at 90° that box is exact.

    python -m skyscan.evaluate.rotated IMAGES --labels LABELS --classes CLASSES \\
        [--list NAMES] [--gsd 0.13] [--model vehicles] [--edge-pad N] [--angles 0,30,45,60,90] -o report.json
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from skyscan.errors import InputError

log = logging.getLogger(__name__)


def turn_points(
    points: npt.NDArray[np.float64], size: tuple[int, int], new_size: tuple[int, int], degrees: float
) -> npt.NDArray[np.float64]:
    """Pixel ``points`` (N, 2; x right, y down) of a ``size`` (w, h) image, after the image is
    turned ``degrees`` counter-clockwise as seen (PIL's ``rotate``) onto a ``new_size`` canvas
    centred on it."""
    t = math.radians(degrees)
    c, s = math.cos(t), math.sin(t)
    d = points - np.array([size[0] / 2, size[1] / 2])
    x = d[:, 0] * c + d[:, 1] * s
    y = -d[:, 0] * s + d[:, 1] * c
    return np.stack([x + new_size[0] / 2, y + new_size[1] / 2], axis=1)


def turn_yolo_lines(lines: Sequence[str], size: tuple[int, int], new_size: tuple[int, int], degrees: float) -> list[str]:
    """YOLO label lines (class cx cy w h, normalised) of the turned image."""
    out = []
    w, h = size
    for line in lines:
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 5:
            raise InputError(f"a YOLO line must have 5 fields (got {line!r})")
        k, cx, cy, bw, bh = parts[0], *(float(v) for v in parts[1:])
        x0, x1 = (cx - bw / 2) * w, (cx + bw / 2) * w
        y0, y1 = (cy - bh / 2) * h, (cy + bh / 2) * h
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
        p = turn_points(corners, size, new_size, degrees)
        nx0, ny0 = p.min(axis=0)
        nx1, ny1 = p.max(axis=0)
        nw, nh = new_size
        out.append(f"{k} {(nx0 + nx1) / 2 / nw:.6f} {(ny0 + ny1) / 2 / nh:.6f} {(nx1 - nx0) / nw:.6f} {(ny1 - ny0) / nh:.6f}")
    return out


def write_turned_set(
    images: Path, labels: Path, names: Sequence[str], degrees: float, out: Path, prefix: str = ""
) -> tuple[Path, Path]:
    """Turned copies of ``names`` (PNG, named ``prefix + stem``) and their YOLO labels under ``out``."""
    from PIL import Image

    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    for name in names:
        src = images / name
        label = labels / f"{Path(name).stem}.txt"
        if not src.is_file() or not label.is_file():
            raise InputError(f"{src}: image or its label file {label.name} is missing")
        with Image.open(src) as im:
            rgb = im.convert("RGB")
            turned = rgb.rotate(degrees, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=(0, 0, 0))
            turned.save(out / "images" / f"{prefix}{Path(name).stem}.png")
            lines = turn_yolo_lines(label.read_text(encoding="utf-8").splitlines(), rgb.size, turned.size, degrees)
        (out / "labels" / f"{prefix}{Path(name).stem}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out / "images", out / "labels"


def evaluate_turned(
    images: Path, labels: Path, classes: Path, angles: Sequence[float], *, names: Sequence[str] | None = None,
    model: str = "vehicles", gsd: float | None = None, chip_size: int | None = None, edge_pad: int | None = None,
) -> dict[str, Any]:
    """``skyscan evaluate`` on copies of the set turned by each of ``angles`` (degrees)."""
    from skyscan.evaluate.run import evaluate

    names = list(names) if names is not None else sorted(p.name for p in images.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".tif"})
    if not names:
        raise InputError(f"{images}: no images to turn")
    def scores(turned_images: Path, turned_labels: Path) -> dict[str, Any]:
        data = evaluate(turned_images, turned_labels, "yolo", classes=classes, model=model, gsd=gsd,
                        chip_size=chip_size, edge_pad=edge_pad).to_dict()
        return {"map50": data["map50"],
                "classes": {k: {m: v.get(m) for m in ("ap50", "precision", "recall", "n_labels", "n_detections")}
                            for k, v in data["classes"].items() if v.get("n_labels")}}

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="skyscan-turned-") as tmp:
        for angle in angles:
            key = f"{angle:g}"
            # each angle alone, then all of them together (the set "at all orientations")
            alone = Path(tmp) / key
            results[key] = scores(*write_turned_set(images, labels, names, angle, alone))
            write_turned_set(images, labels, names, angle, Path(tmp) / "all", prefix=f"a{key}_")
            log.info("turned %s°: mAP50 %.4f, car AP50 %s", key, results[key]["map50"],
                     results[key]["classes"].get("car", {}).get("ap50"))
        pooled = scores(Path(tmp) / "all" / "images", Path(tmp) / "all" / "labels")
    return {"images": len(names), "angles": results, "pooled": pooled}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", type=Path)
    ap.add_argument("--labels", type=Path, required=True)
    ap.add_argument("--classes", type=Path, required=True)
    ap.add_argument("--list", dest="name_list", type=Path, default=None)
    ap.add_argument("--model", default="vehicles")
    ap.add_argument("--gsd", type=float, default=None)
    ap.add_argument("--chip-size", type=int, default=None)
    ap.add_argument("--edge-pad", type=int, default=None)
    ap.add_argument("--angles", default="0,30,45,60,90")
    ap.add_argument("-o", "--output", type=Path, required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from skyscan.labels.read import read_name_list

    names = read_name_list(args.name_list) if args.name_list else None
    angles = [float(a) for a in args.angles.split(",")]
    result = evaluate_turned(args.images, args.labels, args.classes, angles, names=names, model=args.model,
                             gsd=args.gsd, chip_size=args.chip_size, edge_pad=args.edge_pad)
    result["command"] = "python -m skyscan.evaluate.rotated " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for angle, r in [*result["angles"].items(), ("all", result["pooled"])]:
        car = r["classes"].get("car", {})
        print(f"{angle:>5}°  car AP50 {car.get('ap50')}  P {car.get('precision')}  R {car.get('recall')}  mAP50 {r['map50']:.4f}")


if __name__ == "__main__":
    main()
