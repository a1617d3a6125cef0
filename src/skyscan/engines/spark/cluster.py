"""DBSCAN clusters of detections on Spark: grid partitions with a halo, merged by core points.

The local :func:`skyscan.analytics.cluster.cluster_detections` runs scikit-learn's DBSCAN
over everything at once; a country's detections do not fit one process. Here:

1. Each centre is projected into its local metric CRS (the same choice as locally,
   :func:`skyscan.analytics.metric.metric_groups`) and put in a square grid cell of
   ``cell_m`` metres (``≥ 2·eps``). A point within ``eps`` of a neighbouring cell is also
   copied there as a *halo* point.
2. Per cell (a Spark group), DBSCAN runs over its home and halo points. A home point sees
   its whole ``eps``-neighbourhood, so its core flag is exact; a halo point's may be too
   low, never too high (its neighbourhood there is a subset).
3. Every edge between two core points within ``eps`` is realised inside the cell of one
   of them, so local clusters that share a core point are the same cluster: the
   (cell, local label) pairs linked by a shared core point are merged with union-find on
   the driver (only core points that appear in more than one cell produce links).
4. A second pass per cell assigns each non-core home point to the cluster of its nearest
   core point within ``eps`` (ties: smallest ``detection_id``), or noise.

Core points end up in exactly the clusters of single-process DBSCAN. A border point
within ``eps`` of two clusters' cores belongs to either under DBSCAN's definition
(scikit-learn picks by visiting order); here the nearest core decides. Clusters never
cross a UTM zone edge, as locally. Cluster ids are numbered 0..k-1 by (metric CRS,
smallest member ``detection_id``), so they do not depend on partitioning.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from skyscan.analytics.cluster import CLUSTER_COLUMN, NOISE, check_cluster_options
from skyscan.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)

# Grid cells much wider than eps keep the halo (duplicated points) small; 1 km holds a
# large car park and stays cheap for scikit-learn even in a dense city centre.
MIN_CELL_M = 1000.0
CELL_EPS_FACTOR = 20.0

_POINTS = "detection_id string, metric_crs string, x double, y double, cell string, home boolean"
_PASS1 = "detection_id string, cell string, home boolean, label long, core boolean"
_ASSIGN = "detection_id string, node string"


@dataclass(frozen=True)
class SparkClusterResult:
    """``detections`` with ``cluster_id`` (-1 noise, null without coordinates) and one row per cluster."""

    detections: DataFrame
    clusters: DataFrame
    n_links: int  # cross-cell links merged on the driver


def default_cell_m(eps_m: float) -> float:
    return max(MIN_CELL_M, CELL_EPS_FACTOR * eps_m)


def assign_cells(
    batches: Iterable[pa.RecordBatch], eps_m: float, cell_m: float
) -> Iterator[pa.RecordBatch]:
    """Centres → rows ``(detection_id, metric_crs, x, y, cell, home)``: the home cell and every
    neighbouring cell within ``eps_m`` (halo). Points without coordinates produce no row."""
    from skyscan.analytics.metric import metric_groups, project_xy

    for batch in batches:
        ids = np.asarray(batch.column("detection_id").to_pylist(), dtype=object)
        lon = batch.column("lon").to_numpy(zero_copy_only=False).astype(np.float64)
        lat = batch.column("lat").to_numpy(zero_copy_only=False).astype(np.float64)
        for crs, members in metric_groups(lon, lat):
            x, y = project_xy(lon[members], lat[members], crs)
            ix, iy = np.floor(x / cell_m).astype(np.int64), np.floor(y / cell_m).astype(np.int64)
            # Offsets to the neighbouring cell on each axis: -1, +1 or 0 (none within eps).
            dx = np.where(
                x - ix * cell_m <= eps_m, -1, np.where((ix + 1) * cell_m - x <= eps_m, 1, 0)
            )
            dy = np.where(
                y - iy * cell_m <= eps_m, -1, np.where((iy + 1) * cell_m - y <= eps_m, 1, 0)
            )
            # home cell, then the neighbour across x, across y, and across the corner
            for use_x, use_y in ((False, False), (True, False), (False, True), (True, True)):
                sel = np.ones(len(members), bool)
                if use_x:
                    sel &= dx != 0
                if use_y:
                    sel &= dy != 0
                if not sel.any():
                    continue
                home = not (use_x or use_y)
                cx, cy = ix[sel] + dx[sel] * use_x, iy[sel] + dy[sel] * use_y
                cells = [f"{crs}/{a}/{b}" for a, b in zip(cx.tolist(), cy.tolist(), strict=True)]
                yield pa.RecordBatch.from_arrays(
                    [
                        pa.array(ids[members][sel], pa.string()),
                        pa.array([crs] * int(sel.sum()), pa.string()),
                        pa.array(x[sel]),
                        pa.array(y[sel]),
                        pa.array(cells, pa.string()),
                        pa.array(np.full(int(sel.sum()), home)),
                    ],
                    names=["detection_id", "metric_crs", "x", "y", "cell", "home"],
                )


def local_dbscan(cell: pd.DataFrame, eps_m: float, min_samples: int) -> pd.DataFrame:
    """DBSCAN over one cell's home + halo points: local label and (apparent) core flag."""
    from sklearn.cluster import DBSCAN

    # Sorted input makes the local labels reproducible if Spark recomputes the partition.
    cell = cell.sort_values(["detection_id", "home"], kind="stable").reset_index(drop=True)
    fit = DBSCAN(eps=eps_m, min_samples=min_samples, algorithm="kd_tree").fit(
        cell[["x", "y"]].to_numpy()
    )
    core = np.zeros(len(cell), bool)
    core[fit.core_sample_indices_] = True
    return pd.DataFrame(
        {
            "detection_id": cell["detection_id"],
            "cell": cell["cell"],
            "home": cell["home"],
            "label": np.asarray(fit.labels_, np.int64),
            "core": core,
        }
    )


