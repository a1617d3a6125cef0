"""The review page's settings in one validated object (the CLI and the API both build it)."""

from __future__ import annotations

from dataclasses import dataclass

from skyscan.errors import InputError

ORDERS = ("score", "sample")


@dataclass(frozen=True)
class ReviewOptions:
    """What goes onto the review page.

    ``max_crops`` detections get a crop (``order``: highest ``score`` first, or a random
    ``sample`` drawn with ``seed``); a crop is ``crop_px`` square on the page and shows at
    least ``context_m`` metres of ground (three box sizes for large boxes). Images are cut
    into ``view_size`` source-pixel tiles to add missed vehicles on; at most ``max_views``
    are embedded, those with the most detections first.
    """

    max_crops: int = 500
    order: str = "score"
    seed: int = 0
    crop_px: int = 192
    context_m: float = 12.0
    view_size: int = 512
    max_views: int = 40
    title: str = "skyscan review"

    def __post_init__(self) -> None:
        if self.max_crops < 0:
            raise InputError(f"'max_crops' must be >= 0 (got {self.max_crops})")
        if self.order not in ORDERS:
            raise InputError(f"'order' must be one of {ORDERS} (got {self.order!r})")
        if not 64 <= self.crop_px <= 512:
            raise InputError(f"'crop_px' must be in [64, 512] (got {self.crop_px})")
        if not self.context_m >= 0:
            raise InputError(f"'context_m' must be >= 0 metres (got {self.context_m})")
        if self.view_size < 32:
            raise InputError(f"'view_size' must be >= 32 pixels (got {self.view_size})")
        if self.max_views < 0:
            raise InputError(f"'max_views' must be >= 0 (got {self.max_views})")
