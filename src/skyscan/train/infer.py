"""Whole-image inference with the torch model, for validation *during training* only.

The network is fully convolutional, so a validation image resampled to the model GSD is
run in one pass and decoded like the ``centernet`` card format (3×3 peak picking, top-K,
threshold). The shipped evaluation (:mod:`skyscan.evaluate`) uses the real pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from skyscan.train.model import STRIDE, CenterNet, decode_raw

if TYPE_CHECKING:
    from skyscan.train.data import TrainImage

# boxes (xyxy), scores and labels of one image
Detections = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]


def decode(
    heat: torch.Tensor,
    wh: torch.Tensor,
    off: torch.Tensor,
    top_k: int = 500,
    min_score: float = 0.01,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Peaks of one image's (C, h, w) sigmoid heatmap → xyxy boxes (input pixels), scores, labels."""
    _c, h, w = heat.shape
    peaks = heat * (F.max_pool2d(heat[None], 3, 1, 1)[0] == heat).float()
    scores, idx = peaks.flatten().topk(min(top_k, peaks.numel()))
    keep = scores >= min_score
    scores, idx = scores[keep], idx[keep]
    cls = idx // (h * w)
    pix = idx % (h * w)
    i, j = pix // w, pix % w
    cx = (j.float() + off[0, i, j]) * STRIDE
    cy = (i.float() + off[1, i, j]) * STRIDE
    bw, bh = wh[0, i, j], wh[1, i, j]
    boxes = torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
    return boxes.double().numpy(), scores.double().numpy(), cls.long().numpy()


def predictions(
    net: CenterNet, images: Sequence[TrainImage]
) -> tuple[list[tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]], list[Detections]]:
    """Each image's labels and ``net``'s detections on it (eval mode), for the metrics."""
    net.eval()
    gts = [(im.boxes.astype(np.float64), im.labels) for im in images]
    return gts, [predict_image(net, im.pixels) for im in images]


@torch.no_grad()
def predict_image(
    net: CenterNet, pixels: npt.NDArray[np.uint8], mean: float = 0.0, std: float = 255.0
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Detections on one image already at the model GSD (boxes in its pixels)."""
    h, w = pixels.shape[:2]
    ph, pw = -h % 32, -w % 32
    x = torch.from_numpy(pixels).permute(2, 0, 1).float()[None]
    x = F.pad((x - mean) / std, (0, pw, 0, ph))
    heat, wh, off = decode_raw(*net(x))
    return decode(heat[0], wh[0], off[0])
