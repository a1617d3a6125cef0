"""Value objects for labelled images and the record of label problems."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from skyscan.errors import LabelError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageLabels:
    """Ground-truth boxes of one image.

    ``boxes`` is (N, 4) float64 xyxy in image pixels; ``labels`` (N,) int indices into
    the label set's ``classes``.
    """

    image_path: str
    width: int
    height: int
    boxes: npt.NDArray[np.float64]
    labels: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        if self.boxes.shape != (len(self.labels), 4):
            raise LabelError(
                f"{self.image_path}: boxes {self.boxes.shape} and labels {self.labels.shape} disagree"
            )

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class LabelIssues:
    """Counts and examples of label problems that were handled rather than raised.

    Kinds: ``clipped`` (box partly outside the image, clipped), ``outside`` (box entirely
    outside or degenerate, dropped), ``ignored_class`` (a source class the mapping ignores,
    e.g. cyclist), ``empty_file`` (label file with no boxes: image kept, no objects),
    ``missing_labels`` (image without labels, kept as empty because allowed),
    ``orphan_labels`` (labels whose image does not exist, skipped).
    """

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    max_examples: int = 5

    def add(self, kind: str, message: str, n: int = 1) -> None:
        self.counts[kind] += n
        ex = self.examples.setdefault(kind, [])
        if len(ex) < self.max_examples:
            ex.append(message)
        log.debug("label issue %s: %s", kind, message)

    def merge(self, other: LabelIssues) -> None:
        for kind, n in other.counts.items():
            self.counts[kind] += n
            for msg in other.examples.get(kind, []):
                ex = self.examples.setdefault(kind, [])
                if len(ex) < self.max_examples:
                    ex.append(msg)

    def summary(self) -> dict[str, object]:
        return {
            kind: {"count": n, "examples": self.examples.get(kind, [])}
            for kind, n in sorted(self.counts.items())
        }

    def log_summary(self) -> None:
        for kind, n in sorted(self.counts.items()):
            first = self.examples.get(kind, [""])[0]
            log.warning("labels: %d x %s (e.g. %s)", n, kind, first)


@dataclass
class LabelSet:
    """Labelled images with the target class list and the issues found while reading."""

    classes: tuple[str, ...]
    images: list[ImageLabels]
    issues: LabelIssues = field(default_factory=LabelIssues)
    ignored: Counter[str] = field(default_factory=Counter)  # source class name -> boxes ignored

    def counts(self) -> dict[str, int]:
        """Number of labelled objects per target class."""
        total = np.zeros(len(self.classes), np.int64)
        for im in self.images:
            total += np.bincount(im.labels, minlength=len(self.classes))
        return {c: int(n) for c, n in zip(self.classes, total, strict=True)}

    def __add__(self, other: LabelSet) -> LabelSet:
        if self.classes != other.classes:
            raise LabelError(
                f"cannot combine label sets with classes {self.classes} and {other.classes}"
            )
        issues = LabelIssues()
        issues.merge(self.issues)
        issues.merge(other.issues)
        return LabelSet(
            self.classes, self.images + other.images, issues, self.ignored + other.ignored
        )
