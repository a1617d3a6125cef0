"""CRS discipline in one place: naming, transforming and measuring.

* CRSs travel through skyscan as strings: ``"EPSG:n"`` when an EPSG code is equivalent,
  else WKT2 (:func:`normalize_crs`). Strings pickle, hash and compare, so they cross
  process boundaries (Spark executors) and key caches.
* Every transform goes through one cached :class:`pyproj.Transformer` per CRS pair,
  built with ``always_xy=True``: x/easting/longitude first, always, whatever the
  authority's axis order (EPSG:4326 is officially latitude first).
* Distances are in metres on the ground (:func:`gsd_metres`, :func:`local_metric_crs`).

>>> normalize_crs("epsg:32631")
'EPSG:32631'
>>> lon, lat = to_wgs84([500000.0], [0.0], "EPSG:32631")
>>> round(float(lon[0]), 6), round(float(lat[0]), 6)
(3.0, 0.0)
"""

from __future__ import annotations

import logging
import math
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pyproj
from pyproj.exceptions import CRSError as ProjCRSError

from skyscan.errors import CRSError, InputError
from skyscan.types import AffineTuple

__all__ = [
    "TRUE_SCALE_TOLERANCE",
    "from_wgs84",
    "get_transformer",
    "gsd_metres",
    "is_true_scale",
    "linear_unit_metres",
    "local_metric_crs",
    "normalize_crs",
    "to_wgs84",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

# A projected CRS whose grid distances are within 1 % of ground distances (UTM, national
# grids) is measured on its grid; beyond that (Web Mercator away from the equator) on the
# ellipsoid. See gsd_metres.
TRUE_SCALE_TOLERANCE = 0.01

_WGS84_GEOD = pyproj.Geod(ellps="WGS84")


def normalize_crs(crs: object, *, source: str | None = None) -> str:
    """A CRS as ``"EPSG:n"`` when an equivalent EPSG code exists, else as WKT2.

    Accepts anything :meth:`pyproj.CRS.from_user_input` does: ``"EPSG:2056"``, an int,
    WKT (also ESRI ``.prj`` WKT), PROJ strings, a :class:`pyproj.CRS` or a
    ``rasterio.crs.CRS``. "Equivalent" is PROJ's identification at >= 70 % confidence,
    which means same datum and coordinate system, names aside. Raises
    :class:`~skyscan.errors.CRSError` naming the input when it is missing, unknown, or
    not a CRS that can be placed on the Earth (engineering/local CRS); ``source`` (the
    file or option the CRS came from) then starts the message.
    """
    if source is None:
        return _normalize_any(crs)
    try:
        return _normalize_any(crs)
    except CRSError as exc:
        raise CRSError(f"{source}: {exc}") from exc.__cause__


def _normalize_any(crs: object) -> str:
    if crs is None or (isinstance(crs, str) and not crs.strip()):
        raise CRSError(f"a CRS is required (got {crs!r}); pass e.g. 'EPSG:32631'")
    if isinstance(crs, str):
        return _normalize_text(crs.strip())
    return _normalize(crs)


# Cached by text: every image of a run usually carries the same WKT, and parsing plus
# PROJ's EPSG identification can take 0.1 s.
@lru_cache(maxsize=256)
def _normalize_text(text: str) -> str:
    return _normalize(text)


def _normalize(crs: object) -> str:
    try:
        parsed = pyproj.CRS.from_user_input(crs)
    except (ProjCRSError, TypeError, ValueError) as exc:
        raise CRSError(f"not a CRS pyproj understands: unknown CRS {_short(crs)} ({exc})") from exc
    if not (parsed.is_geographic or parsed.is_projected):
        raise CRSError(
            f"CRS {_short(crs)} is neither geographic nor projected (type {parsed.type_name!r}); "
            "a CRS must be projected or geographic to place pixels on the Earth"
        )
    epsg = parsed.to_epsg()
    return f"EPSG:{epsg}" if epsg is not None else parsed.to_wkt()


def get_transformer(src: str, dst: str = "EPSG:4326") -> pyproj.Transformer:
    """The one cached transformer from ``src`` to ``dst``, with ``always_xy=True``.

    pyproj transformers are thread-safe (each thread gets its own PROJ context), so one
    cached instance serves a thread pool; on Spark each executor builds its own.
    """
    return _cached_transformer(src, dst)  # positional, so a defaulted dst shares the cache entry


@lru_cache(maxsize=256)
def _cached_transformer(src: str, dst: str) -> pyproj.Transformer:
    try:
        return pyproj.Transformer.from_crs(src, dst, always_xy=True)
    except ProjCRSError as exc:
        raise CRSError(f"cannot transform from {_short(src)} to {_short(dst)}: {exc}") from exc


def to_wgs84(x: npt.ArrayLike, y: npt.ArrayLike, crs: str) -> tuple[FloatArray, FloatArray]:
    """Longitude and latitude (degrees, EPSG:4326) of points ``x, y`` in ``crs``."""
    return _transform(get_transformer(crs, "EPSG:4326"), x, y)


def from_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike, crs: str) -> tuple[FloatArray, FloatArray]:
    """Coordinates in ``crs`` of points given as longitude and latitude (EPSG:4326)."""
    return _transform(get_transformer("EPSG:4326", crs), lon, lat)


