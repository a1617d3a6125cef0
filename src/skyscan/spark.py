"""skyscan on a SparkSession you already have: detect over a DataFrame of images, write
partitioned GeoParquet, and run the analytics as DataFrame operations.

>>> from skyscan.spark import detect, write_geoparquet          # doctest: +SKIP
>>> images = spark.read.format("binaryFile").load("s3://bucket/scenes/*.tif").select("path")
>>> result = detect(spark, images, DetectSettings(model="vehicles", chip_size=512))
>>> write_geoparquet(result.detections, "/dbfs/skyscan/detections", partition_by="h3_5")

Only paths travel from the driver; executors read pixels from storage themselves (select
``path`` from a ``binaryFile`` DataFrame so Spark never loads the bytes). The detections
DataFrame has the local engine's columns (:data:`skyscan.schema.DETECTION_SCHEMA`, then
``meta_*``), geometry as WKB in EPSG:4326.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from skyscan.engines.spark.analytics import DEFAULT_JOIN_RES
from skyscan.engines.spark.geoparquet import write_geoparquet
from skyscan.engines.spark.session import spark_session
from skyscan.errors import InputError
from skyscan.options import DetectSettings
from skyscan.pipeline import DetectOptions

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from skyscan.analytics.areas import Areas
    from skyscan.engines.spark.cluster import SparkClusterResult
    from skyscan.engines.spark.tasks import DetectorFactory

__all__ = [
    "SparkDetections",
    "cluster",
    "detect",
    "detection_schema",
    "h3_counts",
    "image_paths",
    "join_metadata",
    "spark_session",
    "spatial_join",
    "within",
    "write_geoparquet",
]


@dataclass(frozen=True)
class SparkDetections:
    """The result of :func:`detect`: lazy DataFrames over one persisted computation.

    ``images`` has one row per input image (``path, image_id, status, n_detections``);
    every input is either ``ok`` (its rows are in ``detections``, possibly none) or
    ``error`` (one row in ``errors``, :data:`skyscan.schema.ERROR_SCHEMA`). Call
    :meth:`release` to free the cached results.
    """

    detections: DataFrame
    errors: DataFrame
    images: DataFrame
    run_id: str
    n_work_units: int
    _cached: tuple[DataFrame, ...] = ()

    def release(self) -> None:
        for df in self._cached:
            df.unpersist()


def detection_schema(meta_columns: Sequence[str] = ()) -> StructType:
    """The Spark schema of the detections table (contract columns, then ``meta_*`` strings)."""
    import pyarrow as pa

    from skyscan.engines.spark.session import to_spark_schema
    from skyscan.schema import DETECTION_SCHEMA

    return to_spark_schema(
        pa.schema([*DETECTION_SCHEMA, *(pa.field(m, pa.string()) for m in meta_columns)])
    )


def image_paths(images: DataFrame) -> DataFrame:
    """``path`` and ``image_id`` columns from a DataFrame of images.

    Accepts a ``path`` column (plain listings, ``binaryFile``), the ``image.origin`` of
    Spark's ``image`` source, or ``origin``; an ``image_id`` column is kept if present.
    ``file:`` URIs become local paths (GDAL reads paths, ``/vsis3/``-style or ``s3://`` URLs).
    """
    from pyspark.sql import functions as F

    cols = images.columns
    if "path" in cols:
        path = F.col("path")
    elif "image" in cols:
        path = F.col("image.origin")
    elif "origin" in cols:
        path = F.col("origin")
    else:
        raise InputError(
            f"images DataFrame needs a 'path', 'origin' or 'image' column (got {cols})"
        )
    local = F.regexp_replace(path, r"^file:(//)?(?=/)", "")
    image_id = (
        F.col("image_id").cast("string") if "image_id" in cols else F.lit(None).cast("string")
    )
    return images.select(local.alias("path"), image_id.alias("image_id")).dropDuplicates(["path"])


def detect(
    spark: SparkSession,
    images: DataFrame | Sequence[str],
    options: DetectSettings | DetectOptions | None = None,
    *,
    run_id: str | None = None,
    partitions: int | None = None,
    detector_factory: DetectorFactory | None = None,
) -> SparkDetections:
    """Detect objects in every image of ``images`` (a DataFrame of paths, or a list of paths).

    ``options``: the options of ``skyscan detect`` (:class:`skyscan.options.DetectSettings`),
    or the pipeline's :class:`~skyscan.pipeline.DetectOptions` they build.

    Image ids follow the local engine (file stems, made unique across folders) unless
    ``images`` has an ``image_id`` column. ``partitions`` sets the number of detect
    tasks (default: one per work unit, at most 8 per core). ``detector_factory`` builds
    a detector from ``options.recipe`` in each worker (default
    :func:`skyscan.detectors.get_detector`; it must be picklable and should cache).
    """
    from pyspark import StorageLevel

    from skyscan.engines.spark import tasks
    from skyscan.engines.spark.job import paths_frame, plan_job
    from skyscan.engines.spark.session import to_spark_schema
    from skyscan.run_state import new_run_id
    from skyscan.schema import ERROR_SCHEMA

    if isinstance(options, DetectSettings):
        options = options.detect_options()
    options = options or DetectOptions()
    run_id = run_id or new_run_id()
    if isinstance(images, str):
        raise InputError("'images' must be a DataFrame or a list of paths (got a single string)")
    if isinstance(images, Sequence):
        paths = paths_frame(spark, [str(p) for p in images])
    else:
        paths = image_paths(images)
        if "image_id" not in images.columns:
            listed = [r["path"] for r in paths.select("path").collect()]
            paths = paths_frame(spark, sorted(listed))
    job = plan_job(
        spark, paths, options, run_id, partitions=partitions, detector_factory=detector_factory
    )
    packed = job.packed.persist(StorageLevel.MEMORY_AND_DISK)
    meta_keys = job.meta_keys or ()
    det_arrow = _arrow_schema(meta_keys)

    def unpack_det(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return tasks.unpack_detections(batches, det_arrow)

    def unpack_err(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return tasks.unpack_errors(batches, run_id)

    detections = packed.mapInArrow(unpack_det, detection_schema(meta_keys))
    errors = packed.mapInArrow(unpack_err, to_spark_schema(ERROR_SCHEMA))
    images_df = packed.select("path", "image_id", "status", "n_detections")
    return SparkDetections(
        detections, errors, images_df, run_id, job.n_units or 0, (packed, job.units)
    )


def _arrow_schema(meta_columns: Sequence[str]) -> pa.Schema:
    import pyarrow as pa

    from skyscan.schema import DETECTION_SCHEMA

    return pa.schema(
        [
            *(pa.field(f.name, f.type) for f in DETECTION_SCHEMA),
            *(pa.field(m, pa.string()) for m in meta_columns),
        ]
    )


def within(
    detections: DataFrame,
    areas: Areas | gpd.GeoDataFrame,
    *,
    using: str = "centroid",
    predicate: str = "intersects",
) -> DataFrame:
    """Detections inside the area (see :func:`skyscan.engines.spark.analytics.within`)."""
    from skyscan.engines.spark import analytics as spark_analytics

    return spark_analytics.within(detections, areas, using=using, predicate=predicate)


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
    """Detections joined to zones, partitioned by H3 cell: the rows of ``analytics.spatial_join``.

    Predicates ``intersects``/``within``/``contains``/``dwithin`` (``distance_m`` metres),
    ``how="inner"`` or ``"left"`` (see :func:`skyscan.engines.spark.analytics.spatial_join`).
    """
    from skyscan.engines.spark import analytics as spark_analytics

    return spark_analytics.spatial_join(
        detections,
        zones,
        using=using,
        predicate=predicate,
        distance_m=distance_m,
        how=how,
        zone_columns=zone_columns,
        h3_res=h3_res,
    )


def h3_counts(detections: DataFrame, res: int, by: Sequence[str] = ()) -> DataFrame:
    """Detections per H3 cell (and ``by`` columns), with the hexagon as WKB."""
    from skyscan.engines.spark import analytics as spark_analytics

    return spark_analytics.h3_counts(detections, res, by)


def cluster(
    detections: DataFrame, *, eps_m: float, min_samples: int, cell_m: float | None = None
) -> SparkClusterResult:
    """DBSCAN clusters in metres (see :mod:`skyscan.engines.spark.cluster`): a result with
    ``detections`` (+ ``cluster_id``) and ``clusters`` (one row per cluster) DataFrames."""
    from skyscan.engines.spark import cluster as spark_cluster

    return spark_cluster.cluster(detections, eps_m=eps_m, min_samples=min_samples, cell_m=cell_m)


def join_metadata(
    detections: DataFrame, metadata: DataFrame, on: str = "image_id", prefix: str = "meta_"
) -> DataFrame:
    """Left join of per-image attributes onto detections, new columns ``prefix + name``
    (see :func:`skyscan.engines.spark.metadata.join_metadata`)."""
    from skyscan.engines.spark import metadata as spark_metadata

    return spark_metadata.join_metadata(detections, metadata, on=on, prefix=prefix)
