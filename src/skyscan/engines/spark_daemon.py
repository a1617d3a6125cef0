"""PySpark's Python daemon with skyscan's modules imported before it forks workers.

Spark starts one daemon per executor and forks a Python worker from it for each task
slot. Importing rasterio, pyproj, shapely, ONNX Runtime and skyscan once in the daemon
means every forked worker starts with them already loaded (copy-on-write), instead of
each worker paying the imports again. Nothing stateful is created before the fork: no
GDAL dataset, no ONNX session, no thread pool.

Enabled by :func:`skyscan.engines.spark_session.spark_session` through
``spark.python.daemon.module=skyscan.engines.spark_daemon`` (Spark runs it as
``python -m``); it needs skyscan installed in the executors' Python, which the engine
needs anyway.
"""

from __future__ import annotations

import importlib

PRELOAD = (
    "numpy", "pyarrow", "pyarrow.ipc", "shapely", "pyproj", "rasterio", "onnxruntime",
    "skyscan.pipeline", "skyscan.engines.spark_stages", "skyscan.detectors.onnx_backend",
    "skyscan.io.reader",
)


def preload() -> list[str]:
    """Import :data:`PRELOAD`; return the modules that failed (the worker imports them later)."""
    failed = []
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # a failed preload must never stop the daemon
            failed.append(name)
    return failed


if __name__ == "__main__":  # pragma: no cover - run by Spark as python -m
    preload()
    from pyspark.daemon import manager

    manager()