def local_metric_crs(lon: float, lat: float) -> str:
    """A CRS in metres for measuring around ``(lon, lat)``: its UTM zone.

    Zone ``floor((lon + 180) / 6) + 1``, WGS84 north (EPSG:326zz) or south (EPSG:327zz)
    of the equator; the regular 6° grid is used (the Norway and Svalbard exceptions
    are not: the regular zone still measures there within 0.1 %). Beyond the UTM
    latitudes (above 84° N, below 80° S) the polar stereographic CRSs EPSG:32661 /
    EPSG:32761 are returned.

    >>> local_metric_crs(8.54, 47.37)  # Zurich
    'EPSG:32632'
    >>> local_metric_crs(-70.6, -33.4)  # Santiago
    'EPSG:32719'
    """
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise InputError(f"'lon' must be in [-180, 180] degrees (got {lon})")
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise InputError(f"'lat' must be in [-90, 90] degrees (got {lat})")
    if lat > 84.0:
        return "EPSG:32661"
    if lat < -80.0:
        return "EPSG:32761"
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def linear_unit_metres(crs: str) -> float | None:
    """Metres per unit of a projected CRS's axes (1.0, 0.3048, ...), else ``None``."""
    parsed = _parse(crs)
    if not parsed.is_projected:
        return None
    axis = parsed.axis_info[0]
    if axis.unit_name.lower() in ("degree", "radian", "grad") or not axis.unit_conversion_factor:
        return None
    return float(axis.unit_conversion_factor)


def gsd_metres(transform: AffineTuple, crs: str, width: int, height: int) -> float:
    """Ground sample distance in metres per pixel at the image centre.

    The pixel's column step ``(a, d)`` and row step ``(b, e)`` are measured, so rotated
    and sheared transforms are handled; the result is their geometric mean
    ``sqrt(gsd_col * gsd_row)`` (for square pixels, the pixel size).

    * Projected CRS in a length unit (metre, foot, US survey foot) whose grid is within
      :data:`TRUE_SCALE_TOLERANCE` of the ground: grid size × metres per unit, the
      conventional value (0.5 for a 0.5 m UTM image although UTM's scale is 0.9996).
    * Otherwise (degrees; Web Mercator, whose grid metres grow with latitude): the
      geodesic length on the WGS84 ellipsoid of one pixel step through the centre.

    >>> gsd_metres((0.5, 0.0, 594000.0, 0.0, -0.5, 5758000.0), "EPSG:32631", 100, 100)
    0.5
    """
    a, b, _, d, e, _ = (float(v) for v in transform)
    step_col, step_row = math.hypot(a, d), math.hypot(b, e)
    if not (step_col > 0 and step_row > 0 and math.isfinite(step_col * step_row)):
        raise InputError(f"'transform' must map pixels to a non-degenerate area (got {transform})")
    ground_col, ground_row = _ground_steps(transform, crs, width / 2.0, height / 2.0)
    unit = linear_unit_metres(crs)
    if unit is not None:
        grid_col, grid_row = step_col * unit, step_row * unit
        if _within(grid_col, ground_col) and _within(grid_row, ground_row):
            return math.sqrt(grid_col * grid_row)
        log.debug(
            "%s: grid scale off by more than %.0f %%, using ground distance",
            crs,
            100 * TRUE_SCALE_TOLERANCE,
        )
    return math.sqrt(ground_col * ground_row)


def is_true_scale(transform: AffineTuple, crs: str, col: float, row: float) -> bool:
    """Whether grid lengths of ``crs`` (a projected CRS in a length unit) are within
    :data:`TRUE_SCALE_TOLERANCE` of ground lengths at pixel ``(col, row)``."""
    unit = linear_unit_metres(crs)
    if unit is None:
        return False
    a, b, _, d, e, _ = (float(v) for v in transform)
    ground_col, ground_row = _ground_steps(transform, crs, col, row)
    return _within(math.hypot(a, d) * unit, ground_col) and _within(
        math.hypot(b, e) * unit, ground_row
    )


# -- helpers -------------------------------------------------------------------------


def _transform(
    t: pyproj.Transformer, x: npt.ArrayLike, y: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.shape != ya.shape:
        raise InputError(
            f"coordinate arrays must have the same shape (got {xa.shape} and {ya.shape})"
        )
    if xa.size == 0:
        return xa.copy(), ya.copy()
    ox, oy = t.transform(xa, ya)
    return np.asarray(ox, dtype=np.float64), np.asarray(oy, dtype=np.float64)


def _ground_steps(transform: AffineTuple, crs: str, col: float, row: float) -> tuple[float, float]:
    """Geodesic metres of one column step and one row step centred on pixel (col, row)."""
    a, b, c, d, e, f = (float(v) for v in transform)
    cols = np.array([col - 0.5, col + 0.5, col, col])
    rows = np.array([row, row, row - 0.5, row + 0.5])
    lon, lat = to_wgs84(a * cols + b * rows + c, d * cols + e * rows + f, crs)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise CRSError(
            f"pixel ({col}, {row}) of an image in {_short(crs)} does not map to valid lon/lat"
        )
    _, _, dist = _WGS84_GEOD.inv(lon[[0, 2]], lat[[0, 2]], lon[[1, 3]], lat[[1, 3]])
    return float(dist[0]), float(dist[1])


def _within(grid: float, ground: float) -> bool:
    return abs(grid / ground - 1.0) <= TRUE_SCALE_TOLERANCE if ground > 0 else False


@lru_cache(maxsize=256)
def _parse(crs: str) -> pyproj.CRS:
    try:
        return pyproj.CRS.from_user_input(crs)
    except ProjCRSError as exc:
        raise CRSError(f"unknown CRS {_short(crs)}: {exc}") from exc


def _short(crs: object) -> str:
    text = repr(crs)
    return text if len(text) <= 80 else text[:77] + "..."
