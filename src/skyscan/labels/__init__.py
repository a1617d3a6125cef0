"""Label readers for training and evaluation: YOLO txt, COCO JSON and xView GeoJSON.

Every reader returns a :class:`LabelSet`: one :class:`ImageLabels` per image (boxes in
image pixels, classes folded into the target classes by a :class:`ClassMapping`) and a
:class:`LabelIssues` record of everything that was clipped, ignored or dropped, so that
nothing disappears silently.
"""

from __future__ import annotations

from skyscan.labels.mapping import DEFAULT_TARGETS, XVIEW_MAPPING, ClassMapping
from skyscan.labels.read import read_labels
from skyscan.labels.types import ImageLabels, LabelIssues, LabelSet

__all__ = [
    "DEFAULT_TARGETS",
    "XVIEW_MAPPING",
    "ClassMapping",
    "ImageLabels",
    "LabelIssues",
    "LabelSet",
    "read_labels",
]
