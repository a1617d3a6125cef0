"""Fit a model card's box-size correction (``output.box_scale``).

``skyscan train`` fits it on its training images as it exports (:func:`fit_on_images`).
``skyscan set-box-scale MODEL REPORT...`` fits it through the real pipeline: it pools the
``box_fit`` of one class over ``skyscan evaluate`` reports of MODEL (mean log ratio of
label side to detection side, for each detection's longer and shorter side, weighted by
matches) and writes the factors that make its boxes fit on average into the card. The
reports' images should be the model's training images: the correction is then fitted
where the model was trained, and held-out figures stay held out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from skyscan.detectors.card import ModelCard, load_card, rewrite_card
from skyscan.errors import InputError
from skyscan.jsonfile import load_json_file
from skyscan.types import JsonObject

if TYPE_CHECKING:
    from skyscan.train.data import TrainImage
    from skyscan.train.model import CenterNet

# (matches, mean log longer-side ratio, mean log shorter-side ratio)
Fit = tuple[int, float, float]


def pooled(fits: Sequence[Fit]) -> tuple[tuple[float, float], int]:
    """The (longer, shorter) factors of several fits, weighted by their matches."""
    total = sum(n for n, _, _ in fits)
    if total == 0:
        return (1.0, 1.0), 0
    longer = sum(n * lo for n, lo, _ in fits) / total
    shorter = sum(n * sh for n, _, sh in fits) / total
    return (math.exp(longer), math.exp(shorter)), total


def fit_on_images(
    net: CenterNet, images: Sequence[TrainImage], num_classes: int, score_threshold: float
) -> tuple[tuple[float, float], int]:
    """The factors that fit ``net``'s boxes (torch, whole images at the model GSD) to the
    images' labels over every class, and the number of matches; ``(1, 1)`` with none."""
    from skyscan.evaluate.metrics import box_fit
    from skyscan.train.infer import predictions

    gts, dets = predictions(net, images)
    fits = [box_fit(c, gts, dets, score_threshold) for c in range(num_classes)]
    return pooled([(f.n, f.log_longer, f.log_shorter) for f in fits if f is not None])


def box_scale_from_reports(
    report_paths: list[str | Path], class_name: str = "car"
) -> tuple[tuple[float, float], int]:
    """The (longer, shorter) factors that fit ``class_name``'s boxes over the reports, and
    the number of matched boxes they rest on. Each report's fit is relative to the
    ``box_scale`` its boxes were drawn with, so refitting never compounds."""
    fits: list[Fit] = []
    for path in report_paths:
        data = load_json_file(path, "a skyscan evaluate report (JSON)", InputError)
        classes = data.get("classes") if isinstance(data, dict) else None
        entry = classes.get(class_name) if isinstance(classes, dict) else None
        fit = entry.get("box_fit") if isinstance(entry, dict) else None
        if not isinstance(fit, dict) or not fit.get("n"):
            raise InputError(f"{path}: no box_fit for class {class_name!r} (no true positives?)")
        used = data.get("box_scale", [1.0, 1.0])
        fits.append(
            (
                int(fit["n"]),
                float(fit["log_longer"]) + math.log(float(used[0])),
                float(fit["log_shorter"]) + math.log(float(used[1])),
            )
        )
    if not fits:
        raise InputError("no evaluation reports given")
    return pooled(fits)


def set_box_scale(model_path: str | Path, scale: tuple[float, float], source: str) -> ModelCard:
    """Rewrite the card beside ``model_path`` with ``output.box_scale = scale``."""
    card = load_card(model_path)
    if card.output_format != "centernet":
        raise InputError(
            f"{model_path}: box_scale applies to centernet outputs (this card's: {card.output_format})"
        )

    def edit(data: JsonObject) -> None:
        data["output"]["box_scale"] = [round(scale[0], 4), round(scale[1], 4)]
        data["box_scale_source"] = source

    return rewrite_card(model_path, edit)
