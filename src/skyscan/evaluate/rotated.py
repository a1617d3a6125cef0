"""Score a model on rotated copies of a labelled set: does it find vehicles at every heading?

A validation street runs one way, so its vehicles point one way (in KIT seqC mostly along
the image's y axis). Real scenes (crossroads, roundabouts, car parks) do not. This writes
copies of the images turned by each angle (the canvas grows to hold the whole image; the
new corners are black, as outside any image), turns the boxes with them (labels in any
format :func:`skyscan.labels.read.read_labels` reads, written out as YOLO) and runs
the real ``skyscan evaluate`` pipeline on each copy. A turned box becomes the axis-aligned
box of its turned corners, the convention the model was trained with
(:mod:`skyscan.train.augment`); at 90° that box is exact.

    skyscan evaluate IMAGES --labels LABELS --format yolo [--classes CLASSES] [--list NAMES] \\
        [--gsd 0.13] [--model vehicles] [--edge-pad N] --angles 0,30,45,60,90 -o report.json
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from skyscan.errors import InputError
from skyscan.labels.types import LabelSet
from skyscan.options import DetectSettings
from skyscan.types import JsonObject

log = logging.getLogger(__name__)


def turn_points(
    points: npt.NDArray[np.float64],
    size: tuple[int, int],
    new_size: tuple[int, int],
    degrees: float,
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


def turn_boxes(
    boxes: npt.NDArray[np.float64], size: tuple[int, int], new_size: tuple[int, int], degrees: float
) -> npt.NDArray[np.float64]:
    """xyxy pixel ``boxes`` of a ``size`` image as the axis-aligned boxes of their corners
    turned with it (see :func:`turn_points`)."""
    if len(boxes) == 0:
        return boxes.reshape(0, 4)
    x0, y0, x1, y1 = boxes.T
    corners = np.stack(
        [
            np.stack([x0, y0], 1),
            np.stack([x1, y0], 1),
            np.stack([x1, y1], 1),
            np.stack([x0, y1], 1),
        ],
        1,
    )
    p = turn_points(corners.reshape(-1, 2), size, new_size, degrees).reshape(-1, 4, 2)
    return np.concatenate([p.min(axis=1), p.max(axis=1)], axis=1)


def write_turned_set(
    label_set: LabelSet, degrees: float, out: Path, prefix: str = ""
) -> tuple[Path, Path, Path]:
    """Turned copies (PNG, named ``prefix + stem``) of a label set's images, their boxes as
    YOLO files in the set's target classes, and that class list; returns the three paths."""
    from PIL import Image

    for sub in ("images", "labels"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    class_file = out / "classes.txt"
    class_file.write_text("\n".join(label_set.classes) + "\n", encoding="utf-8")
    for im in label_set.images:
        stem = prefix + Path(im.image_path).stem
        with Image.open(im.image_path) as src:
            rgb = src.convert("RGB")
        turned = rgb.rotate(
            degrees, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=(0, 0, 0)
        )
        turned.save(out / "images" / f"{stem}.png")
        boxes = turn_boxes(im.boxes, rgb.size, turned.size, degrees)
        w, h = turned.size
        lines = [
            f"{k} {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} {(x1 - x0) / w:.6f} {(y1 - y0) / h:.6f}"
            for k, (x0, y0, x1, y1) in zip(im.labels.tolist(), boxes.tolist(), strict=True)
        ]
        (out / "labels" / f"{stem}.txt").write_text(
            "".join(line + "\n" for line in lines), encoding="utf-8"
        )
    return out / "images", out / "labels", class_file


def evaluate_turned(
    images: Path,
    labels: Path,
    fmt: str,
    angles: Sequence[float],
    *,
    classes: Path | None = None,
    names: Sequence[str] | None = None,
    settings: DetectSettings | None = None,
    iou_threshold: float = 0.5,
    overrides: list[str] | None = None,
    allow_missing: bool = False,
) -> JsonObject:
    """``skyscan evaluate`` on copies of a labelled set (any format ``read_labels`` reads)
    turned by each of ``angles`` (degrees), and on all of them pooled:
    ``{"images": n, "angles": {"30": scores, ...}, "pooled": scores}``, where scores are
    ``{"map50": float, "classes": {name: {ap50, precision, recall, n_labels, n_detections}}}``."""
    from skyscan.detectors.card import load_card
    from skyscan.detectors.registry import resolve_model
    from skyscan.evaluate.run import evaluate, read_card_labels

    settings = settings or DetectSettings()
    if not angles:
        raise InputError("'angles' must name at least one angle")
    card = load_card(resolve_model(settings.model))
    label_set = read_card_labels(
        images,
        labels,
        fmt,
        card,
        classes=classes,
        names=list(names) if names is not None else None,
        overrides=overrides,
        allow_missing=allow_missing,
    )

    def scores(turned: tuple[Path, Path, Path]) -> JsonObject:
        data = evaluate(
            turned[0],
            turned[1],
            "yolo",
            classes=turned[2],
            settings=settings,
            iou_threshold=iou_threshold,
        ).to_dict()
        return {
            "map50": data["map50"],
            "classes": {
                k: {
                    m: v.get(m) for m in ("ap50", "precision", "recall", "n_labels", "n_detections")
                }
                for k, v in data["classes"].items()
                if v.get("n_labels")
            },
        }

    results: JsonObject = {}
    with tempfile.TemporaryDirectory(prefix="skyscan-turned-") as tmp:
        for angle in angles:
            key = f"{angle:g}"
            # each angle alone, then all of them together (the set "at all orientations")
            results[key] = scores(write_turned_set(label_set, angle, Path(tmp) / key))
            pooled = write_turned_set(label_set, angle, Path(tmp) / "all", prefix=f"a{key}_")
            log.info(
                "turned %s°: mAP50 %.4f, car AP50 %s",
                key,
                results[key]["map50"],
                results[key]["classes"].get("car", {}).get("ap50"),
            )
        results_all = scores(pooled)
    return {"images": len(label_set.images), "angles": results, "pooled": results_all}
