"""``skyscan map`` through the real click group and the installed entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
from click.testing import CliRunner
from shapely.geometry import box

from rasters import write_geotiff
from skyscan.cli import cli


def _inputs(tmp_path: Path, detections: pd.DataFrame) -> tuple[Path, Path, Path]:
    parquet = tmp_path / "d.parquet"
    detections.to_parquet(parquet)
    zones = tmp_path / "zones.geojson"
    gpd.GeoDataFrame(
        {"name": ["lot"]}, geometry=[box(4.468, 51.919, 4.472, 51.921)], crs="EPSG:4326"
    ).to_file(zones)
    image = write_geotiff(tmp_path / "scene.tif", 32, 32)
    return parquet, zones, image


def test_map_command_writes_page_and_reports(tmp_path: Path, detections: pd.DataFrame) -> None:
    parquet, zones, image = _inputs(tmp_path, detections)
    out = tmp_path / "map.html"
    args = [
        "map",
        str(parquet),
        "-o",
        str(out),
        "--zones",
        str(zones),
        "--h3",
        "10",
        "--imagery",
        str(image),
        "--imagery",
        str(tmp_path / "missing.tif"),
        "--max-markers",
        "10",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert out.is_file() and "skyscan-data" in out.read_text()
    assert "203 of 203 detections, 10 markers" in result.output
    assert "1 imagery overlay(s)" in result.output
    assert "note: Imagery not shown:" in result.output and "missing.tif" in result.output

    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert CliRunner().invoke(cli, [*args, "--overwrite"]).exit_code == 0


def test_map_command_bad_h3_and_missing_file(tmp_path: Path, detections: pd.DataFrame) -> None:
    parquet, _, _ = _inputs(tmp_path, detections)
    bad = CliRunner().invoke(
        cli, ["map", str(parquet), "-o", str(tmp_path / "m.html"), "--h3", "16"]
    )
    assert bad.exit_code == 2 and "16" in bad.output
    missing = CliRunner().invoke(
        cli, ["map", str(tmp_path / "nope.parquet"), "-o", str(tmp_path / "m.html")]
    )
    assert missing.exit_code == 2 and "nope.parquet" in missing.output


def test_entry_point(tmp_path: Path, detections: pd.DataFrame) -> None:
    parquet, _, _ = _inputs(tmp_path, detections)
    out = tmp_path / "m.html"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "skyscan",
            "-q",
            "map",
            str(parquet),
            "-o",
            str(out),
            "--no-basemap",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.is_file() and '"basemap":null' in out.read_text()


def test_the_page_embeds_no_absolute_local_paths(tmp_path: Path, detections: pd.DataFrame) -> None:
    """A page mailed to a colleague does not carry the sender's directory layout: images
    are named relative to the page unless --full-paths asks otherwise."""
    data = tmp_path / "data"
    data.mkdir()
    image = write_geotiff(data / "scene.tif", 32, 32)
    unplaced = data / "pixels.png"
    unplaced.write_bytes(b"not an image")
    frame = detections.assign(image_path=str(image.resolve()))
    parquet = tmp_path / "d.parquet"
    frame.to_parquet(parquet)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    args = [
        "map",
        str(parquet),
        "-o",
        str(out_dir / "map.html"),
        "--imagery",
        str(image.resolve()),
        "--imagery",
        str(unplaced.resolve()),
        "--imagery",
        str(data.resolve() / "missing.tif"),
    ]
    assert CliRunner().invoke(cli, args).exit_code == 0
    page = (out_dir / "map.html").read_text()
    assert str(tmp_path.resolve()) not in page and str(tmp_path) not in page
    assert "../data/scene.tif" in page
    full = CliRunner().invoke(cli, [*args, "--overwrite", "--full-paths"])
    assert full.exit_code == 0 and str(image.resolve()) in (out_dir / "map.html").read_text()


def test_an_html_string_names_images_only(tmp_path: Path, detections: pd.DataFrame) -> None:
    from skyscan.viz import make_map

    image = write_geotiff(tmp_path / "scene.tif", 32, 32)
    page = make_map(detections.assign(image_path=str(image.resolve())), imagery=[image.resolve()])
    assert isinstance(page, str) and str(tmp_path) not in page and "scene.tif" in page
