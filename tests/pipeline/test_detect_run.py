"""Runs through the real CLI entry point: outputs, bad inputs, refusal, and resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyarrow.parquet as pq
import pytest

from rasters import utm_transform, write_geotiff
from skyscan.detectors.synthetic import build_blob_model, draw_blobs


def skyscan(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skyscan", *args], capture_output=True, text=True, check=check
    )


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_blob_model(tmp_path_factory.mktemp("m") / "blobs.onnx", input_size=64)


def make_images(folder: Path, n: int, size: int = 160) -> list[tuple[float, float, int]]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    centres = []
    for i in range(n):
        img = np.zeros((3, size, size), np.uint8)
        c = [(float(rng.integers(10, size - 10)), float(rng.integers(10, size - 10)), int(i % 3))]
        draw_blobs(img, c)
        centres += c
        write_geotiff(
            folder / f"img_{i:03d}.tif",
            size,
            size,
            data=img,
            transform=utm_transform(0.5, x0=594_000.0 + 200 * i),
        )
    return centres


def test_detect_writes_every_output_and_lists_bad_inputs(tmp_path: Path, model: Path) -> None:
    images = tmp_path / "images"
    make_images(images, 3)
    (images / "empty.tif").write_bytes(b"")
    (images / "notes.tif").write_text("this is not an image")
    good = (images / "img_000.tif").read_bytes()
    (images / "truncated.tif").write_bytes(good[: len(good) // 3])
    out = tmp_path / "out"
    res = skyscan("detect", str(images), "-o", str(out), "--model", str(model))
    assert res.returncode == 3, res.stderr  # some inputs failed, the rest were processed
    gdf = gpd.read_parquet(out / "detections.parquet")
    assert gdf.crs.to_epsg() == 4326
    assert len(gdf) == 3 and set(gdf["image_id"]) == {"img_000", "img_001", "img_002"}
    errors = pq.read_table(out / "errors.parquet").to_pylist()
    failed = {Path(e["path"]).name for e in errors}
    assert {"empty.tif", "notes.tif", "truncated.tif"} <= failed
    assert all(Path(e["path"]).name in e["message"] for e in errors)
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["counts"]["detections"] == 3 and manifest["counts"]["failed"] == len(errors)
    # versions come from the loaded modules; they must be the installed distributions'
    for name, installed in manifest["versions"].items():
        if name not in ("python", "gdal"):
            assert installed == version(name), name
    assert manifest["skyscan_version"] == version("skyscan")
    geojson = json.loads((out / "detections.geojson").read_text())
    assert len(geojson["features"]) == 3
    # an existing output directory is refused without --overwrite / --resume
    again = skyscan("detect", str(images), "-o", str(out), "--model", str(model))
    assert again.returncode == 1 and "--overwrite" in again.stderr


def test_resume_after_sigkill_equals_uninterrupted_run(tmp_path: Path, model: Path) -> None:
    images = tmp_path / "images"
    make_images(images, 60, size=256)
    full = tmp_path / "full"
    skyscan("-q", "detect", str(images), "-o", str(full), "--model", str(model), check=True)

    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "skyscan",
            "-q",
            "detect",
            str(images),
            "-o",
            str(out),
            "--model",
            str(model),
        ],
        start_new_session=True,
    )
    parts = out / "_parts"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if parts.is_dir() and len(list(parts.glob("*.det.*"))) >= 10:
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, (
        "run finished before it could be killed; make it longer"
    )
    assert not (out / "detections.parquet").exists()
    done_before = len(list(parts.glob("*.det.*")))
    assert 10 <= done_before < 60

    res = skyscan("-q", "detect", str(images), "-o", str(out), "--model", str(model), "--resume")
    assert res.returncode == 0, res.stderr
    resumed = pq.read_table(out / "detections.parquet").drop(["run_id"])
    reference = pq.read_table(full / "detections.parquet").drop(["run_id"])
    assert resumed.num_rows == 60
    assert resumed.equals(reference)
    assert len(set(resumed.column("detection_id").to_pylist())) == resumed.num_rows
