"""Georeferencing helpers: CRS normalisation, world files, GSD in metres, footprints.

Pure functions on transforms and CRS strings; the only file they read is a world file
or ``.prj`` they are pointed at. Transforms are in rasterio/affine order
``(a, b, c, d, e, f)``: ``x = a*col + b*row + c``, ``y = d*col + e*row + f``, for pixel
*corners* (``(0, 0)`` is the top-left corner of the top-left pixel).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt

from skyscan.errors import CRSError, GeoreferenceError
from skyscan.io import remote
from skyscan.types import AffineTuple

WORLD_FILE_SUFFIXES: dict[str, tuple[str, ...]] = {
    ".tif": (".tfw", ".tifw", ".wld"),
    ".tiff": (".tfw", ".tiffw", ".wld"),
    ".jpg": (".jgw", ".jpgw", ".wld"),
    ".jpeg": (".jgw", ".jpegw", ".wld"),
    ".png": (".pgw", ".pngw", ".wld"),
}


# Ground sample distances that make physical sense for imagery from above, in metres per
# pixel: a millimetre (a close-range drone) to ten kilometres (a coarse global mosaic).
# A GSD outside them is a typo or a broken transform, and would chip an image into
# nothing or into billions of windows.
GSD_RANGE_M = (1e-3, 1e4)


def check_gsd(gsd: float, *, source: str) -> float:
    """Return ``gsd`` when it is a finite number of metres per pixel in :data:`GSD_RANGE_M`."""
    low, high = GSD_RANGE_M
    if not (isinstance(gsd, int | float) and math.isfinite(gsd) and low <= gsd <= high):
        raise GeoreferenceError(
            f"{source}: GSD must be between {low:g} and {high:g} metres per pixel (got {gsd!r})"
        )
    return float(gsd)


def normalise_crs(text: str, *, source: str = "CRS") -> str:
    """``"EPSG:n"`` or WKT2 for any CRS text (see :func:`skyscan.geo.crs.normalize_crs`),
    with ``source`` (the file or option it came from) named in any error."""
    from skyscan.geo.crs import normalize_crs

    try:
        return normalize_crs(text)
    except CRSError as exc:
        raise CRSError(f"{source}: {exc}") from exc.__cause__


def world_file_for(image_path: str | Path) -> str | Path | None:
    """The world file beside ``image_path`` (``.pgw``, ``.jgw``, ``.tfw``, ``.wld``...), if any.

    Beside a remote image each name is probed with one request (lower case only).
    """
    if remote.is_remote(image_path):
        return _remote_sibling(str(image_path), WORLD_FILE_SUFFIXES)
    p = Path(image_path)
    suffixes = WORLD_FILE_SUFFIXES.get(p.suffix.lower(), (".wld",))
    for suffix in suffixes:
        for candidate in (p.with_suffix(suffix), p.with_suffix(suffix.upper())):
            if candidate.is_file():
                return candidate
    return None


def _remote_sibling(path: str, table: dict[str, tuple[str, ...]] | None) -> str | None:
    """The first existing sidecar of a remote image: world files (``table``) or ``.prj``."""
    name = remote.name_of(path)
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    if table is None:
        names = [stem + ".prj", name + ".prj"]
    else:
        names = [stem + s for s in table.get("." + ext.lower(), (".wld",))]
    return next((c for c in (remote.sibling(path, n) for n in names) if remote.exists(c)), None)


def read_text(path: str | Path) -> str:
    """A small text sidecar (world file, ``.prj``), local or remote."""
    if remote.is_remote(path):
        return remote.read_bytes(str(path)).decode("utf-8", errors="replace")
    return Path(path).read_text(encoding="utf-8", errors="replace")


def prj_for(image_path: str | Path) -> str | Path | None:
    """The ``.prj`` beside ``image_path`` (``scene.prj`` or ``scene.png.prj``), if any."""
    if remote.is_remote(image_path):
        return _remote_sibling(str(image_path), None)
    p = Path(image_path)
    for candidate in (p.with_suffix(".prj"), p.with_name(p.name + ".prj"), p.with_suffix(".PRJ")):
        if candidate.is_file():
            return candidate
    return None


def read_world_file(path: str | Path) -> AffineTuple:
    """Read a six-line world file (A, D, B, E, C, F; C/F = centre of the top-left pixel).

    Returns the corner-based transform ``(a, b, c, d, e, f)``.
    """
    try:
        values = [float(line) for line in read_text(path).split()]
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise GeoreferenceError(f"{path}: not a world file (six numbers expected): {exc}") from exc
    if len(values) != 6:
        raise GeoreferenceError(f"{path}: a world file holds six numbers (got {len(values)})")
    a, d, b, e, cx, cy = values
    # Shift from the centre of the top-left pixel to its outer corner.
    return (a, b, cx - a / 2 - b / 2, d, e, cy - d / 2 - e / 2)


def transform_from_bounds(
    west: float, south: float, east: float, north: float, width: int, height: int
) -> AffineTuple:
    """North-up transform for an image of ``width`` x ``height`` covering the bounds."""
    if not (east > west and north > south):
        raise GeoreferenceError(
            f"bounds must have east > west and north > south "
            f"(got west={west}, east={east}, south={south}, north={north})"
        )
    return ((east - west) / width, 0.0, west, 0.0, -(north - south) / height, north)


def pixel_to_world(
    transform: AffineTuple, cols: npt.ArrayLike, rows: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Pixel (col, row) corners to CRS coordinates: ``x = a*col + b*row + c`` (vectorised)."""
    a, b, c, d, e, f = transform
    col = np.asarray(cols, dtype=np.float64)
    row = np.asarray(rows, dtype=np.float64)
    return a * col + b * row + c, d * col + e * row + f


