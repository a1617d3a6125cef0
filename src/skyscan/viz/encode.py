"""Compact, browser-ready encodings of point data (pure array code, no I/O).

Points travel to the page as little-endian typed arrays in base64, in a quantised Web
Mercator frame: ``q = round((X - x0) / (x1 - x0) * Q)`` with ``Q`` = 65,535 (uint16) when
that keeps a step under :data:`MAX_STEP_M` metres, else 2**32 - 1 (uint32). The page maps
``q`` to screen pixels with one multiply-add per axis, so a million points redraw fast.

The heatmap is aggregated here: counts per square Web Mercator cell, the finest cell size
(from :data:`MIN_HEAT_CELL_M`, doubling) whose non-empty cells fit in ``max_cells``. The
page then sums cells into screen buckets, so the HTML grows with the number of occupied
cells, not with the number of detections.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skyscan.types import JsonObject

EARTH_RADIUS_M = 6378137.0  # the sphere of EPSG:3857
MAX_STEP_M = 0.25
MIN_HEAT_CELL_M = 1.0

FloatArray = npt.NDArray[np.float64]


def lonlat_to_mercator(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """EPSG:4326 degrees to EPSG:3857 metres (spherical Web Mercator).

    >>> [round(float(v), 1) for v in lonlat_to_mercator(np.array([180.0]), np.array([0.0]))[0]]
    [20037508.3]
    """
    x = EARTH_RADIUS_M * np.radians(lon)
    y = EARTH_RADIUS_M * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))
    return x, y


def pack(values: npt.ArrayLike, dtype: str | None = None) -> JsonObject:
    """A typed array for the page: ``{"dtype": "u1"|"u2"|"u4"|"f4", "b64": ...}``.

    Without ``dtype``, the smallest unsigned integer type that holds the (non-negative
    integer) values is chosen.

    >>> pack([1, 2, 300])["dtype"]
    'u2'
    """
    arr = np.asarray(values)
    if dtype is None:
        top = int(arr.max()) if arr.size else 0
        dtype = "u1" if top < 2**8 else "u2" if top < 2**16 else "u4"
    out = np.ascontiguousarray(arr.astype("<" + dtype if dtype != "u1" else "u1"))
    return {"dtype": dtype, "b64": base64.b64encode(out.tobytes()).decode("ascii")}


@dataclass(frozen=True)
class Frame:
    """The quantisation frame: Web Mercator bounds and the number of steps ``q``."""

    x0: float
    y0: float
    x1: float
    y1: float
    q: int

    @classmethod
    def around(cls, x: FloatArray, y: FloatArray) -> Frame:
        """A frame that holds every point, with a step under ``MAX_STEP_M``."""
        if x.size == 0:
            return cls(0.0, 0.0, 1.0, 1.0, 65535)
        x0, x1 = float(x.min()), float(x.max())
        y0, y1 = float(y.min()), float(y.max())
        span = max(x1 - x0, y1 - y0, 1.0)  # square and at least a metre: no division by 0
        q = 65535 if span / 65535 <= MAX_STEP_M else 2**32 - 1
        return cls(x0, y0, x0 + span, y0 + span, q)

    def quantise(
        self, x: FloatArray, y: FloatArray
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        qx = np.rint((x - self.x0) / (self.x1 - self.x0) * self.q)
        qy = np.rint((y - self.y0) / (self.y1 - self.y0) * self.q)
        return (np.clip(qx, 0, self.q).astype(np.int64), np.clip(qy, 0, self.q).astype(np.int64))

    def to_json(self) -> dict[str, float]:
        return {"x0": self.x0, "y0": self.y0, "x1": self.x1, "y1": self.y1, "q": self.q}


@dataclass(frozen=True)
class HeatGrid:
    """Occupied heat cells: cell ``(col, row)`` indices from ``(ix0, iy0)``, and counts.

    Cell ``k`` covers Web Mercator ``[(ix0 + col[k]) * cell_m, ... + cell_m)`` in x, the
    same in y.
    """

    col: npt.NDArray[np.int64]
    row: npt.NDArray[np.int64]
    count: npt.NDArray[np.int64]
    cell_m: float
    ix0: int
    iy0: int

    def centres(self) -> tuple[FloatArray, FloatArray]:
        x = (self.ix0 + self.col + 0.5) * self.cell_m
        y = (self.iy0 + self.row + 0.5) * self.cell_m
        return x.astype(np.float64), y.astype(np.float64)

    def to_json(self) -> JsonObject:
        return {
            "cell": self.cell_m,
            "ix0": self.ix0,
            "iy0": self.iy0,
            "col": pack(self.col),
            "row": pack(self.row),
            "count": pack(self.count),
        }


def heat_grid(x: FloatArray, y: FloatArray, max_cells: int = 65_536) -> HeatGrid:
    """Count points per square cell, the finest cell size that fits ``max_cells`` cells.

    Cells are aligned to multiples of the cell size in Web Mercator metres; the size starts
    at ``MIN_HEAT_CELL_M`` and doubles until the occupied cells fit.

    >>> g = heat_grid(np.array([0.2, 0.7, 5.0]), np.array([0.2, 0.4, 5.0]))
    >>> g.count.tolist(), g.cell_m
    ([2, 1], 1.0)
    """
    if max_cells < 1:
        raise ValueError(f"'max_cells' must be >= 1 (got {max_cells})")
    if x.size == 0:
        none = np.zeros(0, np.int64)
        return HeatGrid(none, none, none, MIN_HEAT_CELL_M, 0, 0)
    span = max(float(x.max() - x.min()), float(y.max() - y.min()), MIN_HEAT_CELL_M)
    cell = MIN_HEAT_CELL_M
    # With at most max_cells occupied cells, a grid coarser than span/sqrt(max_cells) always
    # fits, so start no finer than needed for a dense input (saves a few passes).
    if x.size > max_cells:
        cell = max(cell, 2.0 ** math.floor(math.log2(span / math.sqrt(max_cells))))
    while True:
        ix = np.floor(x / cell).astype(np.int64)
        iy = np.floor(y / cell).astype(np.int64)
        ix0, iy0 = int(ix.min()), int(iy.min())
        key = (ix - ix0) * (int(iy.max()) - iy0 + 1) + (iy - iy0)
        uniq, counts = np.unique(key, return_counts=True)
        if uniq.size <= max_cells:
            height = int(iy.max()) - iy0 + 1
            return HeatGrid(uniq // height, uniq % height, counts.astype(np.int64), cell, ix0, iy0)
        cell *= 2.0
