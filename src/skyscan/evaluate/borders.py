"""Recall at image borders: crops of labelled frames whose edges cut through vehicles.

A vehicle cut by an image's border is still a vehicle. This measures whether the pipeline
finds it: each labelled frame is cropped so that the crop's edges pass through labelled
vehicles, the clipped box is the label (slivers under ``min_visible`` of the vehicle are
ignore regions, counted neither way, as are the known unlabelled vehicles of an
``unlabelled`` audit), and recall within ``near_px`` of a crop border is compared with
recall elsewhere. Matching is class-agnostic (a vehicle found is found).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from skyscan.evaluate.ignore import read_ignore_regions
from skyscan.evaluate.metrics import ignored_flags, match_pairs
from skyscan.types import JsonObject

if TYPE_CHECKING:
    import pandas as pd

    from skyscan.detectors.card import ModelCard


@dataclass(frozen=True)
class Crop:
    """One crop of a labelled frame: its window and clipped labels, in crop pixels."""

    source: str
    window: tuple[int, int, int, int]  # col_off, row_off, width, height
    boxes: np.ndarray  # clipped labels kept as labels
    ignore: (
        np.ndarray
    )  # slivers and audited unlabelled vehicles: neither a miss nor a false positive
    visible: np.ndarray | None = None  # the share of each label's vehicle inside the crop


def plan_crops(
    image: str,
    width: int,
    height: int,
    boxes: np.ndarray,
    rng: np.random.Generator,
    *,
    n: int,
    fraction: float = 0.6,
    min_visible: float = 0.3,
    unlabelled: np.ndarray | None = None,
) -> list[Crop]:
    """``n`` crops of ``fraction`` of the frame, each with its left and top edge (or right
    and bottom) placed inside a random labelled vehicle, so that edges cut vehicles.
    ``unlabelled``: regions of vehicles the labels leave out (frame pixels), ignored where
    a crop shows them."""
    cw, ch = int(width * fraction), int(height * fraction)
    crops = []
    for _ in range(n):
        x0 = int(rng.integers(0, width - cw + 1))
        y0 = int(rng.integers(0, height - ch + 1))
        if len(boxes):
            bx = boxes[rng.integers(len(boxes))]
            by = boxes[rng.integers(len(boxes))]
            cx = bx[0] + rng.uniform(0.3, 0.7) * (bx[2] - bx[0])
            cy = by[1] + rng.uniform(0.3, 0.7) * (by[3] - by[1])
            # the vehicle's cut lands on the crop's left/top or right/bottom edge
            x0 = int(np.clip(round(cx) if rng.random() < 0.5 else round(cx) - cw, 0, width - cw))
            y0 = int(np.clip(round(cy) if rng.random() < 0.5 else round(cy) - ch, 0, height - ch))
        clipped = boxes - np.array([x0, y0, x0, y0], np.float64)
        clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, cw)
        clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, ch)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        visible = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
        frac = np.divide(visible, area, out=np.zeros_like(area), where=area > 0)
        ignore = clipped[(frac > 0) & (frac < min_visible)]
        if unlabelled is not None and len(unlabelled):
            shown = unlabelled - np.array([x0, y0, x0, y0], np.float64)
            shown[:, [0, 2]] = shown[:, [0, 2]].clip(0, cw)
            shown[:, [1, 3]] = shown[:, [1, 3]].clip(0, ch)
            keep = (shown[:, 2] > shown[:, 0]) & (shown[:, 3] > shown[:, 1])
            ignore = np.concatenate([ignore, shown[keep]])
        kept = frac >= min_visible
        crops.append(Crop(image, (x0, y0, cw, ch), clipped[kept], ignore, frac[kept]))
    return crops


# cut vehicles grouped by the share of them a crop shows: (name, from, below)
VISIBLE_BINS = (("under 0.5", 0.0, 0.5), ("0.5-0.7", 0.5, 0.7), ("0.7 and more", 0.7, 1.01))


def near_border(boxes: np.ndarray, width: int, height: int, near_px: float) -> np.ndarray:
    """Boxes within ``near_px`` of the image border."""
    return (
        (boxes[:, 0] <= near_px)
        | (boxes[:, 1] <= near_px)
        | (boxes[:, 2] >= width - near_px)
        | (boxes[:, 3] >= height - near_px)
    )


def border_recall(
    images: str | Path,
    labels: str | Path,
    classes: str | Path,
    *,
    names: list[str] | None = None,
    gsd: float | None = None,
    model: str = "vehicles",
    edge_pad: int | None = None,
    border_band: int | None = None,
    score_threshold: float | None = None,
    truncated_thresholds: Sequence[float] = (),
    crops_per_image: int = 4,
    fraction: float = 0.6,
    seed: int = 0,
    near_px: float = 8.0,
    min_visible: float = 0.3,
    iou_threshold: float = 0.5,
    unlabelled: str | Path | None = None,
) -> JsonObject:
    """Recall near crop borders against elsewhere, and precision, for one pipeline setting.
    ``unlabelled``: an ignore-region CSV of vehicles the labels leave out (an audit).
    ``truncated_thresholds``: also score, from the same run, each rule that keeps a
    detection flagged ``truncated`` from that lower score (``truncated_threshold_sweep``);
    the merge does not depend on the score floor, so one run at the lowest serves all.
    ``fraction`` 1.0 scores the whole frames (no crop, no cut)."""
    from skyscan.detectors.card import load_card
    from skyscan.detectors.registry import resolve_model
    from skyscan.pipeline import DetectOptions

    card = load_card(resolve_model(model))
    threshold = card.score_threshold if score_threshold is None else score_threshold
    crops = labelled_crops(
        images,
        labels,
        classes,
        card,
        names=names,
        crops_per_image=crops_per_image,
        fraction=fraction,
        seed=seed,
        min_visible=min_visible,
        unlabelled=unlabelled,
    )
    floor = min([threshold, *truncated_thresholds])
    detections = detect_crops(
        crops, model=model, gsd=gsd, edge_pad=edge_pad, border_band=border_band, floor=floor
    )
    options = DetectOptions(edge_pad=edge_pad, border_band=border_band)
    score = score_crops(crops, detections, threshold, threshold, near_px, iou_threshold)
    result: JsonObject = {
        "model": card.model_id,
        "edge_pad": options.edge_pad_for(card),
        "border_band": options.border_band_for(card),
        "score_threshold": threshold,
        "iou_threshold": iou_threshold,
        "near_px": near_px,
        "min_visible": min_visible,
        "unlabelled_ignored": str(unlabelled) if unlabelled is not None else None,
        "crops": len(crops),
        "crops_per_image": crops_per_image,
        "crop_fraction": fraction,
        "seed": seed,
        **score,
    }
    if truncated_thresholds:
        result["truncated_threshold_sweep"] = [
            {
                "truncated_threshold": t,
                **score_crops(crops, detections, threshold, t, near_px, iou_threshold),
            }
            for t in truncated_thresholds
        ]
    return result


Detections = tuple[np.ndarray, np.ndarray, np.ndarray]  # boxes, scores, truncated flags


def labelled_crops(
    images: str | Path,
    labels: str | Path,
    classes: str | Path,
    card: ModelCard,
    *,
    names: list[str] | None = None,
    crops_per_image: int = 4,
    fraction: float = 0.6,
    seed: int = 0,
    min_visible: float = 0.3,
    unlabelled: str | Path | None = None,
) -> list[Crop]:
    """The crops of :func:`plan_crops` over every labelled frame (YOLO labels); the same
    ``seed`` draws the same windows whatever ``min_visible``."""
    from skyscan.evaluate.run import read_card_labels

    label_set = read_card_labels(images, labels, "yolo", card, classes=classes, names=names)
    audit = read_ignore_regions(unlabelled) if unlabelled is not None else None
    rng = np.random.default_rng(seed)
    return [
        c
        for im in label_set.images
        for c in plan_crops(
            im.image_path,
            im.width,
            im.height,
            im.boxes,
            rng,
            n=crops_per_image,
            fraction=fraction,
            min_visible=min_visible,
            unlabelled=audit.for_image(im.image_path) if audit is not None else None,
        )
    ]


def detect_crops(
    crops: Sequence[Crop],
    *,
    model: str,
    gsd: float | None,
    edge_pad: int | None,
    floor: float,
    border_band: int | None = None,
) -> list[Detections]:
    """Each crop cut out as an image of its own and run through ``skyscan.api.detect``
    (``edge_pad``, ``border_band``: None for the defaults)."""
    from PIL import Image

    import skyscan.api

    with tempfile.TemporaryDirectory(prefix="skyscan-borders-") as tmp:
        paths: list[str] = []
        for k, crop in enumerate(crops):
            x0, y0, w, h = crop.window
            paths.append(str(Path(tmp) / f"crop{k:04d}.png"))
            with Image.open(crop.source) as im:
                im.convert("RGB").crop((x0, y0, x0 + w, y0 + h)).save(paths[-1])
        gdf = skyscan.api.detect(
            paths,
            model=model,
            gsd=gsd,
            edge_pad=edge_pad,
            border_band=border_band,
            score_threshold=floor,
        )
    found = {p: g for p, g in gdf.groupby("image_path")} if len(gdf) else {}
    return [crop_detections(found.get(path)) for path in paths]


def crop_detections(g: pd.DataFrame | None) -> Detections:
    """One crop's detected boxes (crop pixels), scores and ``truncated`` flags."""
    if g is None:
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, bool)
    return (
        g[["px_xmin", "px_ymin", "px_xmax", "px_ymax"]].to_numpy(np.float64),
        g["score"].to_numpy(np.float64),
        g["truncated"].to_numpy(bool),
    )


