"""Metres, never degrees: projecting lon/lat into local metric CRSs.

Points are grouped by the metric CRS that :func:`skyscan.geo.crs.local_metric_crs` picks
for them (a UTM zone), so a dataset spanning two zones is measured in two CRSs rather
than distorted in one. The choice is made per 1° cell, which is exact for UTM (zone
edges fall on whole degrees) and calls ``local_metric_crs`` once per cell, not per point.
"""

from __future__ import annotations

import logging
from types import ModuleType

import numpy as np
import numpy.typing as npt
import shapely

logger = logging.getLogger(__name__)

WGS84 = "EPSG:4326"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
GeomArray = npt.NDArray[np.object_]  # object array of shapely geometries


def _crs_module() -> ModuleType:
    # Imported lazily: skyscan.geo.crs is owned by the geo helper and pulls in pyproj.
    from skyscan.geo import crs

    return crs


def metric_groups(lon: npt.ArrayLike, lat: npt.ArrayLike) -> list[tuple[str, IntArray]]:
    """Split points by local metric CRS: ``[(crs, indices), ...]``, ordered by CRS name.

    Points with non-finite coordinates belong to no group.

    >>> metric_groups([9.1, 9.2, 15.0], [50.0, 50.1, 50.0])
    [('EPSG:32632', array([0, 1])), ('EPSG:32633', array([2]))]
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    ok = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
    if ok.size == 0:
        return []
    # 1° cells; lon 180 and lat 90 fold into the last cell.
    cx = np.clip(np.floor(lon[ok]), -180, 179).astype(np.int64)
    cy = np.clip(np.floor(lat[ok]), -90, 89).astype(np.int64)
    keys, inverse = np.unique((cx + 180) * 180 + (cy + 90), return_inverse=True)
    local_metric_crs = _crs_module().local_metric_crs
    cell_crs = np.array(
        [local_metric_crs(float(k // 180 - 180) + 0.5, float(k % 180 - 90) + 0.5) for k in keys],
        dtype=object,
    )
    point_crs = cell_crs[inverse.ravel()]
    groups = []
    for crs in sorted(set(cell_crs.tolist())):
        groups.append((str(crs), ok[point_crs == crs]))
    return groups


def project_xy(
    lon: FloatArray, lat: FloatArray, dst: str, src: str = WGS84
) -> tuple[FloatArray, FloatArray]:
    """Project coordinate arrays from ``src`` to ``dst`` (x, y order on both sides)."""
    transformer = _crs_module().get_transformer(src, dst)
    x, y = transformer.transform(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
    return np.asarray(x, np.float64), np.asarray(y, np.float64)


def project_geometries(geoms: GeomArray, dst: str, src: str = WGS84) -> GeomArray:
    """Project a shapely array vertex by vertex (one vectorized transform call)."""
    transformer = _crs_module().get_transformer(src, dst)

    def _transform(coords: FloatArray) -> FloatArray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(np.asarray(geoms, dtype=object), _transform)


def areas_m2(geoms: GeomArray) -> FloatArray:
    """Area on the ground, m², of EPSG:4326 geometries (NaN for missing ones).

    Each geometry is measured in the metric CRS of its representative point.
    """
    geoms = np.asarray(geoms, dtype=object)
    out = np.full(len(geoms), np.nan)
    present = ~shapely.is_missing(geoms)
    if not present.any():
        return out
    reps = shapely.point_on_surface(geoms[present])
    idx = np.flatnonzero(present)
    for crs, members in metric_groups(shapely.get_x(reps), shapely.get_y(reps)):
        out[idx[members]] = shapely.area(project_geometries(geoms[idx[members]], crs))
    return out
