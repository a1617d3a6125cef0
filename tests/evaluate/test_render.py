"""Detections drawn on their image: class colours at the box edges, 16-bit stretched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from rasters import write_geotiff
from skyscan.evaluate.render import draw_detections, read_display


def test_draw_detections_colours_and_scale(tmp_path: Path) -> None:
    Image.fromarray(np.full((20, 30, 3), 90, np.uint8)).save(tmp_path / "a.png")
    det = pd.DataFrame(
        {
            "px_xmin": [2.0, 15.0],
            "px_ymin": [2.0, 5.0],
            "px_xmax": [10.0, 25.0],
            "px_ymax": [8.0, 15.0],
            "class_name": ["car", "bus"],
        }
    )
    out = draw_detections(tmp_path / "a.png", det, tmp_path / "out.png", scale=2.0, width=1)
    img = np.asarray(Image.open(out))
    assert img.shape == (40, 60, 3)
    assert tuple(img[4, 10]) == (255, 0, 0)  # top edge of the car box (y=2*2, x inside)
    assert tuple(img[10, 40]) == (255, 255, 255)  # top edge of the bus box
    assert tuple(img[30, 5]) == (90, 90, 90)  # untouched background


def test_read_display_stretches_16_bit(tmp_path: Path) -> None:
    data = np.linspace(1000, 3000, 16 * 16).reshape(1, 16, 16).astype(np.uint16)
    path = write_geotiff(tmp_path / "pan.tif", 16, 16, count=1, dtype="uint16", data=data)
    rgb = read_display(path)
    assert rgb.shape == (16, 16, 3) and rgb.dtype == np.uint8
    assert rgb.min() == 0 and rgb.max() == 255
