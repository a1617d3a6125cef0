"""The shipped model's detections on real imagery, row by row against a stored reference.

A change that should leave results alone (a refactor, a faster reader) must not move a
box: this run of ``skyscan detect`` with the default settings over two held-out KIT
frames and two georeferenced orthophotos must give the rows of
``tests/data/reference_detections.csv`` (boxes within 0.01 px, scores within 1e-4,
positions within 1e-7 degrees). A change that is meant to alter detections (a new model,
a new merge) rewrites the reference, and the commit says why:

    SKYSCAN_UPDATE_REFERENCE=1 pytest tests/e2e/test_reference_detections.py
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "tests" / "data" / "reference_detections.csv"
INPUTS = [  # under ../shared/data; none of the reserved final-test files
    "kit-ais-munich/images/MunichStreet02-MOS74.png",
    "kit-ais-munich/images/MunichStreet02-MOS83.png",
    "georef/gorinchem/gorinchem_0.25m.tif",
    "georef/orthophotos/201404_13SED190110_201404_0x1500m_CL_1.tif",
]


def _compare_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "compare_detections", REPO / "scripts" / "compare_detections.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_default_detect_gives_the_stored_rows(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "skyscan",
            "-q",
            "detect",
            *(str(shared_data / p) for p in INPUTS),
            "--gsd",
            "0.13",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    script = _compare_script()
    if os.environ.get("SKYSCAN_UPDATE_REFERENCE") == "1":
        script.save_csv(out, REFERENCE)
    diffs = script.compare(out, REFERENCE, box_tol=0.01, score_tol=1e-4, coord_tol=1e-7)
    assert diffs == [], "\n".join(diffs[:20])
