"""Score the real detection pipeline against labels.

:func:`evaluate` reads the labels, runs :func:`skyscan.api.detect_table` (chips, GSD-aware
resampling, batched model, merge across chip overlaps: exactly what users run) over the
same images with a low score floor so the whole precision-recall curve is visible, and
scores the result with :mod:`skyscan.evaluate.metrics`. Precision, recall and F1 are
reported at the model's operating threshold (the card's ``score_threshold`` unless
overridden).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from skyscan.detectors.card import ModelCard, load_card
from skyscan.detectors.registry import resolve_model
from skyscan.errors import InputError
from skyscan.evaluate.ignore import IgnoreRegions, read_ignore_regions
from skyscan.evaluate.metrics import ClassResult, evaluate_detections, mean_ap
from skyscan.labels import ClassMapping, LabelSet, read_labels
from skyscan.labels.mapping import parse_overrides
from skyscan.options import DetectSettings
from skyscan.types import JsonObject

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

log = logging.getLogger(__name__)

# Detections down to this score are kept for the PR curve (AP needs the low-score tail).
SCORE_FLOOR = 0.01


@dataclass
class EvalReport:
    """The scores of one evaluation and what they were measured on."""

    results: dict[str, ClassResult]
    labels: LabelSet
    card: ModelCard
    model_path: str
    score_threshold: float
    iou_threshold: float
    gsd: float | None
    n_detections: int
    errors: list[JsonObject]
    ignore: JsonObject | None = None
    # every row scored (down to the floor), as ``skyscan.api.detect`` returns them; the
    # rows at or above ``score_threshold`` are exactly what ``skyscan detect`` ships
    detections: gpd.GeoDataFrame | None = None
    # every class as one "vehicle": what a count of vehicles gets right, whatever the class
    any_class: ClassResult | None = None

    @property
    def map50(self) -> float:
        return mean_ap(self.results)

    def to_dict(self) -> JsonObject:
        """``{"map50": float, "classes": {name: {ap50, precision, recall, f1, n_labels}}, ...}``.

        Classes without labels keep their detection count, but ``ap50`` and ``recall`` are
        ``null`` (undefined) and they are left out of ``map50``.
        """
        classes: JsonObject = {}
        for name, r in self.results.items():
            d: JsonObject = r.to_dict()
            if r.n_labels == 0:
                d["ap50"] = None
                d["ap50_95"] = None
                d["recall"] = None
                d["f1"] = None
            classes[name] = d
        return {
            "map50": round(self.map50, 6),
            "map50_95": round(mean_ap(self.results, "ap50_95"), 6),
            "classes": classes,
            "classes_present": [n for n, r in self.results.items() if r.n_labels > 0],
            "iou_threshold": self.iou_threshold,
            "score_threshold": self.score_threshold,
            "model": self.card.model_id,
            "model_path": self.model_path,
            "model_gsd": self.card.gsd,
            "box_scale": list(self.card.box_scale),
            "image_gsd": self.gsd,
            "n_images": len(self.labels.images),
            "n_detections": self.n_detections,
            "label_issues": self.labels.issues.summary(),
            "ignored_source_classes": dict(self.labels.ignored),
            "detection_errors": self.errors,
            "ignore_regions": self.ignore,
            "any_class": self.any_class.to_dict() if self.any_class is not None else None,
        }


def read_card_labels(
    images: str | Path,
    labels: str | Path,
    fmt: str,
    card: ModelCard,
    *,
    classes: str | Path | None = None,
    names: list[str] | None = None,
    overrides: list[str] | None = None,
    allow_missing: bool = False,
) -> LabelSet:
    """The labels of ``images`` with their classes mapped onto ``card``'s (car, truck, bus
    from xView type ids or class names), ``overrides`` (``"source=target"``) first."""
    mapping = ClassMapping.for_targets(tuple(card.class_names))
    if overrides:
        mapping = mapping.with_overrides(parse_overrides(overrides))
    return read_labels(
        images,
        labels,
        fmt,
        classes=classes,
        mapping=mapping,
        names=names,
        allow_missing=allow_missing,
    )


def evaluate(
    images: str | Path,
    labels: str | Path,
    fmt: str,
    *,
    classes: str | Path | None = None,
    names: list[str] | None = None,
    settings: DetectSettings | None = None,
    iou_threshold: float = 0.5,
    overrides: list[str] | None = None,
    allow_missing: bool = False,
    ignore_regions: str | Path | None = None,
) -> EvalReport:
    """Run the detection pipeline with ``settings`` (those of ``skyscan detect``) over
    ``images`` and score it against ``labels``; ``settings.score_threshold`` is the
    operating point of precision, recall and F1 (default: the card's)."""
    from skyscan.api import detect_table

    if not 0 < iou_threshold < 1:
        raise InputError(f"'iou_threshold' must be in (0, 1) (got {iou_threshold})")
    settings = settings or DetectSettings()
    model_path = resolve_model(settings.model)
    card = load_card(model_path)
    label_set = read_card_labels(
        images,
        labels,
        fmt,
        card,
        classes=classes,
        names=names,
        overrides=overrides,
        allow_missing=allow_missing,
    )
    label_set.issues.log_summary()
    regions: IgnoreRegions | None = read_ignore_regions(ignore_regions) if ignore_regions else None
    paths = [im.image_path for im in label_set.images]
    threshold = (
        card.score_threshold if settings.score_threshold is None else settings.score_threshold
    )
    gdf = detect_table(
        paths, replace(settings, model=str(model_path), score_threshold=min(SCORE_FLOOR, threshold))
    )
    errors = list(gdf.attrs.get("errors", []))
    if errors:
        log.warning("detection failed on %d image(s): %s", len(errors), errors[0])
    by_path: JsonObject = (
        {str(Path(p).resolve()): g for p, g in gdf.groupby("image_path")} if len(gdf) else {}
    )
    index = {n: i for i, n in enumerate(card.class_names)}
    gts, dets = [], []
    for im in label_set.images:
        gts.append((im.boxes, im.labels))
        g = by_path.get(str(Path(im.image_path).resolve()))
        if g is None:
            dets.append((np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)))
            continue
        boxes = g[["px_xmin", "px_ymin", "px_xmax", "px_ymax"]].to_numpy(np.float64)
        dets.append(
            (boxes, g["score"].to_numpy(np.float64), g["class_name"].map(index).to_numpy(np.int64))
        )
    ignore = [regions.for_image(p) for p in paths] if regions else None
    results = evaluate_detections(card.class_names, gts, dets, threshold, iou_threshold, ignore)
    as_one = evaluate_detections(
        ["vehicle"],
        [(b, np.zeros(len(lab), np.int64)) for b, lab in gts],
        [(b, s, np.zeros(len(lab), np.int64)) for b, s, lab in dets],
        threshold,
        iou_threshold,
        ignore,
    )["vehicle"]
    ignore_info = None
    if regions:
        ignore_info = {
            "file": regions.path,
            "n_regions": regions.count(),
            "n_regions_unused": regions.unused(paths),
            "min_cover": 0.5,
        }
    return EvalReport(
        results,
        label_set,
        card,
        str(model_path),
        threshold,
        iou_threshold,
        settings.gsd,
        len(gdf),
        errors,
        ignore_info,
        gdf,
        as_one,
    )
