"""CenterNet training targets from boxes (pure numpy).

For each box with centre (cx, cy) in input pixels, the centre cell is
``(i, j) = (floor(cy / stride), floor(cx / stride))``; the class heatmap gets an elliptic
Gaussian ``exp(-dx²/2σx² - dy²/2σy²)`` there with ``σ = max(0.5, size_in_cells / 6)``;
``offset`` = (cx / stride - j, cy / stride - i) and ``wh`` = log(size / stride) are set at
the centre cell (``reg_mask`` marks it). ``weight`` is 0 on cells whose centre lies in an
ignore region (and not in a verified vehicle-free one), see :func:`region_weight`: nothing
there is taught as background.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def encode(
    boxes: npt.NDArray[np.float32],
    labels: npt.NDArray[np.int64],
    num_classes: int,
    size: int,
    stride: int,
    weight: npt.NDArray[np.float32] | None = None,
) -> dict[str, npt.NDArray[np.float32]]:
    h = w = size // stride
    heat = np.zeros((num_classes, h, w), np.float32)
    wh = np.zeros((2, h, w), np.float32)
    off = np.zeros((2, h, w), np.float32)
    mask = np.zeros((1, h, w), np.float32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    for (x0, y0, x1, y1), c in zip(boxes, labels, strict=True):
        bw, bh = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
        cx, cy = (x0 + x1) / 2 / stride, (y0 + y1) / 2 / stride
        j, i = int(cx), int(cy)
        if not (0 <= i < h and 0 <= j < w):
            continue
        sx, sy = max(0.5, bw / stride / 6), max(0.5, bh / stride / 6)
        g = np.exp(-((xs - j) ** 2) / (2 * sx**2) - ((ys - i) ** 2) / (2 * sy**2))
        heat[c] = np.maximum(heat[c], g)
        heat[c, i, j] = 1.0
        if mask[0, i, j] and wh[0, i, j] > np.log(bw / stride):
            continue  # two centres in one cell: keep the larger box's size
        wh[:, i, j] = np.log([bw / stride, bh / stride])
        off[:, i, j] = (cx - j, cy - i)
        mask[0, i, j] = 1.0
    if weight is None:
        weight = np.ones((1, h, w), np.float32)
    return {"heatmap": heat, "wh": wh, "offset": off, "reg_mask": mask, "weight": weight}


def region_weight(
    chip_to_src: npt.NDArray[np.float64],
    size: int,
    stride: int,
    ignore: npt.NDArray[np.float32],
    vehicle_free: npt.NDArray[np.float32],
) -> npt.NDArray[np.float32]:
    """(1, H, W) loss weight of a chip's output cells: 0 where the cell centre, mapped into
    the source image, lies in an ignore region and in no vehicle-free region."""
    h = w = size // stride
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = (xs + 0.5) * stride, (ys + 0.5) * stride
    x = chip_to_src[0, 0] * u + chip_to_src[0, 1] * v + chip_to_src[0, 2]
    y = chip_to_src[1, 0] * u + chip_to_src[1, 1] * v + chip_to_src[1, 2]
    return labelled(x, y, ignore, vehicle_free)[None]


def labelled(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    ignore: npt.NDArray[np.float32],
    vehicle_free: npt.NDArray[np.float32],
) -> npt.NDArray[np.float32]:
    """1 where (x, y) counts as labelled: outside every ignore region, or inside a
    verified vehicle-free one; else 0."""
    return np.maximum(1.0 - inside_any(x, y, ignore), inside_any(x, y, vehicle_free))


def inside_any(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], regions: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """1 where (x, y) lies inside any xyxy region, else 0."""
    if len(regions) == 0:
        return np.zeros(np.shape(x), np.float32)
    r = regions.reshape(len(regions), 4, *([1] * np.ndim(x)))
    inside = (x >= r[:, 0]) & (x < r[:, 2]) & (y >= r[:, 1]) & (y < r[:, 3])
    return np.asarray(inside.any(axis=0), np.float32)