# per-crop counts: [found, labelled] near / far / cut / whole, then each visible bin
_HIT_KEYS = ("near", "far", "cut", "whole", *(name for name, _, _ in VISIBLE_BINS))


def _crop_hits(
    crop: Crop,
    detections: Detections,
    threshold: float,
    truncated_threshold: float,
    near_px: float,
    iou_threshold: float,
) -> tuple[np.ndarray, tuple[int, int, int]]:
    """One crop's ``[found, labelled]`` per :data:`_HIT_KEYS` and its (true positives,
    false positives, true positives flagged truncated)."""
    boxes, scores, trunc = detections
    keep = scores >= np.where(trunc, truncated_threshold, threshold)
    boxes, scores, trunc = boxes[keep], scores[keep], trunc[keep]
    label_of = match_pairs(boxes, scores, crop.boxes, iou_threshold)
    is_tp = label_of >= 0
    matched_gt = np.zeros(len(crop.boxes), bool)
    matched_gt[label_of[is_tp]] = True
    ignored = ignored_flags(boxes, crop.ignore) & ~is_tp
    near = near_border(crop.boxes, crop.window[2], crop.window[3], near_px)
    cut = near & near_border(crop.boxes, crop.window[2], crop.window[3], 0.5)
    # "cut": near labels the crop's edge cuts, "whole": near but uncut; the cut ones by
    # the share of the vehicle inside the crop (under a half, its centre is out)
    visible = crop.visible if crop.visible is not None else np.full(len(crop.boxes), np.nan)
    selections = [near, ~near, cut, near & ~cut] + [
        cut & (visible >= lo) & (visible < hi) for _, lo, hi in VISIBLE_BINS
    ]
    hits = np.array([[matched_gt[sel].sum(), sel.sum()] for sel in selections], np.int64)
    counts = (int(is_tp.sum()), int((~is_tp & ~ignored).sum()), int((is_tp & trunc).sum()))
    return hits, counts


