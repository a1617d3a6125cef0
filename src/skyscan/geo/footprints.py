"""Pixel boxes become map coordinates once, here.

A box ``(x1, y1, x2, y2)`` is in image pixel coordinates whose integer grid lines are
pixel corners (pixel ``(col, row)`` covers ``[col, col + 1) × [row, row + 1)``), the
convention of rasterio and GDAL affine transforms. The affine maps each corner to the
source CRS (a rotated transform gives a rotated quadrilateral, not an axis-aligned box),
then one cached ``always_xy`` transformer takes the corners to EPSG:4326.

Edges are not densified: a box is a few metres across, where a straight edge in the
source CRS and in lon/lat differ by far less than a pixel. Boxes crossing the
antimeridian are not split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

from skyscan.errors import InputError
from skyscan.geo.crs import get_transformer, is_true_scale, linear_unit_metres, to_wgs84
from skyscan.types import AffineTuple

__all__ = ["Footprints", "crs_to_pixel", "footprint_lonlat", "footprints", "pixel_to_crs"]

FloatArray = npt.NDArray[np.float64]
ObjectArray = npt.NDArray[np.object_]


@dataclass(frozen=True, eq=False)
class Footprints:
    """Map coordinates of N pixel boxes (arrays of length N, all in the boxes' order).

    ``polygons_wgs84``: shapely Polygons in EPSG:4326 (lon, lat); ``centroids_wgs84``:
    shapely Points at the box centres; ``lon``/``lat``: those centres; ``src_x``/``src_y``:
    the centres in the source CRS; ``area_m2``: ground area in square metres (see
    :func:`footprints`); ``polygons_src``: the quadrilaterals in the source CRS.
    """

    polygons_wgs84: ObjectArray
    centroids_wgs84: ObjectArray
    lon: FloatArray
    lat: FloatArray
    src_x: FloatArray
    src_y: FloatArray
    area_m2: FloatArray
    polygons_src: ObjectArray

    def __len__(self) -> int:
        return len(self.lon)


def pixel_to_crs(
    cols: npt.ArrayLike, rows: npt.ArrayLike, transform: AffineTuple
) -> tuple[FloatArray, FloatArray]:
    """Source-CRS coordinates of pixel positions: ``x = a*col + b*row + c``,
    ``y = d*col + e*row + f`` with ``transform = (a, b, c, d, e, f)``.

    >>> pixel_to_crs([0, 2], [0, 1], (0.5, 0.0, 100.0, 0.0, -0.5, 50.0))
    (array([100., 101.]), array([50. , 49.5]))
    """
    a, b, c, d, e, f = _affine(transform)
    col = np.asarray(cols, dtype=np.float64)
    row = np.asarray(rows, dtype=np.float64)
    return a * col + b * row + c, d * col + e * row + f


def crs_to_pixel(
    x: npt.ArrayLike, y: npt.ArrayLike, transform: AffineTuple
) -> tuple[FloatArray, FloatArray]:
    """Fractional pixel positions of source-CRS points: the inverse affine,
    ``col = (e*(x - c) - b*(y - f)) / det``, ``row = (a*(y - f) - d*(x - c)) / det``
    with ``det = a*e - b*d`` (an :class:`InputError` when it is 0)."""
    a, b, c, d, e, f = _affine(transform)
    det = a * e - b * d
    if det == 0.0:
        raise InputError(f"'transform' is not invertible (determinant 0) (got {transform})")
    dx = np.asarray(x, dtype=np.float64) - c
    dy = np.asarray(y, dtype=np.float64) - f
    return (e * dx - b * dy) / det, (a * dy - d * dx) / det


def footprint_lonlat(
    transform: AffineTuple, crs: str, width: int, height: int
) -> list[tuple[float, float]]:
    """An image's corners in lon/lat: top-left, top-right, bottom-right, bottom-left."""
    xs, ys = pixel_to_crs([0, width, width, 0], [0, 0, height, height], transform)
    lon, lat = to_wgs84(xs, ys, crs)
    return [(float(x), float(y)) for x, y in zip(lon, lat, strict=True)]


def footprints(boxes_px: npt.ArrayLike, transform: AffineTuple, crs: str) -> Footprints:
    """Footprints, centres and ground areas of pixel boxes of an image in ``crs``.

    ``area_m2`` is the area on the ground: when ``crs`` is projected in a length unit
    and true to scale within 1 % at the boxes (UTM, national grids) it is the planar
    area in that CRS (``pixels × |det(transform)| × metres-per-unit²``); otherwise
    (degrees, Web Mercator) it is computed in a Lambert azimuthal equal-area projection
    of the WGS84 ellipsoid centred near the boxes, which for boxes this small equals
    the geodesic area (``pyproj.Geod``) to well under 0.1 %.
    """
    boxes = np.asarray(boxes_px, dtype=np.float64)
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise InputError(f"'boxes_px' must have shape (N, 4) xyxy (got {boxes.shape})")
    if not np.isfinite(boxes).all():
        raise InputError("'boxes_px' must be finite (got NaN or inf)")
    x1, y1, x2, y2 = boxes.T
    # corners in ring order (N, 4): top-left, top-right, bottom-right, bottom-left
    ccol = np.stack([x1, x2, x2, x1], axis=1)
    crow = np.stack([y1, y1, y2, y2], axis=1)
    qx, qy = pixel_to_crs(ccol, crow, transform)
    qlon, qlat = to_wgs84(qx, qy, crs)
    src_x, src_y = pixel_to_crs((x1 + x2) / 2.0, (y1 + y2) / 2.0, transform)
    lon, lat = to_wgs84(src_x, src_y, crs)
    return Footprints(
        polygons_wgs84=_ccw_quads(qlon, qlat),
        centroids_wgs84=shapely.points(lon, lat),
        lon=lon,
        lat=lat,
        src_x=src_x,
        src_y=src_y,
        area_m2=_ground_area(boxes, transform, crs, qlon, qlat),
        polygons_src=_ccw_quads(qx, qy),
    )


def _signed_area(x: FloatArray, y: FloatArray) -> FloatArray:
    """Shoelace signed area of (N, 4) quads, positive when counter-clockwise."""
    return (x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y).sum(axis=1) / 2.0


def _ccw_quads(x: FloatArray, y: FloatArray) -> ObjectArray:
    """Polygons from (N, 4) corner arrays, exterior rings counter-clockwise (RFC 7946)
    whatever the transform's handedness (a flipped or south-up transform reverses them)."""
    cw = _signed_area(x, y) < 0
    x = np.where(cw[:, None], x[:, ::-1], x)
    y = np.where(cw[:, None], y[:, ::-1], y)
    return shapely.polygons(np.stack([x, y], axis=-1).reshape(-1, 4, 2))


def _ground_area(
    boxes: FloatArray, transform: AffineTuple, crs: str, qlon: FloatArray, qlat: FloatArray
) -> FloatArray:
    if len(boxes) == 0:
        return np.zeros(0)
    a, b, _, d, e, _ = _affine(transform)
    px_area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    unit = linear_unit_metres(crs)
    centre = _median((boxes[:, :2] + boxes[:, 2:]) / 2.0)
    if unit is not None and is_true_scale(transform, crs, float(centre[0]), float(centre[1])):
        return px_area * abs(a * e - b * d) * unit * unit
    # Equal-area projection centred on the boxes, rounded to 0.1° so the transformer is reused.
    lon0 = round(float(_median(qlon.ravel())), 1)
    lat0 = round(float(_median(qlat.ravel())), 1)
    laea = f"+proj=laea +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m +no_defs +type=crs"
    ex, ey = get_transformer("EPSG:4326", laea).transform(qlon, qlat)
    return np.abs(_signed_area(np.asarray(ex), np.asarray(ey)))


def _median(values: FloatArray) -> FloatArray:
    """``np.median(values, axis=0)``, which imports ``numpy.ma`` (20-50 ms of a fresh
    command) on first use."""
    ordered = np.sort(values, axis=0)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def _affine(transform: AffineTuple) -> tuple[float, float, float, float, float, float]:
    values = tuple(float(v) for v in tuple(transform)[:6])
    if len(values) != 6 or not all(np.isfinite(values)):
        raise InputError(
            f"'transform' must be 6 finite numbers (a, b, c, d, e, f) (got {transform})"
        )
    a, b, c, d, e, f = values
    return a, b, c, d, e, f
