"""A tiny reviewed scene: two georeferenced GeoTIFFs with bright 'cars' and their detections."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rasters import utm_transform, write_geotiff

# (image, xmin, ymin, xmax, ymax, class, score): four real cars and one false positive
DETECTIONS = [
    ("a.tif", 40, 40, 58, 48, "car", 0.95),
    ("a.tif", 100, 60, 118, 68, "car", 0.80),
    ("a.tif", 200, 150, 230, 162, "truck", 0.70),
    ("a.tif", 300, 200, 318, 208, "bus", 0.40),  # nothing there: to be rejected
    ("b.tif", 20, 30, 38, 38, "car", 0.60),
]
MISSED = ("a.tif", 150, 100, 168, 108)  # a car no detection found


def write_scene(root: Path) -> tuple[Path, Path]:
    """Images in ``root/images`` and ``root/detections.parquet``; returns both paths."""
    images = root / "images"
    images.mkdir(parents=True)
    for name, size in (("a.tif", (400, 256)), ("b.tif", (128, 96))):
        data = np.full((3, size[1], size[0]), 90, np.uint8)
        for im, x0, y0, x1, y1, *_ in [*DETECTIONS[:3], DETECTIONS[4], (*MISSED,)]:
            if im == name:
                data[:, y0:y1, x0:x1] = 230
        write_geotiff(images / name, size[0], size[1], data=data, transform=utm_transform(0.25))
    frame = pd.DataFrame(
        {
            "image_path": [str(images / d[0]) for d in DETECTIONS],
            "detection_id": [f"{d[0][0]}:{i}" for i, d in enumerate(DETECTIONS)],
            "class_name": [d[5] for d in DETECTIONS],
            "score": np.array([d[6] for d in DETECTIONS], np.float32),
            "px_xmin": [float(d[1]) for d in DETECTIONS],
            "px_ymin": [float(d[2]) for d in DETECTIONS],
            "px_xmax": [float(d[3]) for d in DETECTIONS],
            "px_ymax": [float(d[4]) for d in DETECTIONS],
        }
    )
    table = root / "detections.parquet"
    frame.to_parquet(table)
    return images, table
