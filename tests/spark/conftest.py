"""Fixtures for the spark engine: blob scenes, a local[2] session, a standalone cluster.

Spark sessions are expensive (a JVM each), so there is one per test module (scope
``module``) and modules stop theirs before the next starts: only one SparkContext can
live in a process. The standalone cluster is a real Spark master and worker started
with the installed PySpark's ``bin/spark-class`` on 127.0.0.1, killed (process groups)
afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from spark_helpers import CHIPS_PER_UNIT, blob_options, run_local

from rasters import lv95_transform, rotated_transform, utm_transform, write_geotiff
from skyscan.detectors.synthetic import build_blob_model, draw_blobs

SPARK_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.memory": "1g",
}


def _spark_env() -> None:
    # Before the JVM starts: bind to loopback only, and run executors with this venv.
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    os.environ["PYSPARK_PYTHON"] = sys.executable


def _java_or_skip() -> None:
    from skyscan.engines.spark_session import check_java
    from skyscan.errors import MissingDependencyError

    pytest.importorskip("pyspark")
    try:
        check_java()
    except MissingDependencyError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def blob_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_blob_model(tmp_path_factory.mktemp("spark-model") / "blobs.onnx", input_size=64)


@pytest.fixture(scope="session")
def blob_scenes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Georeferenced scenes in two CRSs, a rotated one, a PNG in pixel space, a corrupt file.

    The big scene spreads over several work units (54 chips, ``chips_per_unit=8``).
    """
    root = tmp_path_factory.mktemp("spark-scenes")
    rng = np.random.default_rng(7)
    paths: list[str] = []

    def scene(name: str, width: int, height: int, n: int, **kw: Any) -> None:
        img = np.zeros((3, height, width), np.uint8)
        centres = [(float(rng.uniform(10, width - 10)), float(rng.uniform(10, height - 10)), int(rng.integers(0, 3)))
                   for _ in range(n)]
        draw_blobs(img, centres)
        paths.append(str(write_geotiff(root / name, width, height, data=img, **kw)))

    scene("utm_a.tif", 300, 200, 6)
    scene("utm_big.tif", 480, 320, 16, transform=utm_transform(0.3, x0=594_500.0))
    scene("lv95.tif", 260, 180, 5, crs="EPSG:2056", transform=lv95_transform(0.5))
    scene("rotated.tif", 220, 220, 4, transform=rotated_transform(0.5, 20.0))
    # No world file: processed in pixel space (georeferenced false, no geometry).
    img = np.zeros((3, 90, 120), np.uint8)
    draw_blobs(img, [(40.0, 40.0, 0), (90.0, 60.0, 2)])
    with rasterio.open(root / "pixels.png", "w", driver="PNG", width=120, height=90, count=3, dtype="uint8") as dst:
        dst.write(img)
    paths.append(str(root / "pixels.png"))
    bad = root / "corrupt.tif"
    bad.write_bytes(b"II*\x00" + b"\x00" * 64)  # a TIFF header and nothing behind it
    paths.append(str(bad))
    return {"root": root, "paths": sorted(paths), "corrupt": str(bad)}


@pytest.fixture(scope="module")
def local_spark() -> Iterator[Any]:
    """A local[2] SparkSession for one test module."""
    _java_or_skip()
    _spark_env()
    from skyscan.engines.spark_session import spark_session

    spark = spark_session("local[2]", conf=SPARK_CONF)
    spark.sparkContext.setLogLevel("ERROR")
    yield spark
    spark.stop()


# ------------------------------------------------------------------ standalone cluster


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=15)
            return
        except subprocess.TimeoutExpired:
            continue


