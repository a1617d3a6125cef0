"""Metric CRS grouping and areas; writing results by extension."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from analytics.factory import (
    detections_frame,
    detections_table,
    offsets_to_lonlat,
    write_detections,
)
from skyscan.analytics.frames import read_detections
from skyscan.analytics.metric import areas_m2, metric_groups
from skyscan.analytics.output import write_table
from skyscan.errors import CRSError, InputError, OutputExistsError


def test_metric_groups_follow_utm_zones() -> None:
    groups = metric_groups([5.9, 6.1, 6.2, np.nan, -70.6], [47.0, 47.0, 47.0, 1.0, -33.4])
    assert [(crs, idx.tolist()) for crs, idx in groups] == [
        ("EPSG:32631", [0]),
        ("EPSG:32632", [1, 2]),
        ("EPSG:32719", [4]),
    ]


def test_areas_are_square_metres() -> None:
    for lat0 in (0.0, 47.0, 65.0):
        ring = np.column_stack(
            offsets_to_lonlat(
                10.0, lat0, np.array([0, 100, 100, 0.0]), np.array([0, 0, 100, 100.0])
            )
        )
        area = areas_m2(np.array([shapely.Polygon(ring), None]))
        assert area[0] == pytest.approx(10_000, rel=0.01) and np.isnan(area[1])


def test_read_detections_from_the_pipeline_format(tmp_path: Path) -> None:
    path = write_detections(
        tmp_path / "det.parquet", detections_table([8.5, np.nan], [47.3, np.nan])
    )
    det = read_detections(path)
    assert det.crs.to_epsg() == 4326 and det.geometry.name == "geometry"
    assert det["centroid"].dtype.name == "geometry" and det["centroid"].iloc[0].equals(
        shapely.Point(8.5, 47.3)
    )
    assert det.geometry.iloc[1] is None


def test_read_detections_without_crs(tmp_path: Path) -> None:
    table = detections_table([8.5], [47.3])
    path = tmp_path / "plain.parquet"
    table.to_pandas().to_parquet(path)  # no 'geo' metadata: no CRS
    with pytest.raises(CRSError, match=r"has no CRS.*--detections-crs"):
        read_detections(path)
    assert read_detections(path, crs="EPSG:4326").crs.to_epsg() == 4326
    with pytest.raises(InputError, match="does not exist"):
        read_detections(tmp_path / "nope.parquet")


@pytest.mark.parametrize("suffix", [".parquet", ".geojson", ".csv"])
def test_write_by_extension_round_trips(tmp_path: Path, suffix: str) -> None:
    det = detections_frame(
        [8.5, 8.6], [47.3, 47.4], meta={"meta_capture_date": ["2020-01-01", "2021-01-01"]}
    )
    det["cluster_id"] = pd.array([0, pd.NA], dtype="Int64")
    path = write_table(det, tmp_path / f"out{suffix}")
    if suffix == ".parquet":
        back = gpd.read_parquet(path)
        assert back["centroid"].iloc[1].equals(shapely.Point(8.6, 47.4))
    elif suffix == ".geojson":
        data = json.loads(path.read_text())
        assert data["features"][0]["geometry"]["type"] == "Polygon"
        assert data["features"][1]["properties"]["centroid"] == "POINT (8.6 47.4)"
        back = gpd.read_file(path)
    else:
        back = pd.read_csv(path)
        assert back["geometry"].iloc[0].startswith("POLYGON")
    assert back["detection_id"].tolist() == ["img-0:0", "img-0:1"]
    assert back["meta_capture_date"].astype(str).tolist() == ["2020-01-01", "2021-01-01"]


def test_refuses_to_overwrite_and_unknown_extensions(tmp_path: Path) -> None:
    det = detections_frame([8.5], [47.3])
    path = write_table(det, tmp_path / "out.parquet")
    with pytest.raises(OutputExistsError, match="exists; pass --overwrite"):
        write_table(det, path)
    write_table(det.iloc[:0], path, overwrite=True)
    assert len(gpd.read_parquet(path)) == 0
    with pytest.raises(InputError, match="extension must be one of"):
        write_table(det, tmp_path / "out.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet"]  # no temp files left


def test_footprint_measures_from_polygons() -> None:
    from skyscan.analytics.footprints import with_footprint_measures

    det = detections_frame([8.5, np.nan], [47.3, np.nan], box_m=(5.0, 2.0))
    det["area_m2"] = np.nan
    det = det.drop(columns=["centroid"])
    out = with_footprint_measures(det)
    assert out["area_m2"].iloc[0] == pytest.approx(10.0, rel=0.01) and np.isnan(
        out["area_m2"].iloc[1]
    )
    assert out["centroid"].iloc[0].distance(shapely.Point(8.5, 47.3)) < 1e-9
    assert out["centroid"].iloc[1] is None and "centroid" not in det.columns


def test_class_scores_are_written_as_json_lists(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {"class_scores": [np.array([0.5, 0.25, 0.125], np.float32), None]},
        geometry=[shapely.Point(4.0, 52.0), shapely.Point(4.1, 52.0)],
        crs="EPSG:4326",
    )
    write_table(frame, tmp_path / "t.csv")
    assert pd.read_csv(tmp_path / "t.csv")["class_scores"].map(
        lambda v: json.loads(v) if isinstance(v, str) else None
    ).tolist() == [[0.5, 0.25, 0.125], None]
    write_table(frame, tmp_path / "t.geojson")
    features = json.loads((tmp_path / "t.geojson").read_text())["features"]
    got = features[0]["properties"]["class_scores"]
    assert (json.loads(got) if isinstance(got, str) else got) == [0.5, 0.25, 0.125]
