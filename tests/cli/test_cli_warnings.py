"""Python warnings under the CLI: through logging (so -q silences them), and rasterio's
"no geotransform" warning never, even from lanes opening images side by side (the fault
harness saw it leak past a per-call catch_warnings, which is not thread-safe)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rasters import write_plain_png


def test_quiet_detect_on_many_plain_images_prints_nothing(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for k in range(12):
        write_plain_png(tmp_path / "in" / f"plain{k}.png", 80, 60, seed=k)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "skyscan",
            "-q",
            "detect",
            str(tmp_path / "in"),
            "-o",
            str(tmp_path / "out"),
            "--gsd",
            "0.13",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_warnings_go_through_logging_and_the_georef_one_is_dropped() -> None:
    code = (
        "import threading, warnings\n"
        "from skyscan.cli import setup_logging\n"
        "setup_logging(0, 1)\n"
        "def warn():\n"
        "    warnings.warn('Dataset has no geotransform, gcps, or rpcs. The identity matrix will be returned.')\n"
        "    warnings.warn('some other library warning')\n"
        "t = threading.Thread(target=warn); t.start(); t.join()\n"
    )
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert quiet.stderr == ""
    loud = subprocess.run(
        [sys.executable, "-c", code.replace("setup_logging(0, 1)", "setup_logging(0, 0)")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "some other library warning" in loud.stderr and "geotransform" not in loud.stderr
