"""The analytics of :mod:`skyscan.analytics` as Spark DataFrame operations.

Each function adapts the analytics helper's array cores (``points_in_areas``,
``join_points_to_zones``, ``join_geometries_to_zones``, ``h3_cells``, ``dbscan_labels``)
to Arrow batches on executors; none re-implements a predicate. Inputs are DataFrames with
the detections contract's columns (``lon``/``lat`` and WKB ``geometry`` in EPSG:4326);
areas and zones are small enough to travel to every task in the closure (WKB).

The spatial join is partitioned by H3 cell: each zone is covered by the H3 cells it
overlaps (grown by the distance for ``dwithin``), each detection centre gets its cell,
an equi-join on the cell id pairs candidates (a shuffle join by cell when both sides are
big), and the exact predicate decides, so the result equals the local join's. A left
join adds the unmatched detections back with a join on ``detection_id``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import shapely

from skyscan.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    from pyspark.sql import DataFrame

    from skyscan.analytics.areas import Areas

logger = logging.getLogger(__name__)

CELL = "_h3"
ZONE_INDEX = "zone_index"
DEFAULT_JOIN_RES = 7  # ≈ 5 km² hexagons: a city district covers tens of cells, a car park one


def _lonlat(batch: pa.RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    lon = batch.column("lon").to_numpy(zero_copy_only=False).astype(np.float64)
    lat = batch.column("lat").to_numpy(zero_copy_only=False).astype(np.float64)
    return lon, lat


def _footprints(batch: pa.RecordBatch) -> np.ndarray:
    return shapely.from_wkb(np.asarray(batch.column("geometry").to_pylist(), dtype=object))


def _areas_4326(
    areas: Areas | gpd.GeoDataFrame, source: str, polygons_only: bool
) -> gpd.GeoDataFrame:
    """Areas as a GeoDataFrame in EPSG:4326 (validated, repaired and reprojected as locally)."""
    from skyscan.analytics.areas import Areas, prepare_areas

    if not isinstance(areas, Areas):
        areas = prepare_areas(areas, source=source, polygons_only=polygons_only)
    frame = areas.frame
    return frame if frame.crs is not None and frame.crs.to_epsg() == 4326 else frame.to_crs(4326)


def _check_using(using: str) -> None:
    if using not in ("centroid", "footprint"):
        raise InputError(f"'using' must be 'centroid' or 'footprint' (got {using!r})")


# ------------------------------------------------------------------------------ within


def within_batches(
    batches: Iterable[pa.RecordBatch], areas_wkb: list[bytes], using: str, predicate: str
) -> Iterator[pa.RecordBatch]:
    """Keep the rows of each batch inside any area (``points_in_areas`` / footprint join)."""
    from skyscan.analytics.join import join_geometries_to_zones
    from skyscan.analytics.within import points_in_areas

    areas = shapely.from_wkb(np.asarray(areas_wkb, dtype=object))
    for batch in batches:
        if not batch.num_rows:
            continue
        if using == "centroid":
            lon, lat = _lonlat(batch)
            mask = points_in_areas(lon, lat, areas, predicate)
        else:
            idx, _ = join_geometries_to_zones(_footprints(batch), areas, predicate)
            mask = np.zeros(batch.num_rows, dtype=bool)
            mask[idx] = True
        if mask.any():
            yield batch.filter(pa.array(mask))


def within(
    detections: DataFrame,
    areas: Areas | gpd.GeoDataFrame,
    *,
    using: str = "centroid",
    predicate: str = "intersects",
) -> DataFrame:
    """Detections whose centre (or footprint) lies in the area: ``analytics.within_area`` on Spark."""
    from skyscan.analytics.within import WITHIN_PREDICATES

    _check_using(using)
    if predicate not in WITHIN_PREDICATES:
        raise InputError(f"'predicate' must be one of {WITHIN_PREDICATES} (got {predicate!r})")
    frame = _areas_4326(areas, "area of interest", polygons_only=True)
    wkb = list(shapely.to_wkb(np.asarray(frame.geometry.values, dtype=object)))

    def fn(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return within_batches(batches, wkb, using, predicate)

    return detections.mapInArrow(fn, detections.schema)


# -------------------------------------------------------------------------------- H3


def with_cells(
    batches: Iterable[pa.RecordBatch], res: int, name: str = CELL
) -> Iterator[pa.RecordBatch]:
    """Append the H3 cell (int64; 0 = no coordinates) of each row's centre."""
    from skyscan.analytics.h3cells import h3_cells

    for batch in batches:
        lon, lat = _lonlat(batch)
        cells = h3_cells(lon=lon, lat=lat, res=res).astype(np.int64)  # H3 ids fit in 63 bits
        yield pa.RecordBatch.from_arrays(
            [*batch.columns, pa.array(cells, pa.int64())], names=[*batch.schema.names, name]
        )


