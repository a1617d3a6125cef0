"""``skyscan within | join | aggregate | cluster`` through the real click group."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from analytics.factory import clustered_points, detections_table, write_detections
from skyscan.cli import cli

AOI_WKT = "POLYGON ((8.53 47.36, 8.55 47.36, 8.55 47.38, 8.53 47.38, 8.53 47.36))"


@pytest.fixture()
def det_path(tmp_path: Path) -> Path:
    lon, lat = clustered_points([(8.54, 47.37), (8.60, 47.40)], per_cluster=10, spread_m=15)
    lon, lat = np.append(lon, np.nan), np.append(lat, np.nan)
    dates = ["2020-06-01"] * 10 + ["2021-06-01"] * 11
    return write_detections(
        tmp_path / "det.parquet", detections_table(lon, lat, meta={"meta_capture_date": dates})
    )


@pytest.fixture()
def zones_path(tmp_path: Path) -> Path:
    zones = gpd.GeoDataFrame(
        {"name": ["lot", "depot"]},
        geometry=[shapely.box(8.53, 47.36, 8.55, 47.38), shapely.box(8.59, 47.39, 8.61, 47.41)],
        crs="EPSG:4326",
    ).to_crs("EPSG:2056")
    path = tmp_path / "zones.gpkg"
    zones.to_file(path)
    return path


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_commands_are_registered() -> None:
    out = CliRunner().invoke(cli, ["--help"]).output
    for name in ("within", "join", "aggregate", "cluster"):
        assert name in out


def test_within_writes_geoparquet_and_refuses_to_overwrite(det_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "inside.parquet"
    result = run("within", str(det_path), AOI_WKT, str(out), "--area-crs", "EPSG:4326")
    assert result.exit_code == 0, result.output
    inside = gpd.read_parquet(out)
    assert len(inside) == 10 and inside.crs.to_epsg() == 4326
    assert "10 inside, 10 outside, 1 without coordinates" in result.stderr
    again = run("within", str(det_path), AOI_WKT, str(out), "--area-crs", "EPSG:4326")
    assert again.exit_code == 1 and "exists; pass --overwrite" in again.stderr
    assert (
        run(
            "within", str(det_path), AOI_WKT, str(out), "--area-crs", "EPSG:4326", "--overwrite"
        ).exit_code
        == 0
    )


def test_within_wkt_without_crs_says_how(det_path: Path, tmp_path: Path) -> None:
    result = run("within", str(det_path), AOI_WKT, str(tmp_path / "x.parquet"))
    assert result.exit_code == 1
    assert (
        "CRSError" in result.stderr
        and "has no CRS" in result.stderr
        and "--area-crs" in result.stderr
    )
    assert not (tmp_path / "x.parquet").exists()


def test_join_left_to_geojson_reports_reprojection(
    det_path: Path, zones_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "joined.geojson"
    result = run("join", str(det_path), str(zones_path), str(out), "--how", "left")
    assert result.exit_code == 0, result.output
    assert "reprojected zones from EPSG:2056 to EPSG:4326" in result.stderr
    features = json.loads(out.read_text())["features"]
    names = [f["properties"]["zone_name"] for f in features]
    assert names.count("lot") == 10 and names.count("depot") == 10 and names.count(None) == 1


def test_join_dwithin_needs_distance_and_bad_predicates_are_refused(
    det_path: Path, zones_path: Path, tmp_path: Path
) -> None:
    result = run(
        "join", str(det_path), str(zones_path), str(tmp_path / "j.csv"), "--predicate", "dwithin"
    )
    assert result.exit_code == 1 and "needs 'distance_m'" in result.stderr
    result = CliRunner().invoke(
        cli,
        ["join", str(det_path), str(zones_path), str(tmp_path / "j.csv"), "--predicate", "touches"],
    )
    assert result.exit_code == 2 and "touches" in result.stderr
    result = run(
        "join",
        str(det_path),
        str(zones_path),
        str(tmp_path / "j.csv"),
        "--predicate",
        "dwithin",
        "--distance-m",
        "50",
    )
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "j.csv")) == 20


def test_aggregate_h3_by_class_to_csv(det_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "h3.csv"
    result = run("aggregate", str(det_path), str(out), "--h3-res", "8", "--by", "class_name")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert table["count"].sum() == 20 and set(table["class_name"]) == {"car", "truck", "bus"}
    assert table["geometry"].str.startswith("POLYGON").all() and (table["h3_res"] == 8).all()
    bad = run("aggregate", str(det_path), str(tmp_path / "bad.csv"), "--h3-res", "16")
    assert (
        bad.exit_code == 1 and "H3 resolution must be an integer in [0, 15] (got 16)" in bad.stderr
    )


def test_aggregate_zones_two_dates_pivoted(
    det_path: Path, zones_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "zones.geojson"
    result = run(
        "aggregate",
        str(det_path),
        str(out),
        "--zones",
        str(zones_path),
        "--by",
        "meta_capture_date",
        "--pivot",
        "meta_capture_date",
    )
    assert result.exit_code == 0, result.output
    rows = {
        f["properties"]["zone_name"]: f["properties"]
        for f in json.loads(out.read_text())["features"]
    }
    assert rows["lot"]["count_2020-06-01"] == 10 and rows["lot"]["change"] == -10
    assert rows["depot"]["count_2021-06-01"] == 10


def test_cluster_writes_labels_and_cluster_table(det_path: Path, tmp_path: Path) -> None:
    out, clusters = tmp_path / "labelled.parquet", tmp_path / "clusters.geojson"
    result = run(
        "cluster",
        str(det_path),
        str(out),
        "--eps-m",
        "20",
        "--min-samples",
        "3",
        "--clusters",
        str(clusters),
    )
    assert result.exit_code == 0, result.output
    labelled = gpd.read_parquet(out)
    assert labelled["cluster_id"].nunique() == 2 and labelled["cluster_id"].isna().sum() == 1
    feats = json.loads(clusters.read_text())["features"]
    assert sorted(f["properties"]["size"] for f in feats) == [10, 10]
    assert all(f["geometry"]["type"] == "Polygon" for f in feats)


def test_unknown_output_extension(det_path: Path, tmp_path: Path) -> None:
    result = run("cluster", str(det_path), str(tmp_path / "out.xlsx"), "--eps-m", "20")
    assert result.exit_code == 1 and "extension must be one of" in result.stderr


@pytest.mark.parametrize("command", ["within", "join", "aggregate", "cluster"])
def test_every_command_takes_dash_o(
    command: str, det_path: Path, zones_path: Path, tmp_path: Path
) -> None:
    """One output convention for all commands: -o/--output (the positional OUTPUT still works)."""
    extra = {
        "within": [AOI_WKT, "--area-crs", "EPSG:4326"],
        "join": [str(zones_path)],
        "aggregate": ["--h3-res", "8"],
        "cluster": ["--eps-m", "20"],
    }[command]
    out = tmp_path / f"{command}.parquet"
    result = run(command, str(det_path), *extra, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.is_file()
    long = run(command, str(det_path), *extra, "--output", str(tmp_path / f"{command}2.parquet"))
    assert long.exit_code == 0, long.output
    missing = CliRunner().invoke(cli, [command, str(det_path), *extra])
    assert missing.exit_code == 2 and "-o/--output" in missing.output
    both = CliRunner().invoke(
        cli,
        [command, str(det_path), *extra, str(tmp_path / "a.csv"), "-o", str(tmp_path / "b.csv")],
    )
    assert both.exit_code == 2 and "not both" in both.output
