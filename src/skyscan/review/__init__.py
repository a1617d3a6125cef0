"""Review detections on their imagery and turn the decisions into training labels.

``build_review`` writes one offline HTML page (crops to accept or reject from the
keyboard, image views to add missed vehicles, label export in the browser);
``read_export`` reads the exported YOLO zip, COCO JSON or GeoJSON back as label sets
that ``skyscan train`` and ``skyscan evaluate`` read too. See ``docs/review.md``.
"""

from skyscan.review.build import ReviewResult, build_review, make_review
from skyscan.review.export import ReviewExport, read_export
from skyscan.review.options import ReviewOptions

__all__ = [
    "ReviewExport",
    "ReviewOptions",
    "ReviewResult",
    "build_review",
    "make_review",
    "read_export",
]
