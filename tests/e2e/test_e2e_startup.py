"""A fresh ``skyscan detect`` does not import what it never uses.

Start-up is part of every command's time (the README's fresh-command figure): pandas
alone costs about 0.5 s of CPU to import, and pyarrow imports it on first contact unless
the detection path avoids the calls that ask (see ``skyscan.arrow_arrays``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from affine import Affine
from e2e_support import blank

from rasters import write_geotiff

PROBE = """
import json, runpy, sys
sys.argv = ["skyscan", *json.loads(sys.argv[1])]
try:
    runpy.run_module("skyscan", run_name="__main__")
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "loaded": sorted(m for m in ("pandas", "geopandas") if m in sys.modules)}))
"""


def test_detect_with_detections_none_and_errors_does_not_import_pandas(blob_model: Path, tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    t = Affine(0.5, 0.0, 594_000.0, 0.0, -0.5, 5_758_000.0)
    write_geotiff(images / "scene.tif", 64, 48, data=blank(64, 48, [(10, 20, 0), (40, 20, 1)]), transform=t)
    write_geotiff(images / "empty.tif", 64, 48, data=blank(64, 48, []), transform=t)  # no detections
    (images / "broken.tif").write_bytes(b"II*\x00 not a tiff")
    out = tmp_path / "out"
    args = ["-q", "detect", str(images), "-o", str(out), "--model", str(blob_model)]
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] == 3, proc.stderr  # one input failed: the errors table was written too
    run = json.loads((out / "run.json").read_text())
    assert run["counts"]["detections"] == 2 and run["counts"]["failed"] == 1
    assert result["loaded"] == [], f"skyscan detect imported {result['loaded']}"
