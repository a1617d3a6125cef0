"""Test-time augmentation: a chip's views and their CenterNet maps brought back.

The views are the chip as it is, mirrored left to right, upside down, and both (a group:
averaging over all of a group's views gives the same maps for a chip and any of its
views, turned back). A mirror keeps a box's width and height, so the ``wh`` maps average
as they are; the ``offset`` maps do not (a cell's offset mirrors to one minus it), so the
plain view's are kept.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from skyscan.errors import InputError

TTA_VIEWS = (1, 2, 4)  # views a run may ask for
AVERAGED = ("heatmap", "wh")  # the CenterNet outputs averaged over the views


def check_views(n: object) -> None:
    """Refuse a number of views other than :data:`TTA_VIEWS` (:class:`InputError`)."""
    if isinstance(n, bool) or n not in TTA_VIEWS:
        raise InputError(f"'tta' must be one of {TTA_VIEWS} views (got {n!r})")


# the axes each view flips, NCHW: none, width, height, both
_FLIPS: tuple[tuple[int, ...], ...] = ((), (3,), (2,), (2, 3))


def views(chips: npt.NDArray[np.float32], n: int) -> npt.NDArray[np.float32]:
    """The first ``n`` views of a prepared batch (NCHW), stacked: ``(n * N, C, H, W)``."""
    return np.concatenate([np.flip(chips, axis) if axis else chips for axis in _FLIPS[:n]])


def average_back(maps: npt.NDArray[np.float32], n: int) -> npt.NDArray[np.float32]:
    """The mean over ``n`` views of maps stacked as :func:`views` stacks chips, each
    flipped back to the plain chip's frame: ``(N, C, h, w)``."""
    per_view = np.split(maps, n)
    return np.mean(
        [np.flip(m, axis) if axis else m for m, axis in zip(per_view, _FLIPS[:n], strict=True)],
        axis=0,
    ).astype(maps.dtype, copy=False)
