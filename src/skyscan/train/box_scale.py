"""Fit a model card's box-size correction (``output.box_scale``) from evaluation reports.

``skyscan set-box-scale MODEL REPORT...`` pools the ``box_fit`` of one class over
``skyscan evaluate`` reports of MODEL (mean log ratio of label side to detection side,
for each detection's longer and shorter side, weighted by matches) and writes the factors
that make its boxes fit on average into the card. The reports' images should be the
model's training images: the correction is then fitted where the model was trained, and
held-out figures stay held out.
"""

from __future__ import annotations

import math
from pathlib import Path

from skyscan.detectors.card import ModelCard, load_card, save_card
from skyscan.errors import InputError
from skyscan.jsonfile import load_json_file


def box_scale_from_reports(
    report_paths: list[str | Path], class_name: str = "car"
) -> tuple[tuple[float, float], int]:
    """The (longer, shorter) factors that fit ``class_name``'s boxes over the reports, and
    the number of matched boxes they rest on. Each report's fit is relative to the
    ``box_scale`` its boxes were drawn with, so refitting never compounds."""
    total, log_longer, log_shorter = 0, 0.0, 0.0
    for path in report_paths:
        data = load_json_file(path, "a skyscan evaluate report (JSON)", InputError)
        classes = data.get("classes") if isinstance(data, dict) else None
        entry = classes.get(class_name) if isinstance(classes, dict) else None
        fit = entry.get("box_fit") if isinstance(entry, dict) else None
        if not isinstance(fit, dict) or not fit.get("n"):
            raise InputError(f"{path}: no box_fit for class {class_name!r} (no true positives?)")
        used = data.get("box_scale", [1.0, 1.0])
        n = int(fit["n"])
        total += n
        log_longer += n * (float(fit["log_longer"]) + math.log(float(used[0])))
        log_shorter += n * (float(fit["log_shorter"]) + math.log(float(used[1])))
    if total == 0:
        raise InputError("no evaluation reports given")
    return (math.exp(log_longer / total), math.exp(log_shorter / total)), total


def set_box_scale(model_path: str | Path, scale: tuple[float, float], source: str) -> ModelCard:
    """Rewrite the card beside ``model_path`` with ``output.box_scale = scale``."""
    card = load_card(model_path)
    if card.output_format != "centernet":
        raise InputError(
            f"{model_path}: box_scale applies to centernet outputs (this card's: {card.output_format})"
        )
    data = card.to_dict()
    data["output"]["box_scale"] = [round(scale[0], 4), round(scale[1], 4)]
    data["box_scale_source"] = source
    new = ModelCard.from_dict(data, source=str(model_path))
    save_card(new, model_path)
    return new
