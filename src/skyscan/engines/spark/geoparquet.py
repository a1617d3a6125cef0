"""Partitioned GeoParquet from a Spark DataFrame, readable by ``geopandas.read_parquet``.

Spark's own Parquet writer cannot add the GeoParquet ``geo`` key to a file's metadata,
so executors write the files with pyarrow (:func:`skyscan.io.writers.with_geo_metadata`)
and the driver commits them, like Hadoop's file output committer:

1. each task attempt writes its files under ``_temporary/<job>/<attempt>/KEY=VALUE/``;
2. the action's result lists, for every partition, the files of the one attempt Spark
   counted (a failed, killed or speculative attempt never appears in it);
3. the driver moves exactly those files into ``KEY=VALUE/`` and deletes ``_temporary``,
   then writes ``_SUCCESS``.

A directory without ``_SUCCESS`` is an unfinished write. Rows without a partition value
(no georeferencing: no H3 cell) go to ``KEY=none``: Hive's ``__HIVE_DEFAULT_PARTITION__``
would read back as a null dictionary value, which ``geopandas.read_parquet`` cannot
unify with the other partitions (pyarrow 'Cannot yet unify dictionaries with nulls').
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from skyscan.errors import InputError, OutputExistsError
from skyscan.types import JsonObject

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)

NULL_PARTITION = "none"
SUCCESS = "_SUCCESS"
TEMPORARY = "_temporary"
MANIFEST_SCHEMA = pa.schema(
    [pa.field("partition", pa.int32()), pa.field("file", pa.string()), pa.field("rows", pa.int64())]
)


PART_KEY = "__partition"


def _partition_labels(column: pa.ChunkedArray, is_h3: bool) -> list[str]:
    """Directory values for a key column: H3 ids (int64) as hex, others as text; nulls → ``none``."""
    if is_h3:
        from skyscan.analytics.h3cells import cells_to_strings

        values: list[str | None] = list(cells_to_strings(column.to_numpy().astype("uint64")))
    else:
        values = [None if v is None else str(v) for v in column.to_pylist()]
    return [_safe_value(v) for v in values]


def _safe_value(value: str | None) -> str:
    if value is None or value == "":
        return NULL_PARTITION
    # Percent-encoding (pyarrow decodes it back): image ids may hold '/' when stems collide.
    from urllib.parse import quote

    return quote(value, safe="-_.@")


def write_partition_files(
    batches: Iterable[pa.RecordBatch], staging: str, label: str | None, is_h3: bool
) -> Iterator[pa.RecordBatch]:
    """Executor side: write this task's rows, one file per value of ``PART_KEY``; yield the manifest.

    The key column is not written into the files (Hive convention: the directory holds it).
    """
    from pyspark import TaskContext

    from skyscan.io.writers import with_geo_metadata

    ctx = TaskContext.get()
    part = ctx.partitionId() if ctx else 0
    attempt = ctx.taskAttemptId() if ctx else 0
    tables = [pa.Table.from_batches([b]) for b in batches if b.num_rows]
    if not tables:
        return
    table = pa.concat_tables(tables)
    groups: dict[str, list[int]] = {}
    if label is None:
        groups[""] = list(range(table.num_rows))
    else:
        for i, value in enumerate(_partition_labels(table.column(PART_KEY), is_h3)):
            groups.setdefault(value, []).append(i)
        table = table.drop_columns([PART_KEY])
    rows = []
    for value, idx in sorted(groups.items()):
        sub = table.take(pa.array(idx, pa.int64())) if len(idx) != table.num_rows else table
        rel = (f"{label}={value}/" if label else "") + f"part-{part:05d}.parquet"
        target = Path(staging) / f"attempt-{attempt}" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(with_geo_metadata(sub), target, compression="zstd")
        rows.append(
            {"partition": part, "file": str(target.relative_to(staging)), "rows": sub.num_rows}
        )
    yield pa.RecordBatch.from_pylist(rows, schema=MANIFEST_SCHEMA)


def write_geoparquet(
    detections: DataFrame,
    path: str | os.PathLike[str],
    *,
    partition_by: str | None = "h3_5",
    partitions: int | None = None,
    overwrite: bool = False,
) -> JsonObject:
    """Write a detections DataFrame as a directory of GeoParquet files; return a summary.

    ``partition_by``: ``"h3_<res>"`` (H3 cell of the centre point, e.g. ``h3_5`` ≈ 250 km²
    cells, good for regional queries), any column (``"image_id"``; it then lives in the
    directory names only, Hive style), or None for flat files. ``partitions``: Spark
    tasks writing (default: Spark's shuffle partitions, coalesced by AQE). The
    path must be a filesystem all executors and the driver share (local disk for
    ``local[*]``; NFS/DBFS/FUSE mounts on a cluster).
    """
    from skyscan.engines.spark.session import to_spark_schema

    out = Path(path)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise OutputExistsError(
                f"{out}: exists and is not empty; pass overwrite=True to replace it"
            )
        shutil.rmtree(out)
    is_h3 = partition_by is not None and partition_by.startswith("h3_")
    df = detections
    if partition_by is not None and is_h3:
        from skyscan.analytics.h3cells import check_resolution
        from skyscan.engines.spark.analytics import _add_cell_column

        res = check_resolution(
            int(partition_by[3:]) if partition_by[3:].isdigit() else partition_by
        )
        df = _add_cell_column(df, res, PART_KEY)
    elif partition_by is not None:
        if partition_by not in detections.columns:
            raise InputError(
                f"'partition_by' must be 'h3_<res>' or one of {detections.columns} (got {partition_by!r})"
            )
        df = df.withColumnRenamed(partition_by, PART_KEY)
    if partition_by is not None:
        # All rows of one partition value meet in one task: one file per value, not per task.
        df = df.repartition(partitions, PART_KEY) if partitions else df.repartition(PART_KEY)
    elif partitions:
        df = df.repartition(partitions)
    job = uuid.uuid4().hex[:12]
    staging = out / TEMPORARY / job
    staging.mkdir(parents=True, exist_ok=True)

    def write_fn(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return write_partition_files(batches, str(staging), partition_by, is_h3)

    manifest = df.mapInArrow(write_fn, to_spark_schema(MANIFEST_SCHEMA)).collect()
    files, n_rows = [], 0
    for row in manifest:
        src = staging / row["file"]
        rel = Path(*Path(row["file"]).parts[1:])  # drop attempt-<id>/
        dst = out / rel.parent / f"part-{row['partition']:05d}-{job}.parquet"
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
        files.append(str(dst.relative_to(out)))
        n_rows += int(row["rows"])
    shutil.rmtree(out / TEMPORARY, ignore_errors=True)
    summary = {"path": str(out), "files": len(files), "rows": n_rows, "partition_by": partition_by}
    (out / SUCCESS).write_text(json.dumps(summary) + "\n", encoding="utf-8")
    logger.info("wrote %d rows in %d GeoParquet files under %s", n_rows, len(files), out)
    return summary
