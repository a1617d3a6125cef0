"""Test-only detector factories that inject faults into Spark tasks.

They wrap the real (cached) detector, so the rows they produce are the real rows. This
module is pickled by value (``cloudpickle.register_pickle_by_value``) because executors
cannot import the tests folder.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skyscan.detectors import Detector, DetectorRecipe, get_detector


class InjectedFault(Exception):
    """Not an image error: the engine lets it fail the task, so Spark retries it."""


def _task() -> tuple[int, int, int]:
    from pyspark import TaskContext

    ctx = TaskContext.get()
    assert ctx is not None
    return ctx.stageId(), ctx.partitionId(), ctx.attemptNumber()


class _Wrapped:
    def __init__(self, inner: Detector, hook: Any) -> None:
        self.inner = inner
        self.card = inner.card
        self.hook = hook

    def detect_batch(self, chips: np.ndarray) -> Any:
        self.hook()
        return self.inner.detect_batch(chips)


@dataclass(frozen=True)
class FailFirstAttempt:
    """Fail the first attempt of detect task ``partition`` (None: of every detect task).

    Every call records ``stage<S>-part<P>-attempt<A>`` in ``marker_dir``.
    """

    marker_dir: str
    partition: int | None = None

    def __call__(self, recipe: DetectorRecipe) -> Detector:
        def hook() -> None:
            stage, part, attempt = _task()
            Path(self.marker_dir, f"stage{stage}-part{part}-attempt{attempt}").touch()
            if attempt == 0 and self.partition in (None, part):
                raise InjectedFault(f"injected failure in partition {part}, attempt {attempt}")

        return _Wrapped(get_detector(recipe), hook)  # type: ignore[return-value]


@dataclass(frozen=True)
class SlowDetector:
    """Sleep ``delay`` seconds per batch (so a job lasts long enough to kill an executor)."""

    marker_dir: str
    delay: float = 0.5

    def __call__(self, recipe: DetectorRecipe) -> Detector:
        def hook() -> None:
            Path(self.marker_dir, f"pid{os.getpid()}-{time.monotonic_ns()}").touch()
            time.sleep(self.delay)

        return _Wrapped(get_detector(recipe), hook)  # type: ignore[return-value]