def assign_non_core(cell: pd.DataFrame, eps_m: float) -> pd.DataFrame:
    """Home points of one cell → their cluster node: their own (core points) or the node of
    the nearest true core point within ``eps_m`` (ties: smallest detection_id); None = noise."""
    from sklearn.neighbors import KDTree

    home = cell[cell["home"]]
    nodes = home["node"].to_numpy(dtype=object).copy()
    cores = cell[cell["node"].notna()].sort_values("detection_id", kind="stable")
    todo = np.flatnonzero(pd.isna(nodes))
    if len(todo) and len(cores):
        tree = KDTree(cores[["x", "y"]].to_numpy())
        found, dist = tree.query_radius(
            home[["x", "y"]].to_numpy()[todo], r=eps_m, return_distance=True
        )
        core_nodes = cores["node"].to_numpy(dtype=object)
        for k, (idx, d) in enumerate(zip(found, dist, strict=True)):
            if len(idx):
                # nearest first; among equals, the smallest position = smallest detection_id
                nodes[todo[k]] = core_nodes[idx[np.lexsort((idx, d))[0]]]
    return pd.DataFrame({"detection_id": home["detection_id"].to_numpy(), "node": nodes})


def _union_find(links: list[list[str]]) -> dict[str, str]:
    """Node → representative (the smallest node name of its component)."""
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for group in links:
        roots = sorted({find(n) for n in group})
        for r in roots[1:]:
            parent[r] = roots[0]
    return {n: find(n) for n in parent}