class StandaloneCluster:
    """A Spark standalone master + one worker on 127.0.0.1 (process groups of their own)."""

    def __init__(self, workdir: Path, cores: int = 2, memory: str = "2g") -> None:
        self.workdir = workdir
        self.port = free_port()
        self.ui_port = free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.cores = cores
        self.memory = memory
        self.procs: list[subprocess.Popen[bytes]] = []

    def _launch(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable,
               "SPARK_HOME": str(spark_home()), "SPARK_WORKER_DIR": str(self.workdir / "work")}
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [str(spark_home() / "bin" / "spark-class"), *args],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def master_state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as resp:
            state: dict[str, Any] = json.load(resp)
        return state

    def start(self, timeout: float = 180.0) -> None:
        self.master = self._launch(
            "master", "org.apache.spark.deploy.master.Master",
            "--host", "127.0.0.1", "--port", str(self.port), "--webui-port", str(self.ui_port),
        )
        self._wait(lambda: self.master_state().get("status") == "ALIVE", timeout, "master")
        self.worker = self._launch(
            "worker", "org.apache.spark.deploy.worker.Worker", self.url,
            "--host", "127.0.0.1", "--cores", str(self.cores), "--memory", self.memory,
            "--webui-port", str(free_port()), "--work-dir", str(self.workdir / "work"),
        )
        self._wait(lambda: any(w.get("state") == "ALIVE" for w in self.master_state().get("workers", [])),
                   timeout, "worker")

    def _wait(self, ready: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                break
            with contextlib.suppress(OSError, ValueError):
                if ready():
                    return
            time.sleep(0.5)
        logs = {p.name: p.read_text(errors="replace")[-2000:] for p in self.workdir.glob("*.log")}
        self.stop()
        raise RuntimeError(f"standalone {what} did not start within {timeout}s: {logs}")

    def executor_pids(self) -> list[int]:
        """JVMs of this worker's executors (children of the worker process)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmd = (entry / "cmdline").read_bytes()
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if b"CoarseGrainedExecutorBackend" in cmd and ppid == self.worker.pid:
                pids.append(int(entry.name))
        return pids

    def stop(self) -> None:
        for proc in reversed(self.procs):
            _kill_group(proc)
        self.procs.clear()


@pytest.fixture(scope="module")
def standalone_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneCluster]:
    _java_or_skip()
    _spark_env()
    cluster = StandaloneCluster(tmp_path_factory.mktemp("spark-cluster"))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def cluster_spark(standalone_cluster: StandaloneCluster) -> Iterator[Any]:
    """A SparkSession whose executors run on the standalone cluster's worker."""
    from skyscan.engines.spark_session import spark_session

    conf = {**SPARK_CONF, "spark.executor.cores": "2", "spark.executor.memory": "1g", "spark.cores.max": "2",
            "spark.task.maxFailures": "4"}
    spark = spark_session(standalone_cluster.url, conf=conf)
    spark.sparkContext.setLogLevel("ERROR")
    yield spark
    spark.stop()


# ------------------------------------------------- the blob scenes through both engines


@pytest.fixture(scope="module")
def local_result(blob_scenes: dict[str, Any], blob_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(detections, errors) of the local engine on the blob scenes."""
    options = blob_options(blob_model, chips_per_unit=CHIPS_PER_UNIT)
    return run_local(blob_scenes["paths"], options, tmp_path_factory.mktemp("local-out"))


@pytest.fixture(scope="module")
def spark_detections(local_spark: Any, blob_scenes: dict[str, Any], blob_model: Path) -> Iterator[Any]:
    """The spark engine's detections DataFrame on the same scenes (module's local[2] session)."""
    from skyscan.spark import detect

    result = detect(local_spark, blob_scenes["paths"], blob_options(blob_model, chips_per_unit=CHIPS_PER_UNIT))
    yield result.detections
    result.release()


@pytest.fixture(scope="module")
def local_frame(local_result: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The local detections as the analytics read them (GeoDataFrame, EPSG:4326)."""
    from skyscan.analytics.frames import read_detections
    from skyscan.io.writers import write_geoparquet

    path = tmp_path_factory.mktemp("local-frame") / "detections.parquet"
    write_geoparquet(local_result[0], path)
    return read_detections(path)
