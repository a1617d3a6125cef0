"""The spark engine behind ``skyscan detect --engine spark``: runs the job of
:mod:`skyscan.engines.spark.job` and leaves one checkpoint part per image, which
:mod:`skyscan.run` assembles exactly as for the local engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from skyscan.engines.spark import tasks
from skyscan.engines.spark.job import PackedJob, paths_frame, plan_job
from skyscan.engines.spark.session import joined_or_new_session
from skyscan.io.remote import is_transient
from skyscan.pipeline import DetectOptions
from skyscan.run_state import PartStore
from skyscan.types import JsonObject

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Row, SparkSession


def run_detect(
    paths: Sequence[str],
    options: DetectOptions,
    outdir: str | Path,
    *,
    master: str | None = None,
    spark: SparkSession | None = None,
    run_id: str,
    store: PartStore | None = None,
    image_ids: dict[str, str] | None = None,
    partitions: int | None = None,
    detector_factory: tasks.DetectorFactory | None = None,
    progress: Callable[[str], None] | None = None,
) -> JsonObject:
    """Detect in ``paths`` on Spark and leave one checkpoint part per image in ``store``.

    The CLI path (``skyscan detect --engine spark``): ``skyscan.run.run_detect`` then
    assembles ``detections.parquet`` and ``errors.parquet`` from the parts exactly as for
    the local engine. Paths already done in ``store`` are skipped (resume). Uses
    ``spark`` if given, else starts a session on ``master`` (and stops it afterwards).
    ``progress(path)`` is called as each image's part is written. Returns counts and timings.
    """
    store = store or PartStore(outdir, run_id)
    todo = [p for p in paths if not store.is_done(p)]
    summary: JsonObject = {
        "images": len(paths),
        "skipped": len(paths) - len(todo),
        "images_ok": 0,
        "failed": 0,
        "detections": 0,
        "work_units": 0,
    }
    if not todo:
        return summary
    t0 = time.perf_counter()
    if spark is None:
        session, own = joined_or_new_session(master)
    else:
        own, session = False, spark
    summary["session_s"] = round(time.perf_counter() - t0, 3)
    job: PackedJob | None = None
    try:
        t1 = time.perf_counter()
        # parts are written per image: no schema is needed up front, so no stats job
        job = plan_job(
            session,
            paths_frame(session, todo, image_ids),
            options,
            run_id,
            partitions=partitions,
            detector_factory=detector_factory,
            with_stats=False,
        )
        columns = [
            "path",
            "status",
            "n_units",
            "detections",
            "error_stage",
            "error_type",
            "error_message",
        ]
        for row in job.packed.select(*columns).toLocalIterator(prefetchPartitions=True):
            summary["detections"] += _write_part(store, row)
            summary["work_units"] += row["n_units"]
            summary["images_ok" if row["status"] == "ok" else "failed"] += 1
            if progress is not None:
                progress(row["path"])
        summary["job_s"] = round(time.perf_counter() - t1, 3)
    finally:
        if job is not None:
            job.release()
        if own:
            session.stop()
    missing = [p for p in todo if not store.has_part(p)]
    if missing:  # every input must end as detections or an error; never silently lost
        raise RuntimeError(
            f"spark engine: {len(missing)} images have no result (first: {missing[0]})"
        )
    return summary


def _write_part(store: PartStore, row: Row) -> int:
    """Write one image's part (atomic, idempotent); return its number of detections."""
    if row["status"] == "ok":
        table = tasks.from_ipc(row["detections"])
        store.write_detections(row["path"], table)
        return int(table.num_rows)
    if row["error_type"] == tasks.SKIPPED:
        store.write_skip(row["path"], row["error_message"])
        return 0
    store.write_error_record(
        row["path"],
        row["error_stage"],
        row["error_type"],
        row["error_message"],
        transient=is_transient(row["error_type"], row["error_message"]),
    )
    return 0
