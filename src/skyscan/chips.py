"""Chip maths: how many source pixels a chip covers and where the chips go.

Pure functions on integers, no I/O: the reader turns each :class:`ChipWindow` into a
windowed read resampled to the model's input size.

>>> chip_size_in_source(512, image_gsd=0.15, model_gsd=0.3)
1024
>>> print(*[(w.col_off, w.row_off) for w in plan_chips(1000, 600, chip_src=512, out_size=512)])
(0, 0) (409, 0) (488, 0) (0, 88) (409, 88) (488, 88)
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from skyscan.errors import InputError
from skyscan.types import ChipWindow

__all__ = [
    "MAX_OVERLAP",
    "axis_offsets",
    "chip_boxes_to_image",
    "chip_size_in_source",
    "fitted_chip_side",
    "interior_edges",
    "plan_chips",
]

MAX_OVERLAP = 0.5  # beyond half a chip every pixel would be read three times or more


def chip_size_in_source(model_input: int, image_gsd: float | None, model_gsd: float | None) -> int:
    """Source pixels one chip covers so that it shows the ground at the model's GSD.

    ``chip_src = round(model_input * model_gsd / image_gsd)`` (at least 1), or
    ``model_input`` when either GSD is unknown (the chip is then read at native
    resolution). A 512 px model trained at 0.3 m/px on 0.15 m/px imagery reads
    1024 × 1024 source pixels per chip and downsamples them by 2.
    """
    if model_input <= 0:
        raise InputError(f"'model_input' must be a positive pixel count (got {model_input})")
    for name, gsd in (("image_gsd", image_gsd), ("model_gsd", model_gsd)):
        if gsd is not None and not (math.isfinite(gsd) and gsd > 0):
            raise InputError(
                f"{name!r} must be a positive number of metres per pixel or None (got {gsd})"
            )
    if image_gsd is None or model_gsd is None:
        return model_input
    return max(1, round(model_input * model_gsd / image_gsd))


def axis_offsets(length: int, chip: int, stride: int, margin: int = 0) -> list[int]:
    """Chip start offsets along one axis of ``length`` pixels.

    Without a margin: ``0, stride, 2*stride, ...`` below ``length - chip``, plus a last
    chip aligned to the far edge, so every pixel is covered, no chip starts outside the
    image and consecutive chips overlap by at least ``chip - stride``. An axis shorter
    than a chip gets one chip at 0 (the reader pads).

    With a margin the first and last chips reach past the image's edges (the reader pads
    with 0), evenly spaced, no further apart than ``stride``. The pad is up to ``margin``
    on each side, as much as the unpadded plan's number of chips allows, if that is at
    least half the margin (a 1024 px tile keeps its 5 chips of 256 with 24 px instead of
    32); else one chip more gives the whole margin.
    """
    if length <= chip:
        plain = [0]
    else:
        last = length - chip
        plain = [*range(0, last, stride), last]
    if margin <= 0:
        return plain
    n = len(plain)
    room = (chip + (n - 1) * stride - length) // 2  # per side, with the unpadded count
    if room >= (margin + 1) // 2:
        pad = min(margin, room) if n > 1 else room  # one chip: centred
        return _spread(-pad, length - chip + pad, n)
    first, last = -margin, length - chip + margin
    n = max(1, math.ceil((last - first) / stride) + 1)
    return _spread(first, last, n)


def _spread(first: int, last: int, n: int) -> list[int]:
    """``n`` offsets from ``first`` to ``last``, evenly spaced (rounded to whole pixels)."""
    if n == 1:
        return [first]
    return [first + round(i * (last - first) / (n - 1)) for i in range(n)]


def fitted_chip_side(width: float, height: float, cap: int, overlap: float, multiple: int) -> int:
    """The square chip side for a grid over ``width × height`` pixels whose neighbours
    overlap by ``overlap``: at most ``cap``, and at least ``cap / 2`` unless one chip
    holds the whole span, chosen to run the fewest pixels (fewer chips on a tie). Each
    candidate is fitted to a number of chips along one side, so no chip is longer than
    that count needs: a 10,064 px square takes eleven chips of 984 px a side, not eleven
    of 1,024 whose extra 40 px are run twice.

    >>> fitted_chip_side(10_064, 10_064, cap=1024, overlap=72, multiple=8)
    984
    >>> fitted_chip_side(1828, 494, cap=1024, overlap=72, multiple=8)  # a long, thin image
    512
    """
    floor = max(multiple, cap // 2)
    if not (multiple <= cap and 0 <= overlap < floor):
        raise InputError(
            f"'overlap' must be in [0, {floor}) pixels and 'cap' at least {multiple} "
            f"(got {overlap} and {cap})"
        )

    def count(span: float, side: int) -> int:
        return 1 if span <= side else math.ceil((span - overlap) / (side - overlap))

    def whole(px: float) -> int:
        return max(multiple, math.ceil(round(px, 6) / multiple) * multiple)

    longest = whole(max(width, height))
    candidates = {longest} if longest <= cap else set()  # one chip holds the image
    for span in (width, height):
        for n in range(count(span, cap), count(span, floor) + 1):
            candidates.add(min(cap, max(floor, whole((span + (n - 1) * overlap) / n))))
    return min(
        candidates,
        key=lambda side: (count(width, side) * count(height, side) * side**2, -side),
    )


def chip_stride(chip_src: int, overlap: float) -> int:
    """Source pixels between neighbouring chips that overlap by ``overlap`` of a chip."""
    return max(1, math.floor(chip_src * (1.0 - overlap)))


def plan_chips(
    width: int, height: int, *, chip_src: int, out_size: int, overlap: float = 0.2, margin: int = 0
) -> list[ChipWindow]:
    """An overlapping grid of square chips covering every pixel of a ``width × height`` image.

    ``stride = max(1, floor(chip_src * (1 - overlap)))``, so neighbours overlap by at
    least ``overlap * chip_src`` source pixels (for ``chip_src >= 2``); with a ``margin`` the
    first and last rows and columns reach past the image edges by up to about that many
    source pixels (see :func:`axis_offsets`). Each window is
    ``chip_src`` source pixels square and resampled to ``out_size`` model pixels.
    Order is row-major (top row left to right first), so plans are deterministic.
    """
    for name, value in (
        ("width", width),
        ("height", height),
        ("chip_src", chip_src),
        ("out_size", out_size),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise InputError(f"{name!r} must be a positive integer (got {value!r})")
    if not (isinstance(overlap, int | float) and 0.0 <= overlap <= MAX_OVERLAP):
        raise InputError(f"'overlap' must be in [0, {MAX_OVERLAP}] (got {overlap!r})")
    if isinstance(margin, bool) or not isinstance(margin, int) or not 0 <= margin < chip_src:
        raise InputError(
            f"'margin' must be a whole number of pixels in [0, chip_src) (got {margin!r})"
        )
    stride = chip_stride(chip_src, overlap)
    cols = axis_offsets(width, chip_src, stride, margin)
    rows = axis_offsets(height, chip_src, stride, margin)
    return [
        ChipWindow(col, row, chip_src, chip_src, out_size, out_size) for row in rows for col in cols
    ]


def interior_edges(window: ChipWindow, image_w: int, image_h: int) -> tuple[bool, bool, bool, bool]:
    """Which edges of ``window`` lie inside the image: (left, top, right, bottom).

    An object touching an interior edge may be cut there (the neighbouring chip sees the
    rest); an object touching an image edge is cut by the image itself, not by chipping.
    """
    return (
        window.col_off > 0,
        window.row_off > 0,
        window.col_off + window.width < image_w,
        window.row_off + window.height < image_h,
    )


def chip_boxes_to_image(
    boxes_chip_px: npt.ArrayLike,
    window: ChipWindow,
    image_w: int | None = None,
    image_h: int | None = None,
) -> npt.NDArray[np.float64]:
    """Boxes in a chip's model-input pixels to image pixels.

    ``x_img = x_chip * window.scale_x + col_off`` (and likewise for y). When the image
    size is given, boxes are clipped to it (a chip padded past the image edge may
    report boxes reaching into the padding).

    >>> chip_boxes_to_image([[10, 20, 30, 40]], ChipWindow(100, 50, 1024, 1024, 512, 512))
    array([[120.,  90., 160., 130.]])
    """
    b = np.asarray(boxes_chip_px, dtype=np.float64).reshape(-1, 4)
    scale = np.array([window.scale_x, window.scale_y, window.scale_x, window.scale_y])
    out = b * scale + np.array(
        [window.col_off, window.row_off, window.col_off, window.row_off], np.float64
    )
    if image_w is not None:
        out[:, 0::2] = np.clip(out[:, 0::2], 0.0, float(image_w))
    if image_h is not None:
        out[:, 1::2] = np.clip(out[:, 1::2], 0.0, float(image_h))
    return out