def world_to_pixel(
    transform: AffineTuple, xs: npt.ArrayLike, ys: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Inverse of :func:`pixel_to_world`; refuses a degenerate (non-invertible) transform."""
    a, b, c, d, e, f = transform
    det = a * e - b * d
    if det == 0:
        raise GeoreferenceError(f"transform {transform} is not invertible (determinant 0)")
    x = np.asarray(xs, dtype=np.float64) - c
    y = np.asarray(ys, dtype=np.float64) - f
    return (e * x - b * y) / det, (-d * x + a * y) / det


def check_transform(transform: AffineTuple, *, source: str) -> None:
    """Refuse NaN/inf or degenerate transforms (a broken world file or tag)."""
    if not all(math.isfinite(v) for v in transform):
        raise GeoreferenceError(f"{source}: transform has non-finite values {transform}")
    a, b, _, d, e, _ = transform
    if a * e - b * d == 0:
        raise GeoreferenceError(f"{source}: transform {transform} is degenerate (zero pixel area)")


def to_lonlat(
    crs_text: str, xs: npt.ArrayLike, ys: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Coordinates in ``crs_text`` to WGS84 longitude/latitude (one place: :mod:`skyscan.geo.crs`)."""
    from skyscan.geo.crs import to_wgs84

    lon, lat = to_wgs84(np.asarray(xs, float), np.asarray(ys, float), crs_text)
    return np.asarray(lon, np.float64), np.asarray(lat, np.float64)


def footprint_lonlat(
    transform: AffineTuple, crs_text: str, width: int, height: int
) -> list[tuple[float, float]]:
    """Image corners in lon/lat: top-left, top-right, bottom-right, bottom-left."""
    xs, ys = pixel_to_world(transform, [0, width, width, 0], [0, 0, height, height])
    lon, lat = to_lonlat(crs_text, xs, ys)
    return [(float(x), float(y)) for x, y in zip(lon, lat, strict=True)]


def gsd_metres(transform: AffineTuple, crs_text: str, width: int, height: int) -> float:
    """Ground sample distance in metres per pixel; see :func:`skyscan.geo.crs.gsd_metres`
    (grid units where the CRS is true to scale, geodesic ground distance elsewhere, e.g.
    Web Mercator or geographic CRSs)."""
    from skyscan.geo.crs import gsd_metres as _gsd

    gsd = _gsd(transform, crs_text, width, height)
    return check_gsd(gsd, source=f"transform {transform}")