def _add_cell_column(detections: DataFrame, res: int, name: str = CELL) -> DataFrame:
    from pyspark.sql.types import LongType, StructField, StructType

    schema = StructType([*detections.schema.fields, StructField(name, LongType(), nullable=False)])

    def fn(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return with_cells(batches, res, name)

    return detections.mapInArrow(fn, schema)


def h3_counts(detections: DataFrame, res: int, by: Sequence[str] = ()) -> DataFrame:
    """Detections per H3 cell (and per ``by``): ``h3_cell, h3_res, *by, count, mean_score, geometry``.

    Like ``analytics.aggregate_by_h3``: rows without coordinates are not counted, the
    mean score is rounded to 6 decimals, ``geometry`` is the cell's hexagon (WKB, lon/lat).
    """
    from pyspark.sql import functions as F

    from skyscan.analytics.h3cells import check_resolution

    res = check_resolution(res)
    missing = [c for c in by if c not in detections.columns]
    if missing:
        raise InputError(
            f"'by' column(s) {missing} not found (detections have {detections.columns})"
        )
    cells = _add_cell_column(detections, res).where(F.col(CELL) != 0)
    counts = cells.groupBy(CELL, *by).agg(
        F.count(F.lit(1)).cast("long").alias("count"),
        F.round(F.avg("score").cast("double"), 6).alias("mean_score"),
    )

    def hexagons(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from skyscan.analytics.h3cells import cell_polygons, cells_to_strings

        for batch in batches:
            ids = batch.column(CELL).to_numpy(zero_copy_only=False).astype(np.uint64)
            rest = [c for c in batch.schema.names if c != CELL]
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array(cells_to_strings(ids), pa.string()),
                    pa.array(np.full(len(ids), res, np.int8)),
                    *(batch.column(c) for c in rest),
                    pa.array(shapely.to_wkb(cell_polygons(ids)), pa.binary()),
                ],
                names=["h3_cell", "h3_res", *rest, "geometry"],
            )

    from pyspark.sql.types import BinaryType, ByteType, StringType, StructField, StructType

    schema = StructType(
        [
            StructField("h3_cell", StringType()),
            StructField("h3_res", ByteType()),
            *(f for f in counts.schema.fields if f.name != CELL),
            StructField("geometry", BinaryType()),
        ]
    )
    return counts.mapInArrow(hexagons, schema)


# ------------------------------------------------------------------------ spatial join


# Growing a zone by a distance in degrees (for ``dwithin``), conservatively. The exact
# test measures in a UTM/UPS zone whose scale factor is >= 0.994, so a projected distance
# d is at most d / 0.994 on the ground; one degree of latitude is >= 110 574 m and one of
# longitude >= 111 319 m * cos(lat) (WGS84), so these bounds only ever over-cover.
_GROUND_FACTOR = 1 / 0.99  # rounder and a little safer than 1 / 0.994
_GROUND_MARGIN_M = 1.0  # absorbs H3's straight-edge cell outlines and float noise
_M_PER_DEG_LAT = 110_000.0
_M_PER_DEG_LON = 111_000.0
_QUAD_SEGS = 8
_WORLD = shapely.box(-180.0, -90.0, 180.0, 90.0)


def grown_zone(geom: shapely.Geometry, distance_m: float) -> shapely.Geometry:
    """A lon/lat polygon holding every point within ``distance_m`` metres of ``geom`` (a superset).

    The Minkowski sum with an ellipse of ``dlon × dlat`` degrees, ``dlon`` taken at the
    zone's poleward edge; x is scaled so the ellipse becomes a circle and ``buffer`` does
    the sum (its polygon is inscribed in the circle: the radius is enlarged to match).
    """
    ground = distance_m * _GROUND_FACTOR + _GROUND_MARGIN_M
    dlat = ground / _M_PER_DEG_LAT
    x0, y0, x1, y1 = shapely.bounds(geom)
    poleward = max(abs(y0), abs(y1)) + dlat
    south, north = max(y0 - dlat, -90.0), min(y1 + dlat, 90.0)
    if poleward >= 89.0:  # longitude degrees vanish near a pole: every longitude
        return shapely.box(-180.0, south, 180.0, north)
    dlon = ground / (_M_PER_DEG_LON * np.cos(np.radians(poleward)))
    if dlon >= 90.0:  # continent-wide growth: the grown bounding box is tight enough
        return shapely.box(max(x0 - dlon, -180.0), south, min(x1 + dlon, 180.0), north)
    sx = dlat / dlon
    scaled = shapely.transform(geom, lambda c: c * np.array([sx, 1.0]))
    radius = dlat / np.cos(np.pi / (4 * _QUAD_SEGS))
    grown = shapely.transform(
        shapely.buffer(scaled, radius, quad_segs=_QUAD_SEGS),
        lambda c: c * np.array([1.0 / sx, 1.0]),
    )
    return shapely.intersection(grown, _WORLD)


