"""Measures of footprint polygons already in EPSG:4326: area in m², centre point.

Pixel boxes become footprints in :mod:`skyscan.geo.footprints` (the pipeline); this
module measures footprints that are already map geometries, for tables that arrive
with polygons only (imported labels, another detector's output) or to re-check a table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import shapely

from skyscan.analytics.metric import areas_m2

if TYPE_CHECKING:
    import geopandas as gpd


def footprint_measures(
    geoms: npt.NDArray[np.object_],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``(area_m2, lon, lat)`` of EPSG:4326 polygons; NaN where a polygon is missing.

    >>> import shapely
    >>> area, lon, lat = footprint_measures(np.array([shapely.box(10.0, 0.0, 10.001, 0.001)]))
    >>> round(float(area[0])), round(float(lon[0]), 4), round(float(lat[0]), 4)
    (12303, 10.0005, 0.0005)
    """
    geoms = np.asarray(geoms, dtype=object)
    centres = shapely.centroid(geoms)
    return areas_m2(geoms), shapely.get_x(centres), shapely.get_y(centres)


def with_footprint_measures(detections: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy of ``detections`` whose ``area_m2``, ``lon``, ``lat`` and ``centroid``
    are computed from the footprint polygons (``geometry``, EPSG:4326)."""
    import geopandas as gpd

    from skyscan.analytics.frames import check_detections_crs

    notes: list[str] = []
    out = check_detections_crs(detections, notes).copy()
    area, lon, lat = footprint_measures(np.asarray(out.geometry.values, dtype=object))
    out["area_m2"], out["lon"], out["lat"] = area, lon, lat
    points = shapely.points(lon, lat)
    points[~np.isfinite(lon)] = None
    out["centroid"] = gpd.GeoSeries(points, index=out.index, crs=out.crs)
    return out