def cluster(
    detections: DataFrame, *, eps_m: float, min_samples: int, cell_m: float | None = None
) -> SparkClusterResult:
    """DBSCAN clusters of detection centres (``eps_m`` metres, ``min_samples``), as Spark jobs.

    Same columns as :func:`skyscan.analytics.cluster.cluster_detections`: detections gain
    ``cluster_id``; the cluster table has ``cluster_id``, ``size``, ``classes``,
    ``mean_score``, ``lon``, ``lat``, ``metric_crs``, ``area_m2``, ``n_<class>`` and the hull
    as WKB ``geometry`` (EPSG:4326).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    check_cluster_options(eps_m, min_samples)
    cell_m = default_cell_m(eps_m) if cell_m is None else float(cell_m)
    if not (np.isfinite(cell_m) and cell_m >= 2 * eps_m):
        raise InputError(f"'cell_m' must be at least 2 x eps_m = {2 * eps_m} metres (got {cell_m})")
    for col in ("detection_id", "lon", "lat"):
        if col not in detections.columns:
            raise InputError(f"detections lack column {col!r} (have {detections.columns})")

    def cells_fn(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return assign_cells(batches, eps_m, cell_m)

    points = detections.select("detection_id", "lon", "lat").mapInArrow(cells_fn, _POINTS)
    points = points.localCheckpoint()  # reused by both passes; computed once
    pass1 = (
        points.groupBy("cell")
        .applyInPandas(lambda df: local_dbscan(df, eps_m, min_samples), _PASS1)
        .localCheckpoint()
    )
    node = F.concat_ws("#", F.col("cell"), F.col("label").cast("string"))
    true_core = pass1.where(F.col("home") & F.col("core")).select(
        "detection_id", node.alias("home_node")
    )
    # Local clusters sharing a true core point are one cluster: collect those links.
    links = (
        pass1.where(F.col("label") >= 0)
        .join(true_core.select("detection_id"), "detection_id")
        .groupBy("detection_id")
        .agg(F.collect_set(node).alias("nodes"))
        .where(F.size("nodes") > 1)
        .select("nodes")
    )
    link_rows = [list(r["nodes"]) for r in links.collect()]
    rep = _union_find(link_rows)
    spark = detections.sparkSession
    rep_df = spark.createDataFrame(
        pd.DataFrame({"home_node": list(rep), "rep": list(rep.values())}),
        schema="home_node string, rep string",
    )
    core_nodes = true_core.join(F.broadcast(rep_df), "home_node", "left").select(
        "detection_id", F.coalesce("rep", "home_node").alias("node")
    )
    with_nodes = points.join(core_nodes, "detection_id", "left")
    assigned = (
        with_nodes.groupBy("cell")
        .applyInPandas(lambda df: assign_non_core(df, eps_m), _ASSIGN)
        .join(points.where("home").select("detection_id", "metric_crs"), "detection_id")
    )
    firsts = (
        assigned.where(F.col("node").isNotNull())
        .groupBy("node")
        .agg(F.min("detection_id").alias("first_id"), F.first("metric_crs").alias("crs"))
    )
    numbered = firsts.select(
        "node",
        (F.dense_rank().over(Window.orderBy("crs", "first_id")) - 1)
        .cast("long")
        .alias(CLUSTER_COLUMN),
    )
    labels = assigned.join(numbered, "node", "left").select(
        "detection_id",
        F.coalesce(F.col(CLUSTER_COLUMN), F.lit(NOISE).cast("long")).alias(CLUSTER_COLUMN),
    )
    labelled = detections.join(labels, "detection_id", "left").select(
        *detections.columns, CLUSTER_COLUMN
    )
    labelled = labelled.localCheckpoint()
    clusters = describe_clusters(labelled)
    logger.info(
        "spark DBSCAN (eps %s m, min_samples %s, cells %s m): %d cross-cell link(s)",
        eps_m,
        min_samples,
        cell_m,
        len(link_rows),
    )
    return SparkClusterResult(labelled, clusters, len(link_rows))


def describe_clusters(labelled: DataFrame, buckets: int | None = None) -> DataFrame:
    """One row per cluster, computed by the local describer over groups of whole clusters."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import (
        BinaryType,
        DoubleType,
        LongType,
        StringType,
        StructField,
        StructType,
    )

    classes = sorted(
        r[0] for r in labelled.select("class_name").distinct().collect() if r[0] is not None
    )
    schema = StructType(
        [
            StructField(CLUSTER_COLUMN, LongType()),
            StructField("size", LongType()),
            StructField("classes", StringType()),
            StructField("mean_score", DoubleType()),
            StructField("lon", DoubleType()),
            StructField("lat", DoubleType()),
            StructField("metric_crs", StringType()),
            StructField("area_m2", DoubleType()),
            *(StructField(f"n_{c}", LongType()) for c in classes),
            StructField("geometry", BinaryType()),
        ]
    )
    names = [f.name for f in schema.fields]
    n = buckets or labelled.sparkSession.sparkContext.defaultParallelism
    members = (
        labelled.where(F.col(CLUSTER_COLUMN) >= 0)
        .select(CLUSTER_COLUMN, "class_name", "score", "lon", "lat", "geometry")
        .withColumn("_bucket", F.col(CLUSTER_COLUMN) % n)
    )

    def describe(group: pd.DataFrame) -> pd.DataFrame:
        import geopandas as gpd
        import shapely

        from skyscan.analytics.cluster import cluster_table
        from skyscan.analytics.metric import metric_groups

        geoms = shapely.from_wkb(group["geometry"].to_numpy(dtype=object))
        frame = gpd.GeoDataFrame(
            group.drop(columns=["geometry", "_bucket"]), geometry=geoms, crs="EPSG:4326"
        )
        labels = group[CLUSTER_COLUMN].to_numpy(np.int64)
        table = cluster_table(
            frame, labels, metric_groups(frame["lon"].to_numpy(), frame["lat"].to_numpy())
        )
        out = pd.DataFrame(table.drop(columns="geometry"))
        for c in classes:  # every class in the schema, 0 where a bucket has none
            if f"n_{c}" not in out:
                out[f"n_{c}"] = 0
        out["geometry"] = shapely.to_wkb(np.asarray(table.geometry.values, dtype=object))
        return out[names]

    return members.groupBy("_bucket").applyInPandas(describe, schema)
