"""The analytics benchmark script runs end to end on small data (identical results)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_analytics.py"


@pytest.mark.slow
def test_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "analytics.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--points",
            "20000",
            "--zones",
            "200",
            "--repeats",
            "1",
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert (
        result["join"]["array"]["identical_result"] and result["join"]["table"]["identical_result"]
    )
    assert result["h3"]["identical_to_fallback"] and result["h3"]["points_per_s"] > 0
    assert "join table vs sjoin" in proc.stdout
