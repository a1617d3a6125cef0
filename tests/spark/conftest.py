"""Fixtures for the spark engine: blob scenes, a local[2] session, a standalone cluster.

Spark sessions are expensive (a JVM each), so there is one per test module (scope
``module``) and modules stop theirs before the next starts: only one SparkContext can
live in a process. The standalone cluster is a real Spark master and worker started
with the installed PySpark's ``bin/spark-class`` on 127.0.0.1, killed (process groups)
afterwards.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from spark_cluster import StandaloneCluster
from spark_helpers import CHIPS_PER_UNIT, blob_options, run_local

from rasters import (
    lv95_transform,
    rotated_transform,
    utm_transform,
    write_geotiff,
    write_plain_png,
)
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
    from skyscan.engines.spark.session import check_java
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
        centres = [
            (
                float(rng.uniform(10, width - 10)),
                float(rng.uniform(10, height - 10)),
                int(rng.integers(0, 3)),
            )
            for _ in range(n)
        ]
        draw_blobs(img, centres)
        paths.append(str(write_geotiff(root / name, width, height, data=img, **kw)))

    scene("utm_a.tif", 300, 200, 6)
    scene("utm_big.tif", 480, 320, 16, transform=utm_transform(0.3, x0=594_500.0))
    scene("lv95.tif", 260, 180, 5, crs="EPSG:2056", transform=lv95_transform(0.5))
    scene("rotated.tif", 220, 220, 4, transform=rotated_transform(0.5, 20.0))
    # No world file: processed in pixel space (georeferenced false, no geometry).
    img = np.zeros((3, 90, 120), np.uint8)
    draw_blobs(img, [(40.0, 40.0, 0), (90.0, 60.0, 2)])
    paths.append(str(write_plain_png(root / "pixels.png", data=img)))
    bad = root / "corrupt.tif"
    bad.write_bytes(b"II*\x00" + b"\x00" * 64)  # a TIFF header and nothing behind it
    paths.append(str(bad))
    return {"root": root, "paths": sorted(paths), "corrupt": str(bad)}


@pytest.fixture(scope="module")
def local_spark() -> Iterator[Any]:
    """A local[2] SparkSession for one test module."""
    _java_or_skip()
    _spark_env()
    from skyscan.engines.spark.session import spark_session

    spark = spark_session("local[2]", conf=SPARK_CONF)
    spark.sparkContext.setLogLevel("ERROR")
    yield spark
    spark.stop()


# ------------------------------------------------------------------ standalone cluster


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
    from skyscan.engines.spark.session import spark_session

    conf = {
        **SPARK_CONF,
        "spark.executor.cores": "2",
        "spark.executor.memory": "1g",
        "spark.cores.max": "2",
        "spark.task.maxFailures": "4",
    }
    spark = spark_session(standalone_cluster.url, conf=conf)
    spark.sparkContext.setLogLevel("ERROR")
    yield spark
    spark.stop()


# ------------------------------------------------- the blob scenes through both engines


@pytest.fixture(scope="module")
def local_result(
    blob_scenes: dict[str, Any], blob_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    """(detections, errors) of the local engine on the blob scenes."""
    options = blob_options(blob_model, chips_per_unit=CHIPS_PER_UNIT)
    return run_local(blob_scenes["paths"], options, tmp_path_factory.mktemp("local-out"))


@pytest.fixture(scope="module")
def spark_detections(
    local_spark: Any, blob_scenes: dict[str, Any], blob_model: Path
) -> Iterator[Any]:
    """The spark engine's detections DataFrame on the same scenes (module's local[2] session)."""
    from skyscan.spark import detect

    result = detect(
        local_spark, blob_scenes["paths"], blob_options(blob_model, chips_per_unit=CHIPS_PER_UNIT)
    )
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
