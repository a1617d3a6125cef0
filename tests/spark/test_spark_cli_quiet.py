"""``skyscan -q detect --engine spark`` keeps the JVM's own output (startup notes, log4j
lines, a lost executor's Java stack traces) off the terminal: ``-q`` prints errors only
(found by the fault harness's ``spark_executor`` kind: 58 lines of Java stack traces)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.timeout(1800),
]  # a fresh JVM on a busy machine


def test_quiet_spark_run_prints_only_its_failed_input(
    blob_scenes: dict[str, Any], blob_model: Path, tmp_path: Path
) -> None:
    from skyscan.engines.spark.session import check_java
    from skyscan.errors import MissingDependencyError

    pytest.importorskip("pyspark")
    try:
        check_java()
    except MissingDependencyError as exc:
        pytest.skip(str(exc))
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "skyscan",
            "-q",
            "detect",
            *blob_scenes["paths"],
            "-o",
            str(tmp_path / "out"),
            "--model",
            str(blob_model),
            "--engine",
            "spark",
            "--master",
            "local[1]",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    assert res.returncode == 3, res.stderr
    # the corrupt scene is named, as by the local engine; nothing else
    assert res.stderr.splitlines() == [
        line for line in res.stderr.splitlines() if line.startswith("FAILED ")
    ]
    assert blob_scenes["corrupt"] in res.stderr
