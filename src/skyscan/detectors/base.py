"""The detector protocol: a batch of chips in, detections per chip out.

Detectors are stateless after loading, so one instance can serve many threads or a
Spark executor. A :class:`DetectorRecipe` is what travels to workers: a small picklable
description from which each process builds (and caches) its own detector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from skyscan.detectors.card import ModelCard
from skyscan.detectors.tta import check_views
from skyscan.errors import InputError
from skyscan.types import ChipDetections


@runtime_checkable
class Detector(Protocol):
    """Anything that turns a batch of chips into detections."""

    card: ModelCard

    def detect_batch(self, chips: npt.NDArray[np.uint8]) -> list[ChipDetections]:
        """Detect in ``chips``, uint8 RGB of shape (N, H, W, 3) at the card's input size
        (or another square size that its ``input.size_multiple`` allows).

        Returns one :class:`ChipDetections` per chip, boxes in chip pixels, already
        filtered by the score threshold and NMS'd within the chip.
        """
        ...


@runtime_checkable
class StagedDetector(Detector, Protocol):
    """A detector whose batch work splits into stages that a pipeline can put on
    different threads: ``finish(infer(prepare(chips))) == detect_batch(chips)``.

    ``prepare`` turns chips into model input (numpy), ``infer`` runs the model and
    ``finish`` turns its outputs into detections (decode, NMS). Overlapping ``prepare``
    of the next batch and ``finish`` of the previous one with ``infer`` keeps the
    model, the part that needs the cores, from waiting on them.
    """

    def prepare(self, chips: npt.NDArray[np.uint8]) -> Any: ...

    def infer(self, prepared: Any) -> Any: ...

    def finish(self, outputs: Any) -> list[ChipDetections]: ...


@dataclass(frozen=True)
class DetectorRecipe:
    """How to build a detector in any process: a model path (or builtin name) and options."""

    model: str = "vehicles"
    backend: str = "onnx"
    threads: int = 0  # ONNX intra-op threads; 0 lets the runtime decide
    score_threshold: float | None = None  # overrides the card's
    tta: int = 1  # views of each chip whose heatmaps are averaged: 1, 2 or 4 (OnnxDetector)

    def __post_init__(self) -> None:
        t = self.score_threshold
        if t is not None and not (isinstance(t, int | float) and 0.0 <= t <= 1.0):  # NaN fails too
            raise InputError(f"'score_threshold' must be a number in [0, 1] (got {t!r})")
        check_views(self.tta)
        if not isinstance(self.threads, int) or self.threads < 0:
            raise InputError(f"'threads' must be an integer >= 0 (got {self.threads!r})")
