"""An area of interest: only the chips that touch it are read, only detections inside it kept.

:class:`AreaOfInterest` is a frozen value object holding one (multi)polygon as WKB with
its CRS, so it pickles to Spark executors and fingerprints a run. For an image it is
clipped to the image's footprint (in the area's CRS, with the footprint's edges
densified), then carried into the image's CRS and through the inverse affine into pixel
space (:meth:`AreaOfInterest.in_pixels`): a country's boundary with many vertices then
costs each image only the part that crosses it. Chip windows are tested against it as an
array of boxes (:func:`touching`), detection centres as an array of points
(:func:`inside`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import shapely

from skyscan.errors import GeoreferenceError, InputError
from skyscan.types import ChipWindow, ImageRef

DEFAULT_CRS = "EPSG:4326"  # WKT without a CRS, and GeoJSON, are longitude/latitude
FOOTPRINT_STEPS = 32  # points per edge of the image footprint carried into the area's CRS


@dataclass(frozen=True)
class AreaOfInterest:
    """A polygonal area (``wkb``) in ``crs``; build it with :func:`load_aoi`."""

    wkb: bytes
    crs: str
    source: str = ""  # where it came from (a file name or "WKT"), for messages and run.json

    def __post_init__(self) -> None:
        geom = shapely.from_wkb(self.wkb)
        if geom is None or geom.is_empty or shapely.get_type_id(geom) not in (3, 6):
            raise InputError(
                f"'aoi' must be a non-empty polygon or multipolygon (got {self.source or 'geometry'})"
            )
        from skyscan.geo.crs import normalize_crs

        object.__setattr__(self, "crs", normalize_crs(self.crs))

    @property
    def geometry(self) -> shapely.Geometry:
        return shapely.from_wkb(self.wkb)

    def in_pixels(self, ref: ImageRef) -> shapely.Geometry:
        """The part of the area over ``ref``, in its pixel coordinates (maybe empty).

        An image without georeferencing cannot be placed: :class:`GeoreferenceError`.
        """
        if ref.transform is None or ref.crs is None:
            raise GeoreferenceError(
                f"{ref.path}: not georeferenced, so it cannot be matched against the area of "
                "interest (--aoi); pass --crs/--gsd sidecars or leave the image out"
            )
        from skyscan.geo.crs import get_transformer
        from skyscan.geo.footprints import crs_to_pixel, pixel_to_crs

        # the footprint, densified, in the area's CRS: clip the area there
        t = np.linspace(0.0, 1.0, FOOTPRINT_STEPS, endpoint=False)
        w, h = ref.width, ref.height
        cols = np.concatenate([t * w, np.full_like(t, w), (1 - t) * w, np.zeros_like(t)])
        rows = np.concatenate([np.zeros_like(t), t * h, np.full_like(t, h), (1 - t) * h])
        xs, ys = pixel_to_crs(cols, rows, ref.transform)
        to_area = get_transformer(ref.crs, self.crs)
        ax, ay = to_area.transform(xs, ys)
        footprint = shapely.make_valid(shapely.polygons(np.column_stack([ax, ay])))
        clipped = shapely.intersection(self.geometry, footprint)
        if clipped.is_empty:
            return clipped
        to_image = get_transformer(self.crs, ref.crs)
        transform = ref.transform  # narrowed above; a closure would lose the narrowing

        def to_pixels(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            x, y = to_image.transform(coords[:, 0], coords[:, 1])
            c, r = crs_to_pixel(x, y, transform)
            return np.column_stack([c, r])

        pixels = shapely.make_valid(shapely.transform(clipped, to_pixels))
        shapely.prepare(pixels)
        return pixels


def touching(area_px: shapely.Geometry, windows: list[ChipWindow]) -> npt.NDArray[np.bool_]:
    """Which windows touch the area (pixel space), as one vectorised test."""
    if not windows or area_px.is_empty:
        return np.zeros(len(windows), bool)
    c0 = np.array([w.col_off for w in windows], np.float64)
    r0 = np.array([w.row_off for w in windows], np.float64)
    boxes = shapely.box(c0, r0, c0 + [w.width for w in windows], r0 + [w.height for w in windows])
    return np.asarray(shapely.intersects(area_px, boxes), bool)


def inside(
    area_px: shapely.Geometry, cols: npt.ArrayLike, rows: npt.ArrayLike
) -> npt.NDArray[np.bool_]:
    """Which points (pixel centres of detections) lie in the area (edges included).

    >>> inside(shapely.box(0, 0, 10, 10), [5, 15], [5, 5]).tolist()
    [True, False]
    """
    return np.asarray(
        shapely.intersects_xy(area_px, np.asarray(cols, float), np.asarray(rows, float)), bool
    )


def load_aoi(value: str | os.PathLike[str], crs: str | None = None) -> AreaOfInterest:
    """An area of interest from a vector file (GeoJSON, GeoPackage, shapefile...: every
    feature's polygons together, in the file's CRS) or from WKT (``crs``, else
    ``SRID=n;`` before the WKT, else EPSG:4326).

    >>> load_aoi("POLYGON((8 47, 9 47, 9 48, 8 48, 8 47))").crs
    'EPSG:4326'
    >>> load_aoi("SRID=2056;POLYGON((2683000 1247000, 2684000 1247000, 2684000 1248000, 2683000 1247000))").crs
    'EPSG:2056'
    """
    from skyscan.analytics.areas import is_wkt, read_area_shapes

    text = os.fspath(value)
    wkt = is_wkt(text)
    if wkt and crs is None and not text.strip().upper().startswith("SRID="):
        crs = DEFAULT_CRS  # WKT without a CRS: longitude/latitude
    try:
        areas = read_area_shapes(text, crs=crs, polygons_only=True, crs_flag="aoi-crs")
    except InputError as exc:
        raise type(exc)(f"'aoi': {exc}") from exc
    area = shapely.make_valid(shapely.union_all(areas.geometries))
    return AreaOfInterest(
        shapely.to_wkb(area), areas.crs.to_string(), source="WKT" if wkt else Path(text).name
    )
