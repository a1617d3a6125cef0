"""``skyscan inspect`` through the real click group, and ``skyscan.inspect`` in Python."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from pyproj import CRS

import rasters
import skyscan
from skyscan.cli import cli


@pytest.fixture()
def images(tmp_path: Path) -> Path:
    rasters.write_geotiff(tmp_path / "utm.tif")
    (tmp_path / "sub").mkdir()
    rasters.write_geotiff(
        tmp_path / "sub" / "zh.tif", crs="EPSG:2056", transform=rasters.lv95_transform()
    )
    rasters.write_png_with_worldfile(tmp_path / "w.png")  # no .prj: needs --crs
    rasters.write_plain_png(tmp_path / "plain.png")
    return tmp_path


def test_text_output_and_exit_code(images: Path) -> None:
    result = CliRunner().invoke(cli, ["inspect", str(images)])
    assert result.exit_code == 3, result.output
    out = result.stdout
    assert "crs: EPSG:32631   gsd: 0.500 m   georef: geotiff" in out
    assert "crs: EPSG:2056" in out and "crs: none (pixel space)" in out
    assert "FAILED" in out and "w.png (read): CRSError" in out and "--crs" in out
    assert "3 images described, 1 failed" in result.stderr


def test_user_crs_makes_everything_succeed_and_json(images: Path) -> None:
    result = CliRunner().invoke(cli, ["inspect", "--crs", "EPSG:32631", "--json", str(images)])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    by_id = {r["image_id"]: r for r in records}
    assert set(by_id) == {"utm", "zh", "w", "plain"}
    assert by_id["w"]["georef_source"] == "user"
    lon, lat = by_id["zh"]["footprint_lonlat"][0]
    assert 8.4 < lon < 8.7 and 47.3 < lat < 47.5
    min_lon, min_lat, max_lon, max_lat = by_id["utm"]["bounds_lonlat"]
    assert 4.3 < min_lon < max_lon < 4.5 and 51.9 < min_lat < max_lat < 52.0
    assert by_id["plain"]["footprint_lonlat"] is None and by_id["plain"]["gsd_m"] is None


def test_no_recursive_and_gsd(images: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["inspect", "--no-recursive", "--gsd", "0.2", "--crs", "EPSG:32631", "--json", str(images)],
    )
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)  # sub/zh.tif is not visited
    assert sorted(Path(r["path"]).name for r in records) == ["plain.png", "utm.tif", "w.png"]
    assert next(r for r in records if r["image_id"] == "plain")["gsd_m"] == 0.2


def test_bad_option_is_usage_error(images: Path) -> None:
    result = CliRunner().invoke(cli, ["inspect", "--crs", "EPSG:0", str(images)])
    assert result.exit_code == 2
    assert "'crs' option" in result.output


def test_python_api_matches(images: Path) -> None:
    records = skyscan.inspect(images, crs=CRS.from_epsg(32631).to_wkt())
    assert [r["ok"] for r in records] == [True] * 4
    assert records == sorted(records, key=lambda r: r["path"])


def test_real_entry_point_subprocess(images: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "skyscan",
            "inspect",
            "--json",
            str(images / "utm.tif"),
            str(images / "missing.tif"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 3, proc.stderr
    records = json.loads(proc.stdout)
    assert [r["ok"] for r in records] == [False, True]
    assert records[0]["stage"] == "ingest" and "no such file" in records[0]["message"]
