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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skyscan.evaluate.ignore import read_ignore_regions
from skyscan.evaluate.metrics import ignored_flags, match_pairs
from skyscan.labels import ClassMapping, read_labels
from skyscan.types import JsonObject


@dataclass(frozen=True)
class Crop:
    """One crop of a labelled frame: its window and clipped labels, in crop pixels."""

    source: str
    window: tuple[int, int, int, int]  # col_off, row_off, width, height
    boxes: np.ndarray  # clipped labels kept as labels
    ignore: (
        np.ndarray
    )  # slivers and audited unlabelled vehicles: neither a miss nor a false positive


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
        crops.append(Crop(image, (x0, y0, cw, ch), clipped[frac >= min_visible], ignore))
    return crops


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
    score_threshold: float | None = None,
    crops_per_image: int = 4,
    seed: int = 0,
    near_px: float = 8.0,
    min_visible: float = 0.3,
    iou_threshold: float = 0.5,
    unlabelled: str | Path | None = None,
) -> JsonObject:
    """Recall near crop borders against elsewhere, and precision, for one pipeline setting.
    ``unlabelled``: an ignore-region CSV of vehicles the labels leave out (an audit)."""
    from PIL import Image

    import skyscan.api
    from skyscan.detectors.card import load_card
    from skyscan.detectors.registry import resolve_model

    card = load_card(resolve_model(model))
    threshold = card.score_threshold if score_threshold is None else score_threshold
    label_set = read_labels(
        images,
        labels,
        "yolo",
        classes=classes,
        names=names,
        mapping=ClassMapping.for_targets(tuple(card.class_names)),
    )
    audit = read_ignore_regions(unlabelled) if unlabelled is not None else None
    rng = np.random.default_rng(seed)
    crops = [
        c
        for im in label_set.images
        for c in plan_crops(
            im.image_path,
            im.width,
            im.height,
            im.boxes,
            rng,
            n=crops_per_image,
            min_visible=min_visible,
            unlabelled=audit.for_image(im.image_path) if audit is not None else None,
        )
    ]
    with tempfile.TemporaryDirectory(prefix="skyscan-borders-") as tmp:
        paths: list[str] = []
        for k, crop in enumerate(crops):
            x0, y0, w, h = crop.window
            paths.append(str(Path(tmp) / f"crop{k:04d}.png"))
            with Image.open(crop.source) as im:
                im.convert("RGB").crop((x0, y0, x0 + w, y0 + h)).save(paths[-1])
        gdf = skyscan.api.detect(
            paths, model=model, gsd=gsd, edge_pad=edge_pad, score_threshold=threshold
        )
        found = {p: g for p, g in gdf.groupby("image_path")} if len(gdf) else {}
        # [found, labelled]; "cut": near labels the crop's edge cuts, "whole": near but uncut
        hits = {"near": [0, 0], "far": [0, 0], "cut": [0, 0], "whole": [0, 0]}
        tp = fp = truncated_tp = 0
        for crop, crop_path in zip(crops, paths, strict=True):
            g = found.get(crop_path)
            det = (
                g[["px_xmin", "px_ymin", "px_xmax", "px_ymax"]].to_numpy(np.float64)
                if g is not None
                else np.zeros((0, 4))
            )
            scores = g["score"].to_numpy(np.float64) if g is not None else np.zeros(0)
            trunc = g["truncated"].to_numpy(bool) if g is not None else np.zeros(0, bool)
            label_of = match_pairs(det, scores, crop.boxes, iou_threshold)
            is_tp = label_of >= 0
            matched_gt = np.zeros(len(crop.boxes), bool)
            matched_gt[label_of[is_tp]] = True
            ignored = ignored_flags(det, crop.ignore) & ~is_tp
            tp += int(is_tp.sum())
            fp += int((~is_tp & ~ignored).sum())
            truncated_tp += int((is_tp & trunc).sum())
            near = near_border(crop.boxes, crop.window[2], crop.window[3], near_px)
            cut = near_border(crop.boxes, crop.window[2], crop.window[3], 0.5)
            for key, sel in (
                ("near", near),
                ("far", ~near),
                ("cut", near & cut),
                ("whole", near & ~cut),
            ):
                hits[key][0] += int(matched_gt[sel].sum())
                hits[key][1] += int(sel.sum())
    recall = {k: (v[0] / v[1] if v[1] else None) for k, v in hits.items()}
    return {
        "model": card.model_id,
        "edge_pad": card.edge_pad if edge_pad is None else edge_pad,
        "score_threshold": threshold,
        "iou_threshold": iou_threshold,
        "near_px": near_px,
        "min_visible": min_visible,
        "unlabelled_ignored": str(unlabelled) if unlabelled is not None else None,
        "crops": len(crops),
        "crops_per_image": crops_per_image,
        "seed": seed,
        "labels_near": hits["near"][1],
        "labels_far": hits["far"][1],
        "recall_near": recall["near"],
        "recall_far": recall["far"],
        "recall_near_over_far": (recall["near"] / recall["far"])
        if recall["near"] is not None and recall["far"]
        else None,
        # of the near labels: the ones the crop's edge cuts, and the whole ones beside it
        "labels_near_cut": hits["cut"][1],
        "recall_near_cut": recall["cut"],
        "recall_near_whole": recall["whole"],
        "precision": tp / (tp + fp) if tp + fp else None,
        "true_positives": tp,
        "false_positives": fp,
        "true_positives_flagged_truncated": truncated_tp,
    }
