"""Pixel → lon/lat for the page's boxes, as one small affine map per crop or view."""

from __future__ import annotations

import numpy as np

from skyscan.geo.crs import to_wgs84
from skyscan.geo.footprints import pixel_to_crs
from skyscan.types import AffineTuple


def lonlat_affine(
    transform: AffineTuple, crs: str, col: float, row: float, width: float, height: float
) -> list[float]:
    """``[a, b, c, d, e, f]`` with lon = a·col + b·row + c, lat = d·col + e·row + f.

    Exact at the window's top-left, top-right and bottom-left corners; inside a window of a
    few hundred pixels the projection's curvature is far below a millimetre, so the page
    can export boxes in lon/lat without a projection library.

    >>> t = (0.5, 0.0, 600000.0, 0.0, -0.5, 5700000.0)
    >>> [round(v, 7) for v in lonlat_affine(t, "EPSG:32631", 0, 0, 100, 100)][2::3]
    [4.4388768, 51.4423523]
    """
    cols = np.array([col, col + width, col], np.float64)
    rows = np.array([row, row, row + height], np.float64)
    lon, lat = to_wgs84(*pixel_to_crs(cols, rows, transform), crs)
    out: list[float] = []
    for v in (lon, lat):
        a, b = (v[1] - v[0]) / width, (v[2] - v[0]) / height
        out += [float(a), float(b), float(v[0] - a * col - b * row)]
    return out