def _ratio(hits: np.ndarray) -> float | None:
    """Recall near the border over recall elsewhere from summed hits (None if undefined)."""
    (near_found, near_n), (far_found, far_n) = hits[0], hits[1]
    if not near_n or not far_n or not far_found:
        return None
    return float((near_found / near_n) / (far_found / far_n))


def ratio_interval(
    sources: Sequence[str], hits: Sequence[np.ndarray], rounds: int = 2000, seed: int = 0
) -> tuple[float, float] | None:
    """95 % bootstrap interval of the near/far recall ratio, resampling whole frames:
    crops of one frame share its vehicles, so they are not independent draws."""
    frames = sorted(set(sources))
    if len(frames) < 2:
        return None
    per_frame = np.stack(
        [
            sum((h for s, h in zip(sources, hits, strict=True) if s == f), np.zeros_like(hits[0]))
            for f in frames
        ]
    )
    rng = np.random.default_rng(seed)
    ratios = [
        r
        for r in (
            _ratio(per_frame[rng.integers(len(frames), size=len(frames))].sum(axis=0))
            for _ in range(rounds)
        )
        if r is not None
    ]
    if not ratios:
        return None
    lo, hi = np.percentile(ratios, [2.5, 97.5])
    return float(lo), float(hi)


def score_crops(
    crops: list[Crop],
    detections: list[Detections],
    threshold: float,
    truncated_threshold: float,
    near_px: float,
    iou_threshold: float,
) -> JsonObject:
    """Recall near the crop borders and elsewhere, and precision, for the detections kept
    at ``threshold`` (``truncated_threshold`` for those flagged ``truncated``), with a
    bootstrap interval of the near/far ratio over the frames the crops were cut from."""
    per_crop = [
        _crop_hits(crop, found, threshold, truncated_threshold, near_px, iou_threshold)
        for crop, found in zip(crops, detections, strict=True)
    ]
    hits = sum((h for h, _ in per_crop), np.zeros((len(_HIT_KEYS), 2), np.int64))
    tp, fp, truncated_tp = (sum(c[k] for _, c in per_crop) for k in range(3))
    recall = {
        key: (int(found) / int(n) if n else None)
        for key, (found, n) in zip(_HIT_KEYS, hits, strict=True)
    }
    count = dict(zip(_HIT_KEYS, (int(n) for _, n in hits), strict=True))
    interval = ratio_interval([c.source for c in crops], [h for h, _ in per_crop])
    return {
        "labels_near": count["near"],
        "labels_far": count["far"],
        "recall_near": recall["near"],
        "recall_far": recall["far"],
        "recall_near_over_far": _ratio(hits),
        "recall_near_over_far_95ci": list(interval) if interval is not None else None,
        # of the near labels: the ones the crop's edge cuts, and the whole ones beside it
        "labels_near_cut": count["cut"],
        "recall_near_cut": recall["cut"],
        "recall_near_whole": recall["whole"],
        "recall_near_cut_by_visible": {
            name: {"labels": count[name], "recall": recall[name]} for name, _, _ in VISIBLE_BINS
        },
        "recall": int(hits[0, 0] + hits[1, 0]) / max(1, int(hits[0, 1] + hits[1, 1])),
        "precision": tp / (tp + fp) if tp + fp else None,
        "true_positives": tp,
        "false_positives": fp,
        "true_positives_flagged_truncated": truncated_tp,
    }
