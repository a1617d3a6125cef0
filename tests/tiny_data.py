"""A tiny generated YOLO set: gray 'roads' with a few dark and light 'cars'."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_tiny_dataset(root: Path, n_images: int = 2) -> Path:
    """``root/images/s<i>.png``, ``root/labels/s<i>.txt`` and ``root/classes.txt``."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "classes.txt").write_text("car\ntruck\nbus\n")
    for i in range(n_images):
        rng = np.random.default_rng(i)
        img = np.full((96, 128, 3), 120, np.uint8)
        lines = []
        for k in range(3):
            x, y = 10 + 38 * k, int(rng.integers(10, 80))
            img[y : y + 8, x : x + 18] = 30 if k % 2 else 230
            lines.append(f"0 {(x + 9) / 128} {(y + 4) / 96} {18 / 128} {8 / 96}\n")
        Image.fromarray(img).save(root / "images" / f"s{i}.png")
        (root / "labels" / f"s{i}.txt").write_text("".join(lines))
    return root


def tiny_train_args(
    data: Path, model: Path, *extra: str, steps: int = 3, labels: Path | None = None
) -> list[str]:
    """``skyscan train`` arguments for a few steps on :func:`write_tiny_dataset`'s images
    (``data/images``, ``data/labels``), or on the images in ``data`` with ``labels``."""
    images = data / "images" if labels is None else data
    return [
        "train",
        str(images),
        "--labels",
        str(data / "labels" if labels is None else labels),
        "--format",
        "yolo",
        "--image-gsd",
        "0.25",
        "-o",
        str(model),
        "--steps",
        str(steps),
        "--batch",
        "2",
        "--chip",
        "64",
        "--input-size",
        "64",
        "--threads",
        "1",
        *extra,
    ]
