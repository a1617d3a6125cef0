"""H3 cells for detections. The only module that knows H3 wants latitude first.

Every public function takes ``lon``/``lat`` as keyword arguments (so an axis swap fails
loudly instead of silently) and returns geometry in lon/lat. Cell ids are ``uint64``
(0 = no cell, for points without coordinates) and hex strings for output tables.

Speed: cell ids come from ``h3ronpy`` (vectorized, Rust ``h3o`` over Arrow arrays) when it
is installed, else from ``h3`` one point at a time (about half the speed). Both give
identical ids; tests check it.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
import shapely

from skyscan.errors import InputError

logger = logging.getLogger(__name__)

MIN_RES, MAX_RES = 0, 15
NO_CELL = np.uint64(0)

UIntArray = npt.NDArray[np.uint64]


def check_resolution(res: object) -> int:
    """Validate an H3 resolution (an integer in 0..15)."""
    if (
        isinstance(res, bool)
        or not isinstance(res, int | np.integer)
        or not MIN_RES <= int(res) <= MAX_RES
    ):
        raise InputError(
            f"H3 resolution must be an integer in [{MIN_RES}, {MAX_RES}] (got {res!r})"
        )
    return int(res)


def h3_cells(*, lon: npt.ArrayLike, lat: npt.ArrayLike, res: int) -> UIntArray:
    """H3 cell id of each point at resolution ``res``; 0 where coordinates are missing.

    >>> cells = h3_cells(lon=[-122.4194, float("nan")], lat=[37.7749, 0.0], res=9)
    >>> cells_to_strings(cells).tolist()
    ['89283082803ffff', None]
    """
    res = check_resolution(res)
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    if lon_a.shape != lat_a.shape or lon_a.ndim != 1:
        raise InputError(
            f"'lon' and 'lat' must be 1-D arrays of one length (got {lon_a.shape} and {lat_a.shape})"
        )
    ok = np.isfinite(lon_a) & np.isfinite(lat_a)
    bad_lat = ok & (np.abs(lat_a) > 90.0)
    if bad_lat.any():
        i = int(np.flatnonzero(bad_lat)[0])
        raise InputError(
            f"latitude must be in [-90, 90] (got {lat_a[i]} at row {i}); are lon and lat swapped?"
        )
    out = np.zeros(lon_a.shape, dtype=np.uint64)
    idx = np.flatnonzero(ok)
    if idx.size:
        out[idx] = _latlng_to_cells(lat_a[idx], lon_a[idx], res)
    return out


def _latlng_to_cells(
    lat: npt.NDArray[np.float64], lng: npt.NDArray[np.float64], res: int
) -> UIntArray:
    try:
        import pyarrow as pa
        from h3ronpy import vector
    except ImportError:
        return _latlng_to_cells_loop(lat, lng, res)
    cells = vector.coordinates_to_cells(lat, lng, res)
    return np.asarray(pa.array(cells), dtype=np.uint64)


def _latlng_to_cells_loop(
    lat: npt.NDArray[np.float64], lng: npt.NDArray[np.float64], res: int
) -> UIntArray:
    """Fallback without h3ronpy: ``h3`` has no vectorized latlng_to_cell."""
    import h3.api.basic_int as h3int

    convert = h3int.latlng_to_cell
    return np.fromiter(
        (convert(a, b, res) for a, b in zip(lat.tolist(), lng.tolist(), strict=True)),
        dtype=np.uint64,
        count=len(lat),
    )


def cells_to_strings(cells: npt.ArrayLike) -> npt.NDArray[np.object_]:
    """Hex string ids (``'8928308280fffff'``); ``None`` for 0 (no cell)."""
    cells = np.asarray(cells, dtype=np.uint64)
    uniq, inverse = np.unique(cells, return_inverse=True)
    names = np.array([format(int(c), "x") if c else None for c in uniq], dtype=object)
    return names[inverse.ravel()]


def strings_to_cells(names: npt.ArrayLike) -> UIntArray:
    """Inverse of :func:`cells_to_strings` (``None`` -> 0)."""
    return np.array(
        [int(n, 16) if n else 0 for n in np.asarray(names, dtype=object)], dtype=np.uint64
    )


def cell_polygons(cells: npt.ArrayLike) -> npt.NDArray[np.object_]:
    """Hexagon (or pentagon) boundary of each cell as a lon/lat polygon; None for 0."""
    cells = np.asarray(cells, dtype=np.uint64)
    uniq, inverse = np.unique(cells, return_inverse=True)
    polys = np.full(len(uniq), None, dtype=object)
    present = uniq != NO_CELL
    if present.any():
        polys[present] = _boundaries(uniq[present])
    return polys[inverse.ravel()]


def _boundaries(cells: UIntArray) -> npt.NDArray[np.object_]:
    try:
        import pyarrow as pa
        from h3ronpy import vector
    except ImportError:
        import h3.api.basic_int as h3int

        rings = [[(lng, lat) for lat, lng in h3int.cell_to_boundary(int(c))] for c in cells]
        return np.array([shapely.Polygon(r) for r in rings], dtype=object)
    wkb = vector.cells_to_wkb_polygons(pa.array(cells, type=pa.uint64()))
    return shapely.from_wkb(np.asarray(pa.array(wkb), dtype=object))
