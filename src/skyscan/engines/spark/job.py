"""The spark engine's job: the per-image pipeline of :mod:`skyscan.pipeline` planned as Spark DataFrames.

The job, stage by stage (functions in :mod:`skyscan.engines.spark.tasks`)::

    (path, image_id) ──mapInArrow open_and_plan──► work units (persisted: headers read once)
        ──repartitionByRange(path, unit_index)──► mapInArrow detect_units (model once per worker)
        ──groupBy(path).applyInArrow finalize_group──► one packed row per image

Pixels are read by the executors from storage; the driver ships only paths. A large
image becomes several work units (``DetectOptions.chips_per_unit`` chips each), so one
scene spreads over many tasks; merging across chips happens once per image, after the
shuffle. Results are deterministic per image, so a retried task or a lost executor
recomputes the same rows and Spark's exactly-once shuffle keeps one copy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from skyscan.detectors import ModelCard, get_detector, recipe_card
from skyscan.engines.spark import tasks
from skyscan.engines.spark.session import task_cpus, to_spark_schema
from skyscan.errors import InputError
from skyscan.io.sources import unique_image_ids
from skyscan.pipeline import DetectOptions

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)

UNITS_PER_CORE = (
    8  # detect partitions per core (capped by the number of units): small tail, low overhead
)


@dataclass(frozen=True)
class PackedJob:
    """The lazily planned job: ``packed`` has one row per image (see ``PACKED_SCHEMA``).

    ``units`` is persisted (it holds only headers and windows); call :meth:`release` when done.
    ``n_units`` and ``meta_keys`` are known up front only when the job was
    planned ``with_stats`` (``None`` otherwise).
    """

    packed: DataFrame
    units: DataFrame
    n_units: int | None
    meta_keys: tuple[str, ...] | None
    options: DetectOptions
    card: ModelCard
    run_id: str

    def release(self) -> None:
        self.units.unpersist()


def for_spark(spark: SparkSession, options: DetectOptions) -> DetectOptions:
    """``options`` with ONNX intra-op threads = ``spark.task.cpus`` unless set explicitly.

    Spark already runs one task per core; an ONNX session per task that also used every
    core would oversubscribe the executor (cores² threads fighting for cores).
    """
    if options.recipe.threads:
        return options
    return replace(options, recipe=replace(options.recipe, threads=task_cpus(spark)))


def paths_frame(
    spark: SparkSession, paths: Sequence[str], image_ids: dict[str, str] | None = None
) -> DataFrame:
    """A DataFrame of ``path, image_id`` (ids from :func:`skyscan.io.sources.unique_image_ids` by default)."""
    if image_ids is None:
        image_ids = unique_image_ids(list(paths))
    rows = [(p, image_ids.get(p)) for p in paths]
    return spark.createDataFrame(rows, schema=to_spark_schema(tasks.PATHS_SCHEMA))


def plan_job(
    spark: SparkSession,
    paths: DataFrame,
    options: DetectOptions,
    run_id: str,
    *,
    partitions: int | None = None,
    detector_factory: tasks.DetectorFactory | None = None,
    with_stats: bool = True,
) -> PackedJob:
    """Plan the detection job over ``paths`` (columns ``path``, ``image_id``).

    ``with_stats`` runs one small job now (headers and chip plans, persisted) to size the
    detect stage and learn the ``meta_*`` columns, which a DataFrame of detections needs
    for its schema. Without it nothing runs yet: the headers are read (and persisted) by
    the range partitioner's sampling job, which runs anyway; this saves a job when the
    results are written per image and no schema is needed up front.
    ``partitions`` overrides the number of detect tasks (default: the number of work
    units, at most ``8 × defaultParallelism``). The detection itself stays lazy in ``packed``.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    if partitions is not None and partitions < 1:
        raise InputError(f"'partitions' must be >= 1 (got {partitions})")
    options = for_spark(spark, options)
    card = recipe_card(options.recipe)  # on the driver: no ONNX session
    factory = detector_factory or get_detector
    parallelism = max(1, spark.sparkContext.defaultParallelism)

    def open_fn(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return tasks.open_and_plan(batches, card, options)

    def detect_fn(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return tasks.detect_units(batches, options, factory)

    def finalize_fn(table: pa.Table) -> pa.Table:
        return tasks.finalize_group(table, card, run_id, options)

    units = (
        paths.select("path", "image_id")
        .repartition(parallelism, "path")
        .mapInArrow(open_fn, to_spark_schema(tasks.UNITS_SCHEMA))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    n_units: int | None = None
    meta: tuple[str, ...] | None = None
    n_parts = partitions or UNITS_PER_CORE * parallelism
    if with_stats:
        stats = units.agg(
            F.count(F.lit(1)).alias("units"),
            F.sum("n_chips").alias("chips"),
            F.array_sort(F.array_distinct(F.flatten(F.collect_set("meta_keys")))).alias("meta"),
        ).first()
        n_units = int(stats["units"] or 0) if stats else 0
        meta = tuple(stats["meta"] or ()) if stats else ()
        n_parts = partitions or max(1, min(n_units, n_parts))
        logger.info(
            "spark detect: %d work units, %s chips, %d detect tasks",
            n_units,
            stats["chips"] if stats else 0,
            n_parts,
        )
    packed = (
        units.repartitionByRange(n_parts, "path", "unit_index")
        .mapInArrow(detect_fn, to_spark_schema(tasks.UNIT_RESULTS_SCHEMA))
        .groupBy("path")
        .applyInArrow(finalize_fn, to_spark_schema(tasks.PACKED_SCHEMA))
    )
    return PackedJob(packed, units, n_units, meta, options, card, run_id)
