"""Detections inside an area of interest (one or more polygons, any CRS)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from skyscan.analytics.frames import (
    check_detections_crs,
    detection_geometries,
    detection_lonlat,
    missing_geometries,
    note,
    report_unplaced,
    to_crs_reported,
)
from skyscan.analytics.join import join_geometries_to_zones, join_points_to_zones
from skyscan.errors import InputError

if TYPE_CHECKING:
    import geopandas as gpd

    from skyscan.analytics.areas import Areas

logger = logging.getLogger(__name__)

WITHIN_PREDICATES = ("intersects", "within")


def points_in_areas(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    areas: npt.NDArray[np.object_],
    predicate: str = "intersects",
) -> npt.NDArray[np.bool_]:
    """Mask of points inside any of ``areas`` (EPSG:4326). ``"intersects"`` counts a
    point on the boundary as inside; ``"within"`` does not.

    >>> import shapely
    >>> points_in_areas([0.5, 1.0, 2.0], [0.5, 0.5, 0.5], shapely.box([0], [0], [1], [1]))
    array([ True,  True, False])
    """
    if predicate not in WITHIN_PREDICATES:
        raise InputError(f"'predicate' must be one of {WITHIN_PREDICATES} (got {predicate!r})")
    lon = np.asarray(lon, dtype=np.float64)
    mask = np.zeros(lon.shape, dtype=bool)
    point_idx, _ = join_points_to_zones(lon, lat, areas, predicate)
    mask[point_idx] = True
    return mask


@dataclass(frozen=True)
class WithinResult:
    """The detections inside the area, and the counts that add up to the input."""

    table: gpd.GeoDataFrame
    inside: int
    outside: int
    unplaced: int  # detections without coordinates (image not georeferenced)
    notes: tuple[str, ...]


def within_area(
    detections: gpd.GeoDataFrame,
    areas: Areas | gpd.GeoDataFrame,
    *,
    using: str = "centroid",
    predicate: str = "intersects",
) -> WithinResult:
    """Keep detections whose centre (``using="centroid"``) or footprint lies in the area.

    With footprints, ``predicate="intersects"`` keeps boxes touching the area and
    ``"within"`` only boxes entirely inside it. Areas in another CRS are reprojected to
    EPSG:4326, and the reprojection is reported in ``notes``.
    """
    from skyscan.analytics.areas import Areas, prepare_areas

    if predicate not in WITHIN_PREDICATES:
        raise InputError(f"'predicate' must be one of {WITHIN_PREDICATES} (got {predicate!r})")
    notes: list[str] = []
    if not isinstance(areas, Areas):
        areas = prepare_areas(areas, source="area of interest")
    notes.extend(areas.notes)
    detections = check_detections_crs(detections, notes)
    frame = to_crs_reported(areas.frame, detections.crs, "area of interest", notes)
    geoms = np.asarray(frame.geometry.values, dtype=object)
    det_geoms = detection_geometries(detections, using)
    unplaced = report_unplaced(
        missing_geometries(det_geoms), notes, "cannot be inside the area (not in output)"
    )
    if using == "centroid":
        lon, lat = detection_lonlat(detections)
        mask = points_in_areas(lon, lat, geoms, predicate)
    else:
        idx, _ = join_geometries_to_zones(det_geoms, geoms, predicate)
        mask = np.zeros(len(detections), dtype=bool)
        mask[idx] = True
    inside = int(mask.sum())
    outside = len(detections) - inside - unplaced
    note(
        notes,
        f"within ({predicate}, {using}): {inside} inside, {outside} outside, {unplaced} without coordinates",
    )
    return WithinResult(
        detections[mask].reset_index(drop=True), inside, outside, unplaced, tuple(notes)
    )
