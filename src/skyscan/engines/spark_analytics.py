"""The analytics of :mod:`skyscan.analytics` as Spark DataFrame operations.

Each function adapts the analytics helper's array cores (``points_in_areas``,
``join_points_to_zones``, ``join_geometries_to_zones``, ``h3_cells``, ``dbscan_labels``)
to Arrow batches on executors; none re-implements a predicate. Inputs are DataFrames with
the detections contract's columns (``lon``/``lat`` and WKB ``geometry`` in EPSG:4326);
areas and zones are small enough to travel to every task in the closure (WKB).

The spatial join is partitioned by H3 cell: each zone is covered by the H3 cells it
overlaps, each detection centre gets its cell, an equi-join on the cell id pairs
candidates (a shuffle join by cell when both sides are big), and the exact predicate
decides, so the result equals the local join's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

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


def _areas_4326(areas: Areas | gpd.GeoDataFrame, source: str, polygons_only: bool) -> gpd.GeoDataFrame:
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
    detections: DataFrame, areas: Areas | gpd.GeoDataFrame, *, using: str = "centroid", predicate: str = "intersects"
) -> DataFrame:
    """Detections whose centre (or footprint) lies in the area: ``analytics.within_area`` on Spark."""
    from skyscan.analytics.within import WITHIN_PREDICATES

    _check_using(using)
    if predicate not in WITHIN_PREDICATES:
        raise InputError(f"'predicate' must be one of {WITHIN_PREDICATES} (got {predicate!r})")
    frame = _areas_4326(areas, "area of interest", polygons_only=True)
    wkb = list(shapely.to_wkb(np.asarray(frame.geometry.values, dtype=object)))

    def fn(batches: Any) -> Any:
        return within_batches(batches, wkb, using, predicate)

    return detections.mapInArrow(fn, detections.schema)


# -------------------------------------------------------------------------------- H3


def with_cells(batches: Iterable[pa.RecordBatch], res: int, name: str = CELL) -> Iterator[pa.RecordBatch]:
    """Append the H3 cell (int64; 0 = no coordinates) of each row's centre."""
    from skyscan.analytics.h3cells import h3_cells

    for batch in batches:
        lon, lat = _lonlat(batch)
        cells = h3_cells(lon=lon, lat=lat, res=res).astype(np.int64)  # H3 ids fit in 63 bits
        yield pa.RecordBatch.from_arrays([*batch.columns, pa.array(cells, pa.int64())],
                                         names=[*batch.schema.names, name])


def _add_cell_column(detections: DataFrame, res: int, name: str = CELL) -> DataFrame:
    from pyspark.sql.types import LongType, StructField, StructType

    schema = StructType([*detections.schema.fields, StructField(name, LongType(), nullable=False)])

    def fn(batches: Any) -> Any:
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
        raise InputError(f"'by' column(s) {missing} not found (detections have {detections.columns})")
    cells = _add_cell_column(detections, res).where(F.col(CELL) != 0)
    counts = cells.groupBy(CELL, *by).agg(
        F.count(F.lit(1)).cast("long").alias("count"),
        F.round(F.avg("score").cast("double"), 6).alias("mean_score"),
    )

    def hexagons(batches: Any) -> Any:
        from skyscan.analytics.h3cells import cell_polygons, cells_to_strings

        for batch in batches:
            ids = batch.column(CELL).to_numpy(zero_copy_only=False).astype(np.uint64)
            rest = [c for c in batch.schema.names if c != CELL]
            yield pa.RecordBatch.from_arrays(
                [pa.array(cells_to_strings(ids), pa.string()), pa.array(np.full(len(ids), res, np.int8)),
                 *(batch.column(c) for c in rest),
                 pa.array(shapely.to_wkb(cell_polygons(ids)), pa.binary())],
                names=["h3_cell", "h3_res", *rest, "geometry"],
            )

    from pyspark.sql.types import BinaryType, ByteType, StringType, StructField, StructType

    schema = StructType([
        StructField("h3_cell", StringType()), StructField("h3_res", ByteType()),
        *(f for f in counts.schema.fields if f.name != CELL), StructField("geometry", BinaryType()),
    ])
    return counts.mapInArrow(hexagons, schema)


# ------------------------------------------------------------------------ spatial join


def zone_cells(zones_wkb: Sequence[bytes], res: int) -> tuple[np.ndarray, np.ndarray]:
    """``(zone_index, cell)`` for every H3 cell at ``res`` a zone overlaps (a superset is fine).

    Polygons are covered with H3's ``overlap`` mode; other geometries by their (slightly
    grown) bounding box, so a point or line zone still gets the cells around it.
    """
    import h3

    zi: list[int] = []
    cells: list[int] = []
    for i, geom in enumerate(shapely.from_wkb(np.asarray(zones_wkb, dtype=object))):
        if geom is None or geom.is_empty:
            continue
        shape = geom if shapely.get_type_id(geom) in (3, 6) else shapely.box(*shapely.bounds(geom.buffer(1e-7, 1)))
        found = h3.h3shape_to_cells_experimental(h3.geo_to_h3shape(shapely.geometry.mapping(shape)), res, contain="overlap")
        if not found:  # smaller than a cell and between centres: the cell of a point inside
            p = shapely.point_on_surface(geom)
            found = [h3.latlng_to_cell(p.y, p.x, res)]
        zi.extend([i] * len(found))
        cells.extend(int(c, 16) for c in found)
    return np.asarray(zi, np.int64), np.asarray(cells, np.int64)