def _h3_cover(shape: shapely.Geometry, res: int) -> list[str]:
    """H3 cells (``overlap`` mode) of a lon/lat polygon or multipolygon.

    Shapes wider than 90° are cut into 90° strips first: H3 reads an edge spanning more
    than 180° of longitude as crossing the antimeridian.
    """
    import h3

    x0, _, x1, _ = shapely.bounds(shape)
    pieces = [shape]
    if x1 - x0 > 90.0:
        strips = [shapely.box(lo, -90.0, lo + 90.0, 90.0) for lo in (-180.0, -90.0, 0.0, 90.0)]
        pieces = [shapely.intersection(shape, s) for s in strips]
    found: list[str] = []
    for piece in pieces:
        polys = [
            p for p in shapely.get_parts(piece) if shapely.get_type_id(p) == 3 and not p.is_empty
        ]
        if polys:
            shp = h3.geo_to_h3shape(shapely.geometry.mapping(shapely.multipolygons(polys)))
            found.extend(h3.h3shape_to_cells_experimental(shp, res, contain="overlap"))
    return found


def zone_cells(
    zones_wkb: Sequence[bytes], res: int, grow_m: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(zone_index, cell)`` for every H3 cell at ``res`` a zone overlaps (a superset is fine).

    Polygons are covered with H3's ``overlap`` mode; other geometries by their (slightly
    grown) bounding box, so a point or line zone still gets the cells around it. With
    ``grow_m`` (metres, for ``dwithin``) the zone is first grown by that distance
    (:func:`grown_zone`), so every detection within it shares a cell with the zone.
    """
    import h3

    zi: list[int] = []
    cells: list[int] = []
    for i, geom in enumerate(shapely.from_wkb(np.asarray(zones_wkb, dtype=object))):
        if geom is None or geom.is_empty:
            continue
        if grow_m is not None:
            shape = grown_zone(geom, grow_m)
        elif shapely.get_type_id(geom) in (3, 6):
            shape = geom
        else:
            shape = shapely.box(*shapely.bounds(geom.buffer(1e-7, 1)))
        found = sorted(set(_h3_cover(shape, res)))
        if not found:  # smaller than a cell and between centres: the cell of a point inside
            p = shapely.point_on_surface(geom)
            found = [h3.latlng_to_cell(p.y, p.x, res)]
        zi.extend([i] * len(found))
        cells.extend(int(c, 16) for c in found)
    return np.asarray(zi, np.int64), np.asarray(cells, np.int64)


def exact_pairs(
    batches: Iterable[pa.RecordBatch],
    zones_wkb: list[bytes],
    attrs: pa.Table,
    using: str,
    predicate: str,
    distance_m: float | None = None,
) -> Iterator[pa.RecordBatch]:
    """Candidate (detection, zone) rows → the pairs where the predicate holds, with zone columns.

    The test is the local join's own (``join_points_to_zones`` / ``join_geometries_to_zones``);
    each pair's outcome depends on that pair only (``dwithin`` measures in the metric CRS
    of the detection), so batching cannot change the result.
    """
    from skyscan.analytics.join import join_geometries_to_zones, join_points_to_zones

    zones = shapely.from_wkb(np.asarray(zones_wkb, dtype=object))
    for batch in batches:
        if not batch.num_rows:
            continue
        zi = batch.column(ZONE_INDEX).to_numpy(zero_copy_only=False).astype(np.int64)
        used = np.unique(zi)
        if using == "centroid":
            lon, lat = _lonlat(batch)
            pi, local_z = join_points_to_zones(lon, lat, zones[used], predicate, distance_m)
        else:
            pi, local_z = join_geometries_to_zones(
                _footprints(batch), zones[used], predicate, distance_m
            )
        true_keys = pi * len(zones) + used[local_z]
        keep = np.isin(np.arange(batch.num_rows) * len(zones) + zi, true_keys)
        if not keep.any():
            continue
        kept = batch.filter(pa.array(keep))
        zone_rows = attrs.take(pa.array(zi[keep]))
        names = [n for n in kept.schema.names if n not in (CELL, ZONE_INDEX)]
        yield pa.RecordBatch.from_arrays(
            [
                *(kept.column(n) for n in names),
                *(zone_rows.column(c).combine_chunks() for c in attrs.column_names),
                kept.column(ZONE_INDEX),
            ],
            names=[*names, *attrs.column_names, ZONE_INDEX],
        )


def spatial_join(
    detections: DataFrame,
    zones: Areas | gpd.GeoDataFrame,
    *,
    using: str = "centroid",
    predicate: str = "intersects",
    distance_m: float | None = None,
    how: str = "inner",
    zone_columns: list[str] | None = None,
    h3_res: int = DEFAULT_JOIN_RES,
) -> DataFrame:
    """Detections joined to zones (``zone_*`` columns + ``zone_index``), partitioned by H3 cell.

    The same rows as ``analytics.spatial_join`` with the same arguments: predicates
    ``intersects``, ``within``, ``contains`` and ``dwithin`` (``distance_m`` metres, zones
    covered by the cells of the zone grown by that distance); ``how="left"`` keeps every
    detection, once with null zone columns when it matched nothing. Footprints are
    matched through every cell they overlap, then deduplicated by the exact test.
    Row order is Spark's. ``detection_id`` must identify detections (it is the
    footprint dedup key and the key that brings unmatched detections back).
    """
    import pandas as pd
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StructField, StructType

    from skyscan.analytics.h3cells import check_resolution
    from skyscan.analytics.join import HOW, _zone_attributes, check_predicate
    from skyscan.engines.spark.session import to_spark_schema

    # Same checks, in the same order and words, as the local join.
    check_predicate(predicate, distance_m)
    if how not in HOW:
        raise InputError(f"'how' must be one of {HOW} (got {how!r})")
    _check_using(using)
    if "detection_id" not in detections.columns and (how == "left" or using == "footprint"):
        raise InputError(
            f"the spark join needs a 'detection_id' column (detections have {detections.columns})"
        )
    res = check_resolution(h3_res)
    frame = _areas_4326(zones, "zones", polygons_only=False)
    attrs_df = _zone_attributes(frame, zone_columns)
    attrs = pa.Table.from_pandas(
        pd.DataFrame(attrs_df).reset_index(drop=True), preserve_index=False
    )
    wkb = list(shapely.to_wkb(np.asarray(frame.geometry.values, dtype=object)))
    zi, cells = zone_cells(wkb, res, grow_m=distance_m if predicate == "dwithin" else None)
    spark = detections.sparkSession
    zone_df = spark.createDataFrame(
        pd.DataFrame({ZONE_INDEX: zi, CELL: cells}), schema=f"{ZONE_INDEX} long, {CELL} long"
    )
    if using == "centroid":
        candidates = _add_cell_column(detections, res).where(F.col(CELL) != 0)
    else:
        candidates = _footprint_cells(detections, res)
    pairs = candidates.join(zone_df, on=CELL, how="inner")
    if using == "footprint":
        pairs = pairs.drop(CELL).dropDuplicates(["detection_id", ZONE_INDEX])
    attr_schema = to_spark_schema(attrs.schema)
    schema = StructType(
        [*detections.schema.fields, *attr_schema.fields, StructField(ZONE_INDEX, LongType())]
    )

    def fn(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return exact_pairs(batches, wkb, attrs, using, predicate, distance_m)

    matched = pairs.mapInArrow(fn, schema)
    if how == "inner":
        return matched
    # Left: every detection against its matched zones by id; a detection with none
    # (including those without coordinates, never candidates) gets one all-null row.
    zone_cols = [*attrs.column_names, ZONE_INDEX]
    joined = detections.join(
        matched.select("detection_id", *zone_cols), on="detection_id", how="left"
    )
    return joined.select(*detections.columns, *zone_cols)


def _footprint_cells(detections: DataFrame, res: int) -> DataFrame:
    """One row per (detection, H3 cell its footprint's bounding box overlaps)."""
    from pyspark.sql.types import ArrayType, LongType, StructField, StructType

    name = CELL + "s"
    schema = StructType([*detections.schema.fields, StructField(name, ArrayType(LongType()))])

    def fn(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            geoms = _footprints(batch)
            cells: list[list[int] | None] = []
            for g in geoms:
                if g is None or g.is_empty:
                    cells.append(None)
                    continue
                _, c = zone_cells([shapely.to_wkb(g)], res)
                cells.append([int(v) for v in c])
            yield pa.RecordBatch.from_arrays(
                [*batch.columns, pa.array(cells, pa.list_(pa.int64()))],
                names=[*batch.schema.names, name],
            )

    from pyspark.sql import functions as F

    return detections.mapInArrow(fn, schema).select("*", F.explode(name).alias(CELL)).drop(name)
