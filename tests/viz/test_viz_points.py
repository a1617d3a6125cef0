"""Loading detections for the map: every input kind, CRS handling, bad rows."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from skyscan.errors import CRSError, InputError
from skyscan.schema import DETECTION_SCHEMA, empty_detections
from skyscan.viz.points import load_points


def test_dataframe_with_contract_columns(detections: pd.DataFrame) -> None:
    pts = load_points(detections)
    assert len(pts) == len(detections) and pts.notes == []
    assert pts.class_counts() == {"bus": 1, "car": 201, "truck": 1}
    assert pts.image_names == ["scene_a", "scene_b"]
    assert pts.image_paths == ["/data/scene_a.tif", "/data/scene_b.tif"]
    np.testing.assert_allclose(pts.lon, detections["lon"])


def test_arrow_table_and_geoparquet_file(tmp_path: Path, detections: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(detections, preserve_index=False)
    assert len(load_points(table)) == len(detections)
    path = tmp_path / "d.parquet"
    detections.to_parquet(path)
    assert len(load_points(path)) == len(detections)
    assert len(load_points(str(path))) == len(detections)


def test_empty_contract_table() -> None:
    pts = load_points(empty_detections())
    assert len(pts) == 0 and pts.n_input == 0 and pts.notes == []
    assert set(DETECTION_SCHEMA.names) >= {"lon", "lat", "class_name", "score", "image_id"}


def test_geodataframe_in_another_crs_is_reprojected(detections: pd.DataFrame) -> None:
    import geopandas as gpd

    gdf = gpd.GeoDataFrame(
        detections.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(detections["lon"], detections["lat"]),
        crs="EPSG:4326",
    ).to_crs("EPSG:32631")
    pts = load_points(gdf)
    np.testing.assert_allclose(pts.lon, detections["lon"], atol=1e-9)
    np.testing.assert_allclose(pts.lat, detections["lat"], atol=1e-9)


def test_geojson_file_with_polygon_footprints(tmp_path: Path) -> None:
    import geopandas as gpd
    from shapely.geometry import box

    gdf = gpd.GeoDataFrame(
        {"class_name": ["bus"], "score": [0.5]},
        geometry=[box(4.0, 52.0, 4.0002, 52.0002)],
        crs="EPSG:4326",
    )
    path = tmp_path / "d.geojson"
    gdf.to_file(path, driver="GeoJSON")
    pts = load_points(path)
    assert pts.lon[0] == pytest.approx(4.0001) and pts.lat[0] == pytest.approx(52.0001)


def test_naive_lonlat_geometry_is_shown_with_a_note(caplog: pytest.LogCaptureFixture) -> None:
    import geopandas as gpd

    gdf = gpd.GeoDataFrame({"class_name": ["car"]}, geometry=gpd.points_from_xy([4.47], [51.92]))
    with caplog.at_level(logging.WARNING):
        pts = load_points(gdf)
    assert len(pts) == 1 and "no CRS" in pts.notes[0]
    assert "no CRS" in caplog.text


def test_naive_projected_geometry_is_refused() -> None:
    import geopandas as gpd

    gdf = gpd.GeoDataFrame(
        {"class_name": ["car"]}, geometry=gpd.points_from_xy([594000.0], [5758000.0])
    )
    with pytest.raises(CRSError, match="set_crs"):
        load_points(gdf)


def test_bad_rows_are_skipped_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    frame = pd.DataFrame(
        {
            "lon": [4.0, np.nan, 200.0, 4.0, np.inf, 4.0, None],
            "lat": [52.0, 52.0, 52.0, 89.0, 52.0, 52.0, None],
            "class_name": ["car", "car", "car", "car", "car", None, "car"],
            "score": [0.5, 0.5, 0.5, 0.5, 0.5, None, 0.5],
            "georeferenced": [True, True, True, True, True, True, False],
        }
    )
    with caplog.at_level(logging.WARNING):
        pts = load_points(frame)
    assert len(pts) == 2 and pts.n_input == 7
    text = " | ".join(pts.notes)
    assert "1 detection(s) skipped: their image has no georeferencing" in text
    assert "2 detection(s) skipped: missing, NaN or infinite" in text
    assert "1 detection(s) skipped: lon/lat out of range" in text
    assert "1 detection(s) skipped: latitude beyond" in text
    assert pts.class_names == ["car", "unknown"] and np.isnan(pts.score[1])
    assert caplog.text.count("skipped") == 4


def test_unknown_inputs_name_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_points(tmp_path / "missing.parquet")
    (tmp_path / "d.xlsx").write_text("x")
    with pytest.raises(InputError, match=r"unknown format '\.xlsx'"):
        load_points(tmp_path / "d.xlsx")
    with pytest.raises(InputError, match="got int"):
        load_points(42)
    with pytest.raises(InputError, match="no 'lon'/'lat'"):
        load_points(pa.table({"x": [1.0]}))