def exact_pairs(
    batches: Iterable[pa.RecordBatch], zones_wkb: list[bytes], attrs: pa.Table, using: str, predicate: str
) -> Iterator[pa.RecordBatch]:
    """Candidate (detection, zone) rows → the pairs where the predicate holds, with zone columns."""
    from skyscan.analytics.join import join_geometries_to_zones, join_points_to_zones

    zones = shapely.from_wkb(np.asarray(zones_wkb, dtype=object))
    for batch in batches:
        if not batch.num_rows:
            continue
        zi = batch.column(ZONE_INDEX).to_numpy(zero_copy_only=False).astype(np.int64)
        used = np.unique(zi)
        if using == "centroid":
            lon, lat = _lonlat(batch)
            pi, local_z = join_points_to_zones(lon, lat, zones[used], predicate)
        else:
            pi, local_z = join_geometries_to_zones(_footprints(batch), zones[used], predicate)
        true_keys = pi * len(zones) + used[local_z]
        keep = np.isin(np.arange(batch.num_rows) * len(zones) + zi, true_keys)
        if not keep.any():
            continue
        kept = batch.filter(pa.array(keep))
        zone_rows = attrs.take(pa.array(zi[keep]))
        names = [n for n in kept.schema.names if n not in (CELL, ZONE_INDEX)]
        yield pa.RecordBatch.from_arrays(
            [*(kept.column(n) for n in names), *(zone_rows.column(c).combine_chunks() for c in attrs.column_names),
             kept.column(ZONE_INDEX)],
            names=[*names, *attrs.column_names, ZONE_INDEX],
        )


def spatial_join(
    detections: DataFrame,
    zones: Areas | gpd.GeoDataFrame,
    *,
    using: str = "centroid",
    predicate: str = "intersects",
    zone_columns: list[str] | None = None,
    h3_res: int = DEFAULT_JOIN_RES,
) -> DataFrame:
    """Inner join of detections with zones (``zone_*`` columns + ``zone_index``), partitioned by H3 cell.

    The same pairs as ``analytics.spatial_join(..., how="inner")``. Predicates
    ``intersects`` and ``within`` (``contains`` too for footprints). Footprints are
    matched through every cell of their bounding box, then deduplicated by the exact test.
    """
    import pandas as pd
    from pyspark.sql import functions as F

    from skyscan.analytics.h3cells import check_resolution
    from skyscan.analytics.join import _zone_attributes, check_predicate
    from skyscan.engines.spark_session import to_spark_schema

    _check_using(using)
    check_predicate(predicate, None)
    allowed = ("intersects", "within") if using == "centroid" else ("intersects", "within", "contains")
    if predicate not in allowed:
        raise InputError(f"the spark join supports predicate {allowed} with using={using!r} (got {predicate!r})")
    res = check_resolution(h3_res)
    frame = _areas_4326(zones, "zones", polygons_only=False)
    attrs_df = _zone_attributes(frame, zone_columns)
    attrs = pa.Table.from_pandas(pd.DataFrame(attrs_df).reset_index(drop=True), preserve_index=False)
    wkb = list(shapely.to_wkb(np.asarray(frame.geometry.values, dtype=object)))
    zi, cells = zone_cells(wkb, res)
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
    out_fields = [f for f in detections.schema.fields]
    attr_schema = to_spark_schema(attrs.schema)
    from pyspark.sql.types import LongType, StructField, StructType

    schema = StructType([*out_fields, *attr_schema.fields, StructField(ZONE_INDEX, LongType())])

    def fn(batches: Any) -> Any:
        return exact_pairs(batches, wkb, attrs, using, predicate)

    return pairs.mapInArrow(fn, schema)


def _footprint_cells(detections: DataFrame, res: int) -> DataFrame:
    """One row per (detection, H3 cell its footprint's bounding box overlaps)."""
    from pyspark.sql.types import ArrayType, LongType, StructField, StructType

    name = CELL + "s"
    schema = StructType([*detections.schema.fields, StructField(name, ArrayType(LongType()))])

    def fn(batches: Any) -> Any:
        for batch in batches:
            geoms = _footprints(batch)
            cells: list[list[int] | None] = []
            for g in geoms:
                if g is None or g.is_empty:
                    cells.append(None)
                    continue
                _, c = zone_cells([shapely.to_wkb(g)], res)
                cells.append([int(v) for v in c])
            yield pa.RecordBatch.from_arrays([*batch.columns, pa.array(cells, pa.list_(pa.int64()))],
                                             names=[*batch.schema.names, name])

    from pyspark.sql import functions as F

    return detections.mapInArrow(fn, schema).select("*", F.explode(name).alias(CELL)).drop(name)
