"""Turned copies of a labelled set: the boxes follow the pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from skyscan.evaluate.rotated import turn_boxes, write_turned_set
from skyscan.labels.read import read_labels


def _bright_box(img: np.ndarray) -> tuple[float, float, float, float]:
    ys, xs = np.nonzero(img[..., 0] > 127)
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


@pytest.mark.parametrize("degrees", [0.0, 30.0, 90.0, 135.0])
def test_turned_label_box_encloses_the_turned_rectangle(tmp_path: Path, degrees: float) -> None:
    w, h = 120, 60
    img = np.zeros((h, w, 3), np.uint8)
    x0, y0, x1, y1 = 20, 10, 50, 24  # a bright 30 x 14 "vehicle" off centre
    img[y0:y1, x0:x1] = 255
    (tmp_path / "im").mkdir()
    (tmp_path / "lb").mkdir()
    Image.fromarray(img).save(tmp_path / "im" / "a.png")
    line = f"0 {(x0 + x1) / 2 / w} {(y0 + y1) / 2 / h} {(x1 - x0) / w} {(y1 - y0) / h}"
    (tmp_path / "lb" / "a.txt").write_text(line + "\n")
    (tmp_path / "classes.txt").write_text("car\n")
    label_set = read_labels(
        tmp_path / "im", tmp_path / "lb", "yolo", classes=tmp_path / "classes.txt"
    )
    images, labels, _ = write_turned_set(label_set, degrees, tmp_path / "out")
    turned = np.asarray(Image.open(images / "a.png"))
    k, cx, cy, bw, bh = (labels / "a.txt").read_text().split()
    H, W = turned.shape[:2]
    box = (
        (float(cx) - float(bw) / 2) * W,
        (float(cy) - float(bh) / 2) * H,
        (float(cx) + float(bw) / 2) * W,
        (float(cy) + float(bh) / 2) * H,
    )
    assert k == "0"
    # the bright pixels' bounding box is the label box of the turned corners, within a pixel
    np.testing.assert_allclose(_bright_box(turned), box, atol=1.5)


def test_a_quarter_turn_swaps_the_box_sides_exactly() -> None:
    ((x0, y0, x1, y1),) = turn_boxes(
        np.array([[40.0, 40.0, 60.0, 60.0]]), (200, 100), (100, 200), 90.0
    )
    # 20 x 20 px box at (50, 50) of a 200 x 100 image; turned counter-clockwise it sits at (50, 150)
    assert ((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0) == pytest.approx((50, 150, 20, 20))
