"""A fresh ``skyscan detect`` does not import what it never uses, and skips the
interpreter's teardown once its outputs are written (``skyscan.cli.main``).

Start-up is part of every command's time (the README's fresh-command figure): pandas
alone costs about 0.5 s of CPU to import, and pyarrow imports it on first contact unless
the detection path avoids the calls that ask (see ``skyscan.arrow_arrays``);
``pyarrow.compute`` (sort/take) and ``numpy.ma`` (``np.median``) cost 50-75 ms and 20-50 ms
(``python -X importtime -c "import numpy, pyarrow; import pyarrow.compute"``, and the same
for ``numpy.ma``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from affine import Affine
from e2e_support import blank

from rasters import write_geotiff

PROBE = """
import json, os, runpy, sys

UNUSED = ("pandas", "geopandas", "pyarrow.compute", "numpy.ma")


def report(code, fast):
    loaded = sorted(m for m in UNUSED if m in sys.modules)
    print(json.dumps({"code": code, "fast_exit": fast, "loaded": loaded}), flush=True)


real_exit = os._exit
os._exit = lambda code: (report(code, True), real_exit(code))
sys.argv = ["skyscan", *json.loads(sys.argv[1])]
try:
    runpy.run_module("skyscan", run_name="__main__")
except SystemExit as exc:
    report(exc.code, False)
"""


def test_detect_imports_only_what_it_uses_and_exits_fast(blob_model: Path, tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    t = Affine(0.5, 0.0, 594_000.0, 0.0, -0.5, 5_758_000.0)
    write_geotiff(
        images / "scene.tif", 64, 48, data=blank(64, 48, [(10, 20, 0), (40, 20, 1)]), transform=t
    )
    write_geotiff(
        images / "empty.tif", 64, 48, data=blank(64, 48, []), transform=t
    )  # no detections
    (images / "broken.tif").write_bytes(b"II*\x00 not a tiff")
    out = tmp_path / "out"
    args = ["-q", "detect", str(images), "-o", str(out), "--model", str(blob_model)]
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # one input failed, so the documented exit code 3, through the fast exit as well
    assert result["code"] == 3 and proc.returncode == 3, proc.stderr
    assert result["fast_exit"], "the local engine's detect should skip the interpreter's teardown"
    run = json.loads((out / "run.json").read_text())
    assert run["counts"]["detections"] == 2 and run["counts"]["failed"] == 1
    assert result["loaded"] == [], f"skyscan detect imported {result['loaded']}"
