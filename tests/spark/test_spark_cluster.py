"""The spark engine on a real standalone cluster (master + worker on 127.0.0.1), with faults.

Each fault run must give exactly the local engine's rows: no duplicate, no lost image.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import spark_faults
from spark_helpers import (
    CHIPS_PER_UNIT,
    assert_same_detections,
    blob_options,
    error_keys,
)

from skyscan.run_state import PartStore

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def _faults_by_value() -> None:
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[spark_faults.__name__])


def _run(
    spark: Any, paths: list[str], model: Path, outdir: Path, **kw: Any
) -> tuple[dict[str, Any], pa.Table, pa.Table]:
    from skyscan.engines.spark.driver import run_detect

    summary = run_detect(
        paths,
        blob_options(model, chips_per_unit=CHIPS_PER_UNIT),
        outdir,
        spark=spark,
        run_id="r",
        **kw,
    )
    det, err = PartStore(outdir, "r").collect(paths)
    return summary, det, err


def _check_complete(
    det: pa.Table, err: pa.Table, local: tuple[pa.Table, pa.Table], paths: list[str]
) -> None:
    assert_same_detections(det, local[0])
    assert error_keys(err) == error_keys(local[1])
    seen = set(det.column("image_path").to_pylist()) | set(err.column("path").to_pylist())
    images_with_rows = set(local[0].column("image_path").to_pylist()) | set(
        local[1].column("path").to_pylist()
    )
    assert seen == images_with_rows
    ids = det.column("detection_id").to_pylist()
    assert len(ids) == len(set(ids))  # no duplicate rows


def test_job_runs_on_the_standalone_cluster(
    cluster_spark: Any,
    standalone_cluster: Any,
    blob_scenes: dict[str, Any],
    blob_model: Path,
    local_result: tuple[pa.Table, pa.Table],
    tmp_path: Path,
) -> None:
    assert cluster_spark.sparkContext.master == standalone_cluster.url
    summary, det, err = _run(cluster_spark, blob_scenes["paths"], blob_model, tmp_path)
    _check_complete(det, err, local_result, blob_scenes["paths"])
    apps = standalone_cluster.master_state()["activeapps"]
    assert [a["id"] for a in apps] == [cluster_spark.sparkContext.applicationId]
    assert standalone_cluster.executor_pids()  # the work ran in the worker's executor JVM
    assert summary["failed"] == 1


def test_failed_task_is_retried_without_duplicates(
    cluster_spark: Any,
    blob_scenes: dict[str, Any],
    blob_model: Path,
    local_result: tuple[pa.Table, pa.Table],
    tmp_path: Path,
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    factory = spark_faults.FailFirstAttempt(str(markers))  # every detect task fails once
    _, det, err = _run(
        cluster_spark, blob_scenes["paths"], blob_model, tmp_path / "out", detector_factory=factory
    )
    attempts: dict[str, set[int]] = {}
    for p in markers.iterdir():
        _, part, attempt = p.name.split("-")
        attempts.setdefault(part, set()).add(int(attempt.removeprefix("attempt")))
    assert len(attempts) >= 2
    assert all(seen >= {0, 1} for seen in attempts.values()), attempts  # failed, then retried
    _check_complete(det, err, local_result, blob_scenes["paths"])


def test_executor_killed_mid_job_loses_nothing(
    cluster_spark: Any,
    standalone_cluster: Any,
    blob_scenes: dict[str, Any],
    blob_model: Path,
    local_result: tuple[pa.Table, pa.Table],
    tmp_path: Path,
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    killed: list[int] = []
    killed_at: list[int] = []

    def killer() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not any(markers.iterdir()):
            time.sleep(0.2)
        time.sleep(1.0)  # let a few units finish first: their shuffle output dies with the JVM
        killed_at.append(time.monotonic_ns())
        for pid in standalone_cluster.executor_pids():
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    factory = spark_faults.SlowDetector(str(markers), delay=1.0)
    _, det, err = _run(
        cluster_spark, blob_scenes["paths"], blob_model, tmp_path / "out", detector_factory=factory
    )
    thread.join(timeout=60)
    assert killed, "no executor JVM was found to kill"
    # Markers are "pid<P>-<monotonic ns>" per detect call: work went on after the kill,
    # in Python workers of the relaunched executor. (A worker of the killed JVM may still
    # finish the call it was in, so old pids can appear after the kill too.)
    calls = [(int(n.split("-")[1]), n.split("-")[0]) for n in (p.name for p in markers.iterdir())]
    before = {pid for t, pid in calls if t < killed_at[0]}
    after = {pid for t, pid in calls if t > killed_at[0]}
    assert before and after - before, (before, after)
    assert not set(killed) & set(
        standalone_cluster.executor_pids()
    )  # the worker launched a new one
    _check_complete(det, err, local_result, blob_scenes["paths"])
