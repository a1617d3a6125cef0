"""Turn raw model outputs into per-chip detections, one decoder per card output format.

All decoders return boxes in chip (model input) pixels, xyxy, filtered by the score
threshold; per-chip NMS is applied by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from skyscan.detectors.card import ModelCard
from skyscan.errors import ModelError
from skyscan.types import ChipDetections

FloatArray = npt.NDArray[np.float32]

# Peaks kept per chip before thresholding; far above any real count of vehicles in a chip.
MAX_PEAKS_PER_CHIP = 512


def _local_maxima(
    heat: FloatArray, score_threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(b, c, i, j)`` of cells at least ``score_threshold`` that no 3x3 neighbour exceeds.

    The same cells as ``heat == max_pool3x3(heat)``, but only the few cells above the
    threshold are compared with their neighbours instead of max-pooling every cell;
    neighbour indices are clipped at the edge instead of padding a copy of the heatmap.
    """
    b, c, i, j = np.unravel_index(np.flatnonzero(heat >= score_threshold), heat.shape)
    if len(b):
        h, w = heat.shape[2:]
        value = heat[b, c, i, j]
        peak = np.ones(len(b), bool)
        for dy in (-1, 0, 1):
            rows = np.clip(i + dy, 0, h - 1)
            for dx in (-1, 0, 1):
                if dy or dx:
                    # a neighbour clipped at the edge is the cell itself or one compared
                    # already: the same as padding the heatmap with -inf
                    peak &= value >= heat[b, c, rows, np.clip(j + dx, 0, w - 1)]
        b, c, i, j = b[peak], c[peak], i[peak], j[peak]
    return b, c, i, j


def decode_centernet(
    outputs: Mapping[str, np.ndarray], card: ModelCard, score_threshold: float
) -> list[ChipDetections]:
    """CenterNet heads: a peak in ``heatmap`` is an object centre.

    centre_x = (j + offset_x) * stride, centre_y = (i + offset_y) * stride; the box is
    centre ± wh / 2, in input pixels, its sides scaled by the card's ``box_scale``. The
    whole batch is decoded at once.
    """
    try:
        heat = np.asarray(outputs["heatmap"], np.float32)
        wh = np.asarray(outputs["wh"], np.float32)
        off = np.asarray(outputs["offset"], np.float32)
    except KeyError as exc:
        raise ModelError(
            f"model {card.model_id}: card says output format 'centernet' but the model has no "
            f"output {exc.args[0]!r} (outputs: {sorted(outputs)})"
        ) from exc
    n, c, h, _w = heat.shape
    if c != len(card.classes):
        raise ModelError(
            f"model {card.model_id}: heatmap has {c} classes but the card lists {len(card.classes)}"
        )
    # a model of one input size: its stride is that size over the heatmap's; a model of any
    # size (chips larger than its native input) has the card's stride
    stride = card.stride if card.size_multiple else card.input_size[0] / h
    b, cls, ii, jj = _local_maxima(heat, score_threshold)
    scores = heat[b, cls, ii, jj]
    class_scores = heat[b, :, ii, jj].astype(np.float32).reshape(-1, c)
    cx = (jj + off[b, 0, ii, jj]) * stride
    cy = (ii + off[b, 1, ii, jj]) * stride
    bw, bh = scale_sides(wh[b, 0, ii, jj], wh[b, 1, ii, jj], card.box_scale)
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1).astype(
        np.float32
    )
    scores = scores.astype(np.float32)
    labels = cls.astype(np.int64)
    bounds = np.searchsorted(b, np.arange(n + 1))  # np.nonzero returns b in order
    results = []
    for k in range(n):
        sl = slice(bounds[k], bounds[k + 1])
        chip = ChipDetections(boxes[sl], scores[sl], labels[sl], class_scores[sl])
        if len(chip) > MAX_PEAKS_PER_CHIP:
            chip = chip.take(np.argsort(-chip.scores, kind="stable")[:MAX_PEAKS_PER_CHIP])
        results.append(chip)
    return results


def scale_sides(
    w: FloatArray, h: FloatArray, box_scale: tuple[float, float]
) -> tuple[FloatArray, FloatArray]:
    """Box sides (at least 1 px) with each box's longer side times ``box_scale[0]`` and its
    shorter side times ``box_scale[1]`` (a square box: both by their mean).

    >>> [v.tolist() for v in scale_sides(np.array([20.0, 8.0, 10.0]), np.array([8.0, 20.0, 10.0]), (1.0, 0.5))]
    [[20.0, 4.0, 7.5], [4.0, 20.0, 7.5]]
    """
    longer, shorter = box_scale
    square = (longer + shorter) / 2
    fw = np.where(w > h, longer, np.where(w < h, shorter, square))
    fh = np.where(h > w, longer, np.where(h < w, shorter, square))
    return np.maximum(w * fw, 1.0).astype(w.dtype), np.maximum(h * fh, 1.0).astype(h.dtype)


def decode_boxes(
    outputs: Mapping[str, np.ndarray], card: ModelCard, score_threshold: float
) -> list[ChipDetections]:
    """End-to-end detectors: ``boxes`` (N,K,4) xyxy, ``scores`` (N,K), ``labels`` (N,K)."""
    try:
        boxes = np.asarray(outputs["boxes"], np.float32)
        scores = np.asarray(outputs["scores"], np.float32)
        labels = np.asarray(outputs["labels"]).astype(np.int64)
    except KeyError as exc:
        raise ModelError(
            f"model {card.model_id}: card says output format 'boxes' but the model has no "
            f"output {exc.args[0]!r} (outputs: {sorted(outputs)})"
        ) from exc
    if boxes.ndim != 3 or boxes.shape[-1] != 4:
        raise ModelError(f"model {card.model_id}: 'boxes' must be (N, K, 4) (got {boxes.shape})")
    results = []
    for b in range(boxes.shape[0]):
        keep = scores[b] >= max(score_threshold, 1e-12)
        lab = labels[b][keep]
        if lab.size and (lab.min() < 0 or lab.max() >= len(card.classes)):
            raise ModelError(
                f"model {card.model_id}: label {int(lab.max())} outside the card's "
                f"{len(card.classes)} classes"
            )
        results.append(ChipDetections(boxes[b][keep], scores[b][keep], lab))
    return results


def decode_chip_classifier(
    outputs: Mapping[str, np.ndarray], card: ModelCard, score_threshold: float
) -> list[ChipDetections]:
    """One label per chip: the detection is the whole chip, scored by the class probability."""
    probs = np.asarray(outputs.get("probs", next(iter(outputs.values()))), np.float32)
    if probs.ndim != 2 or probs.shape[1] != len(card.classes):
        raise ModelError(
            f"model {card.model_id}: classifier output must be (N, {len(card.classes)}) "
            f"(got {probs.shape})"
        )
    h, w = card.input_size
    whole = np.array([[0.0, 0.0, float(w), float(h)]], np.float32)
    names = card.class_names
    results = []
    for row in probs:
        k = int(np.argmax(row))
        if names[k] == "background" or row[k] < score_threshold:
            results.append(ChipDetections.empty())
        else:
            results.append(
                ChipDetections(whole.copy(), row[k : k + 1].copy(), np.array([k], np.int64))
            )
    return results


DECODERS = {
    "centernet": decode_centernet,
    "boxes": decode_boxes,
    "chip_classifier": decode_chip_classifier,
}
