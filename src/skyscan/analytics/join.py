"""Spatial joins of detections (centre points or footprints) with zones.

Predicates read from the detection's side, like ``geopandas.sjoin``: ``within`` keeps
(detection, zone) pairs where the detection lies inside the zone, ``contains`` where the
detection contains the zone, ``intersects`` where they share any point (boundary
included), ``dwithin`` where they are at most ``distance_m`` metres apart (measured in a
local metric CRS).

Points against polygons take a fast path: candidate pairs come from a uniform grid over
the zones' bounding boxes (pure numpy: no point geometries are built), grouped by zone so
each prepared polygon is tested against its points in one run (``shapely.intersects_xy``
/ ``contains_xy``, the same GEOS predicates ``sjoin`` evaluates). Everything else goes
through ``shapely.STRtree.query``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import shapely

from skyscan.analytics.frames import (
    check_detections_crs,
    detection_geometries,
    detection_lonlat,
    missing_geometries,
    note,
    report_unplaced,
    to_crs_reported,
)
from skyscan.analytics.metric import metric_groups, project_geometries
from skyscan.errors import InputError

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from skyscan.analytics.areas import Areas

logger = logging.getLogger(__name__)

PREDICATES = ("intersects", "within", "contains", "dwithin")
HOW = ("inner", "left")
ZONE_PREFIX = "zone_"

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
GeomArray = npt.NDArray[np.object_]

# Grid sizing: cells about the size of a typical zone; at most this many zone-cell
# entries per zone on average before the cell size is doubled.
_MAX_ENTRIES_PER_ZONE = 32
_MAX_GRID_CELLS = 1 << 40


def check_predicate(predicate: str, distance_m: float | None) -> None:
    """Raise a clear error for an unknown predicate or a missing/stray distance."""
    if predicate not in PREDICATES:
        raise InputError(f"'predicate' must be one of {PREDICATES} (got {predicate!r})")
    if predicate == "dwithin":
        if distance_m is None or not np.isfinite(distance_m) or distance_m < 0:
            raise InputError(
                f"predicate 'dwithin' needs 'distance_m' >= 0 metres (got {distance_m!r})"
            )
    elif distance_m is not None:
        raise InputError(
            f"'distance_m' only applies to predicate 'dwithin' (got predicate {predicate!r})"
        )


def join_points_to_zones(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    zones: GeomArray,
    predicate: str = "intersects",
    distance_m: float | None = None,
) -> tuple[IntArray, IntArray]:
    """Pairs ``(point_idx, zone_idx)`` where ``predicate(point, zone)`` holds.

    ``lon``/``lat`` and ``zones`` are EPSG:4326; non-finite coordinates never match.
    Output is sorted by point, then zone.

    >>> zones = shapely.box([0, 1], [0, 0], [2, 3], [1, 1])  # two overlapping boxes
    >>> join_points_to_zones([0.5, 1.5, 9.0], [0.5, 0.5, 9.0], zones)
    (array([0, 1, 1]), array([0, 0, 1]))
    """
    check_predicate(predicate, distance_m)
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    zones = np.asarray(zones, dtype=object)
    if x.shape != y.shape or x.ndim != 1:
        raise InputError(
            f"'lon' and 'lat' must be 1-D arrays of one length (got {x.shape} and {y.shape})"
        )
    if predicate == "dwithin":
        assert distance_m is not None
        return _dwithin_points(x, y, zones, distance_m)
    if predicate in ("intersects", "within") and _all_polygonal(zones):
        return _points_in_polygons(x, y, zones, boundary=predicate == "intersects")
    points = shapely.points(x, y)
    points[~(np.isfinite(x) & np.isfinite(y))] = None
    return join_geometries_to_zones(points, zones, predicate)


def join_geometries_to_zones(
    geoms: GeomArray,
    zones: GeomArray,
    predicate: str = "intersects",
    distance_m: float | None = None,
) -> tuple[IntArray, IntArray]:
    """Pairs ``(geom_idx, zone_idx)`` where ``predicate(geom, zone)`` holds (EPSG:4326).

    Missing geometries never match. Output is sorted by geometry, then zone.
    """
    check_predicate(predicate, distance_m)
    geoms = np.asarray(geoms, dtype=object)
    zones = np.asarray(zones, dtype=object)
    if predicate == "dwithin":
        assert distance_m is not None
        reps = shapely.point_on_surface(geoms)
        return _dwithin_geoms(geoms, shapely.get_x(reps), shapely.get_y(reps), zones, distance_m)
    tree = shapely.STRtree(zones)
    pairs = tree.query(geoms, predicate=predicate)
    return _sorted_pairs(pairs[0], pairs[1], len(zones))


def _sorted_pairs(a: npt.ArrayLike, b: npt.ArrayLike, nb: int) -> tuple[IntArray, IntArray]:
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    order = stable_argsort(a * max(nb, 1) + b)
    return a[order], b[order]


def stable_argsort(keys: npt.NDArray[np.int64]) -> IntArray:
    """Stable argsort of non-negative integer keys.

    NumPy sorts 16-bit integers with a radix sort (O(n)); wider keys are sorted 16 bits
    at a time, least significant first, which is 2-3× faster than ``np.argsort`` on
    int64 for the million-row arrays a join produces.
    """
    keys = np.asarray(keys, dtype=np.int64)
    if keys.size == 0:
        return np.zeros(0, np.int64)
    top = int(keys.max())
    if int(keys.min()) < 0 or top >= 1 << 48:
        return np.argsort(keys, kind="stable").astype(np.int64)
    order = np.arange(keys.size, dtype=np.int64)
    shift = 0
    while True:
        digit = ((keys[order] >> shift) & 0xFFFF).astype(np.uint16)
        order = order[np.argsort(digit, kind="stable")]
        shift += 16
        if top >> shift == 0:
            return order


def _all_polygonal(zones: GeomArray) -> bool:
    return bool(np.all(np.isin(shapely.get_type_id(zones), [3, 6])))


def _points_in_polygons(
    x: FloatArray, y: FloatArray, zones: GeomArray, *, boundary: bool
) -> tuple[IntArray, IntArray]:
    """Exact point-in-polygon join: grid candidates by zone, then GEOS on (x, y)."""
    pi, zi = _grid_candidates(x, y, shapely.bounds(zones))
    if pi.size:
        shapely.prepare(zones)
        test = shapely.intersects_xy if boundary else shapely.contains_xy
        keep = test(zones[zi], x[pi], y[pi])
        pi, zi = pi[keep], zi[keep]
    # Pairs come grouped by zone in ascending order: a stable sort by point alone
    # yields (point, zone) order.
    order = stable_argsort(pi)
    return pi[order], zi[order]


def _grid_candidates(x: FloatArray, y: FloatArray, bounds: FloatArray) -> tuple[IntArray, IntArray]:
    """Candidate (point, zone) pairs whose point lies in the zone's bounding box.

    Zones are registered in every cell of a uniform grid their box touches; points look
    up their one cell. Pairs come out grouped by zone. The cell index ``floor((v -
    origin) / size)`` is monotonic in ``v``, so a point on a box edge lands in a cell the
    box covers: the prefilter never loses a pair.
    """
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    finite = np.isfinite(x) & np.isfinite(y)
    nz = len(bounds)
    if nz == 0 or not finite.any():
        return empty
    x0, y0 = float(bounds[:, 0].min()), float(bounds[:, 1].min())
    x1, y1 = float(bounds[:, 2].max()), float(bounds[:, 3].max())
    extent = max(x1 - x0, y1 - y0, 1e-12)
    size = max(
        float(np.median(np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1]))),
        extent / 4096,
    )
    bx0, by0, bx1, by1 = (np.ascontiguousarray(bounds[:, i]) for i in range(4))
    # Cells a quarter of the median zone size: few false candidates per point; grown
    # while zones would register in too many cells.
    size = max(float(np.median(np.maximum(bx1 - bx0, by1 - by0))) / 4.0, extent / 65536)
    while True:
        c0x = np.floor((bx0 - x0) / size).astype(np.int64)
        c1x = np.floor((bx1 - x0) / size).astype(np.int64)
        c0y = np.floor((by0 - y0) / size).astype(np.int64)
        c1y = np.floor((by1 - y0) / size).astype(np.int64)
        ny = c1y - c0y + 1
        per_zone = (c1x - c0x + 1) * ny
        total = int(per_zone.sum())
        ncols = int(c1y.max()) + 1
        if (
            total <= _MAX_ENTRIES_PER_ZONE * nz + 1024
            and (int(c1x.max()) + 1) * ncols < _MAX_GRID_CELLS
        ):
            break
        size *= 2.0
    # Zone-cell entries: zone z covers cells (c0x..c1x) × (c0y..c1y).
    zone_of = np.repeat(np.arange(nz, dtype=np.int64), per_zone)
    offset = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(per_zone) - per_zone, per_zone)
    entry_key = (c0x[zone_of] + offset // ny[zone_of]) * ncols + (
        c0y[zone_of] + offset % ny[zone_of]
    )
    # Points inside the zones' overall box, sorted by cell.
    inside = np.flatnonzero(finite & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
    if inside.size == 0:
        return empty
    pkey = np.floor((x[inside] - x0) / size).astype(np.int64) * ncols + np.floor(
        (y[inside] - y0) / size
    ).astype(np.int64)
    order = stable_argsort(pkey)
    pkey_sorted = pkey[order]
    start = np.searchsorted(pkey_sorted, entry_key, side="left")
    count = np.searchsorted(pkey_sorted, entry_key, side="right") - start
    n_pairs = int(count.sum())
    zi = np.repeat(zone_of, count)
    pos = (
        np.repeat(start, count)
        + np.arange(n_pairs, dtype=np.int64)
        - np.repeat(np.cumsum(count) - count, count)
    )
    pi = inside[order[pos]]
    xb, yb = x[pi], y[pi]
    keep = (xb >= bx0[zi]) & (xb <= bx1[zi]) & (yb >= by0[zi]) & (yb <= by1[zi])
    return pi[keep], zi[keep]


def _dwithin_points(
    x: FloatArray, y: FloatArray, zones: GeomArray, distance_m: float
) -> tuple[IntArray, IntArray]:
    points = shapely.points(x, y)
    return _dwithin_geoms(points, x, y, zones, distance_m)


def _dwithin_geoms(
    geoms: GeomArray, x: FloatArray, y: FloatArray, zones: GeomArray, distance_m: float
) -> tuple[IntArray, IntArray]:
    """Distance join in metres: each metric-CRS group of detections is projected with
    the zones near it, and queried with STRtree ``dwithin``."""
    gi_all: list[IntArray] = []
    zi_all: list[IntArray] = []
    zone_bounds = shapely.bounds(zones)
    geom_bounds = shapely.bounds(geoms)
    for crs, members in metric_groups(x, y):
        # Zones near this group: the box of its geometries grown by the distance in
        # degrees (longitude degrees shrink with cos(latitude): use the poleward edge).
        gx0, gy0 = np.nanmin(geom_bounds[members, :2], axis=0)
        gx1, gy1 = np.nanmax(geom_bounds[members, 2:], axis=0)
        dlat = distance_m / 110_000.0 + 1e-6
        poleward = min(90.0, max(abs(gy0), abs(gy1)) + dlat)
        dlon = min(360.0, distance_m / (111_320.0 * max(np.cos(np.radians(poleward)), 1e-3)) + 1e-6)
        near = np.flatnonzero(
            (zone_bounds[:, 2] >= gx0 - dlon)
            & (zone_bounds[:, 0] <= gx1 + dlon)
            & (zone_bounds[:, 3] >= gy0 - dlat)
            & (zone_bounds[:, 1] <= gy1 + dlat)
        )
        if near.size == 0:
            continue
        tree = shapely.STRtree(project_geometries(zones[near], crs))
        pairs = tree.query(
            project_geometries(geoms[members], crs), predicate="dwithin", distance=distance_m
        )
        gi_all.append(members[pairs[0]])
        zi_all.append(near[pairs[1]])
    if not gi_all:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return _sorted_pairs(np.concatenate(gi_all), np.concatenate(zi_all), len(zones))


@dataclass(frozen=True)
class JoinResult:
    """Detections with zone attributes, one row per (detection, zone) match."""

    table: gpd.GeoDataFrame
    matched: int  # detections with at least one zone
    unmatched: int  # georeferenced detections with no zone
    unplaced: int  # detections without coordinates
    notes: tuple[str, ...]


def spatial_join(
    detections: gpd.GeoDataFrame,
    zones: Areas | gpd.GeoDataFrame,
    *,
    using: str = "centroid",
    predicate: str = "intersects",
    distance_m: float | None = None,
    how: str = "inner",
    zone_columns: list[str] | None = None,
) -> JoinResult:
    """Join detections to zones; zone attributes land on each detection as ``zone_*``.

    ``how="left"`` keeps every detection (zone columns null where none matched);
    ``"inner"`` keeps matched pairs only. Zones in another CRS are reprojected to the
    detections' EPSG:4326 and the reprojection is reported in ``notes``.
    """
    check_predicate(predicate, distance_m)
    if how not in HOW:
        raise InputError(f"'how' must be one of {HOW} (got {how!r})")
    notes: list[str] = []
    zone_frame = _zone_frame(zones, notes)
    detections = check_detections_crs(detections, notes)
    zone_frame = to_crs_reported(zone_frame, detections.crs, "zones", notes)
    attrs = _zone_attributes(zone_frame, zone_columns)
    zone_geoms = np.asarray(zone_frame.geometry.values, dtype=object)
    action = "match no zone" + (
        " (kept, zone columns null)" if how == "left" else " (not in output)"
    )
    if using == "centroid":
        # Centres come from lon/lat: no point geometries are built on this path.
        lon, lat = detection_lonlat(detections)
        unplaced = report_unplaced(~(np.isfinite(lon) & np.isfinite(lat)), notes, action)
        di, zi = join_points_to_zones(lon, lat, zone_geoms, predicate, distance_m)
    else:
        geoms = detection_geometries(detections, using)
        unplaced = report_unplaced(missing_geometries(geoms), notes, action)
        di, zi = join_geometries_to_zones(geoms, zone_geoms, predicate, distance_m)
    hit = np.zeros(len(detections), dtype=bool)
    hit[di] = True
    matched = int(hit.sum())
    zones_hit = int(np.count_nonzero(np.bincount(zi, minlength=len(zone_frame))))
    if how == "left":
        miss = np.flatnonzero(~hit)
        di = np.concatenate([di, miss])
        zi = np.concatenate([zi, np.full(miss.size, -1, np.int64)])
        order = stable_argsort(di)  # zones stay in ascending order per detection
        di, zi = di[order], zi[order]
    table = _assemble(detections, di, attrs, zi)
    placed = len(detections) - unplaced
    note(
        notes,
        f"join ({predicate}{f' {distance_m} m' if distance_m is not None else ''}, {using}, {how}): "
        f"{matched} of {placed} placed detection(s) matched {zones_hit} zone(s); "
        f"{len(table)} output row(s)",
    )
    return JoinResult(table, matched, placed - matched, unplaced, tuple(notes))


def _assemble(
    detections: gpd.GeoDataFrame, di: IntArray, attrs: pd.DataFrame, zi: IntArray
) -> gpd.GeoDataFrame:
    """Detection rows ``di`` side by side with zone attribute rows ``zi`` (-1: none)."""
    import pandas as pd

    table = detections.take(di)
    table.reset_index(drop=True, inplace=True)
    missing = zi < 0
    if missing.any():
        # One all-null row at the end stands in for "no zone" (pandas upcasts as needed).
        attrs = attrs.reindex(np.arange(len(attrs) + 1))
        zi = np.where(missing, len(attrs) - 1, zi)
    right = attrs.take(zi)
    for col in right.columns:
        table[col] = right[col].array
    table[ZONE_PREFIX + "index"] = pd.arrays.IntegerArray(np.where(missing, 0, zi), mask=missing)
    return table


def _zone_frame(zones: Areas | gpd.GeoDataFrame, notes: list[str]) -> gpd.GeoDataFrame:
    from skyscan.analytics.areas import Areas, prepare_areas

    if not isinstance(zones, Areas):
        zones = prepare_areas(zones, source="zones", polygons_only=False)
    notes.extend(zones.notes)
    return zones.frame


def _zone_attributes(zone_frame: gpd.GeoDataFrame, columns: list[str] | None) -> pd.DataFrame:
    geom_name = zone_frame.geometry.name
    available = [c for c in zone_frame.columns if c != geom_name]
    if columns is None:
        columns = available
    unknown = [c for c in columns if c not in available]
    if unknown:
        raise InputError(f"zone column(s) {unknown} not found (zones have {available})")
    attrs = zone_frame[columns].copy()
    attrs.columns = [c if c.startswith(ZONE_PREFIX) else ZONE_PREFIX + c for c in columns]
    # Geometry-typed attribute columns cannot ride along as plain columns.
    for c in attrs.columns:
        if attrs[c].dtype.name == "geometry":
            attrs[c] = shapely.to_wkt(np.asarray(attrs[c].values, dtype=object))
    return attrs
