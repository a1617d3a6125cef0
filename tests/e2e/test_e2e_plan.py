"""``skyscan plan``: what a run would read, from headers only, local and remote."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from e2e_support import skyscan

from rasters import lv95_transform, write_geotiff
from remote_servers import RangeServer


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plan")
    data = np.random.default_rng(0).integers(0, 255, (3, 600, 600)).astype("uint8")
    write_geotiff(
        root / "tiled.tif",
        600,
        600,
        data=data,
        crs="EPSG:2056",
        transform=lv95_transform(0.5),
        tiled=True,
        blockxsize=256,
        blockysize=256,
    )
    for k in range(3):
        write_geotiff(
            root / f"small_{k}.tif",
            100,
            80,
            crs="EPSG:2056",
            transform=lv95_transform(0.5, x0=2_690_000.0 + 100 * k),
        )
    return root


def test_plan_lists_chips_megapixels_and_bytes(folder: Path, blob_model: Path) -> None:
    res = skyscan("plan", folder, "--model", blob_model, "--json", "--rate", "10")
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    images, totals = lines[:-1], lines[-1]["totals"]
    assert len(images) == 4 and totals["images"] == 4
    tiled = next(r for r in images if r["image_id"] == "tiled")
    assert tiled["chips"] > 4 and tiled["file_bytes"] == (folder / "tiled.tif").stat().st_size
    assert 0 < tiled["read_bytes"] <= tiled["file_bytes"]
    # the side of the chips detect would run (the blob model takes 64 px chips only)
    assert {r["chip_px"] for r in images} == {64}
    assert totals["chips"] == sum(r["chips"] for r in images)
    assert totals["estimated_s"] == pytest.approx(totals["model_megapixels"] / 10)


def test_plan_with_an_area_skips_images_outside_it(folder: Path, blob_model: Path) -> None:
    area = "SRID=2056;POLYGON((2683000 1248000, 2683100 1248000, 2683100 1247900, 2683000 1247900, 2683000 1248000))"
    full = skyscan("plan", folder / "tiled.tif", "--model", blob_model, "--json", "--rate", "10")
    res = skyscan("plan", folder, "--model", blob_model, "--json", "--rate", "10", "--aoi", area)
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    totals = lines[-1]["totals"]
    assert totals["skipped"] == 3
    tiled = next(r for r in lines[:-1] if r["image_id"] == "tiled")
    assert 0 < tiled["chips"] < json.loads(full.stdout.splitlines()[0])["chips"]


def test_plan_of_remote_images_reads_headers_only(folder: Path, blob_model: Path) -> None:
    with RangeServer(folder) as srv:
        res = skyscan(
            "plan",
            srv.url("tiled.tif"),
            srv.url("gone.tif?sig=SECRET"),
            "--model",
            blob_model,
            "--rate",
            "10",
        )
        sent = srv.stats()["bytes_sent"]
    assert res.returncode == 3, res.stderr
    assert "tiled.tif: 600 x 600 px" in res.stdout and "SECRET" not in res.stdout + res.stderr
    assert "not found (HTTP 404)" in res.stdout
    assert sent < (folder / "tiled.tif").stat().st_size / 4
