"""Set a model card's operating threshold from an evaluation report.

``skyscan set-threshold MODEL REPORT [--class car]`` writes the class's
F1-best score threshold (``classes.<class>.best_f1.threshold`` of a ``skyscan evaluate``
report) into the card beside MODEL, and records where it came from. The threshold is
then tuned on that report's images: say so wherever its figures are quoted.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from skyscan.detectors.card import ModelCard, rewrite_card
from skyscan.errors import InputError
from skyscan.jsonfile import load_json_file
from skyscan.types import JsonObject

log = logging.getLogger(__name__)


SEARCHED_FROM_WARNING = 0.05  # a report scored from a higher score searched only part of the curve


def threshold_from_report(report_path: str | Path, class_name: str = "car") -> float:
    """The F1-best score threshold of ``class_name`` in a ``skyscan evaluate`` report.

    A report holds the rows its run shipped, so its F1-best point is the best at or above
    the threshold it was scored at (``score_threshold``); when that is above
    :data:`SEARCHED_FROM_WARNING` a warning says how to search the whole curve."""
    data = load_json_file(report_path, "a skyscan evaluate report (JSON)", InputError)
    classes = data.get("classes") if isinstance(data, dict) else None
    entry = classes.get(class_name) if isinstance(classes, dict) else None
    best = entry.get("best_f1") if isinstance(entry, dict) else None
    if not isinstance(best, dict) or not isinstance(best.get("threshold"), int | float):
        raise InputError(f"{report_path}: no best_f1 operating point for class {class_name!r}")
    scored_from = data.get("score_threshold")
    if isinstance(scored_from, int | float) and scored_from > SEARCHED_FROM_WARNING:
        log.warning(
            "%s: its rows start at score %g, so a lower F1-best point cannot be found; to "
            "search the whole curve, run skyscan evaluate with --score-threshold 0.01",
            report_path,
            scored_from,
        )
    return float(best["threshold"])


def set_threshold(model_path: str | Path, threshold: float, source: str) -> ModelCard:
    """Rewrite the card beside ``model_path`` with ``score_threshold = threshold``, rounded
    down to 4 decimals: an F1-best threshold is the score of the detection that makes the
    point, and rounding up would leave that detection out."""
    if not 0.0 < threshold < 1.0:
        raise InputError(f"threshold must be in (0, 1) (got {threshold})")

    def edit(data: JsonObject) -> None:
        # rounded to 1e-6 first: a threshold already at 4 decimals (0.29) stays itself
        data["score_threshold"] = math.floor(round(threshold * 10_000, 6)) / 10_000
        data["threshold_source"] = source

    return rewrite_card(model_path, edit)
