"""GeoParquet / GeoJSON writers and atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from skyscan.io.writers import atomic_path, write_geojson, write_geoparquet
from skyscan.schema import DETECTION_SCHEMA, empty_detections


def _rows(n: int, georef: bool = True) -> pa.Table:
    polys = shapely.box(
        [4.0 + i * 0.001 for i in range(n)], 52.0, [4.0005 + i * 0.001 for i in range(n)], 52.0005
    )
    cols = {f.name: [None] * n for f in DETECTION_SCHEMA}
    cols.update(
        run_id=["r"] * n,
        image_id=["img"] * n,
        image_path=["/x/img.tif"] * n,
        detection_id=[f"img:{i:06d}" for i in range(n)],
        class_name=["car"] * n,
        class_id=[0] * n,
        xview_type_id=[18] * n,
        score=[0.9] * n,
        px_xmin=[0.0] * n,
        px_ymin=[0.0] * n,
        px_xmax=[5.0] * n,
        px_ymax=[5.0] * n,
        chip_col_off=[0] * n,
        chip_row_off=[0] * n,
        chip_width=[64] * n,
        chip_height=[64] * n,
        truncated=[False] * n,
        georeferenced=[georef] * n,
        georef_source=["geotiff" if georef else "none"] * n,
        model_id=["m@1"] * n,
    )
    if georef:
        cols.update(
            geometry=shapely.to_wkb(polys).tolist(),
            centroid=shapely.to_wkb(shapely.centroid(polys)).tolist(),
            lon=shapely.get_x(shapely.centroid(polys)).tolist(),
            lat=[52.00025] * n,
        )
    return pa.table(cols, schema=DETECTION_SCHEMA)


def test_geoparquet_is_read_by_geopandas_with_crs_and_bbox(tmp_path: Path) -> None:
    path = write_geoparquet(_rows(3), tmp_path / "d.parquet")
    gdf = gpd.read_parquet(path)
    assert gdf.crs.to_epsg() == 4326 and gdf.geometry.name == "geometry" and len(gdf) == 3
    geo = json.loads(pq.read_schema(path).metadata[b"geo"])
    assert geo["columns"]["geometry"]["bbox"] == pytest.approx([4.0, 52.0, 4.0025, 52.0005])
    assert geo["columns"]["centroid"]["geometry_types"] == ["Point"]


def test_empty_and_pixel_only_tables_are_valid(tmp_path: Path) -> None:
    assert len(gpd.read_parquet(write_geoparquet(empty_detections(), tmp_path / "e.parquet"))) == 0
    gdf = gpd.read_parquet(write_geoparquet(_rows(2, georef=False), tmp_path / "p.parquet"))
    assert gdf.geometry.isna().all()
    fc = json.loads(write_geojson(_rows(2, georef=False), tmp_path / "p.geojson").read_text())
    assert [f["geometry"] for f in fc["features"]] == [None, None]


def test_geojson_features_carry_properties(tmp_path: Path) -> None:
    fc = json.loads(write_geojson(_rows(2), tmp_path / "d.geojson").read_text())
    assert fc["features"][0]["geometry"]["type"] == "Polygon"
    assert fc["features"][1]["properties"]["detection_id"] == "img:000001"
    assert "centroid" not in fc["features"][0]["properties"]


def test_geojson_writes_nan_and_infinity_as_null(tmp_path: Path) -> None:
    """Non-finite floats are not JSON: null, whether or not the column also has nulls,
    in any chunk; finite values and other columns are untouched."""
    rows = _rows(4)
    score = pa.chunked_array(
        [pa.array([0.5, float("nan")], pa.float32()), pa.array([float("inf"), 0.25], pa.float32())]
    )
    area = pa.chunked_array(
        [pa.array([None, 2.0], pa.float64()), pa.array([float("-inf"), 3.0], pa.float64())]
    )
    rows = rows.set_column(rows.schema.get_field_index("score"), "score", score)
    rows = rows.set_column(rows.schema.get_field_index("area_m2"), "area_m2", area)
    text = write_geojson(rows, tmp_path / "n.geojson").read_text()
    props = [f["properties"] for f in json.loads(text)["features"]]  # strict JSON: no NaN tokens
    assert "NaN" not in text and "Infinity" not in text
    assert [p["score"] for p in props] == [0.5, None, None, 0.25]
    assert [p["area_m2"] for p in props] == [None, 2.0, None, 3.0]
    assert [p["px_xmax"] for p in props] == [5.0] * 4


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert not target.exists() and list(tmp_path.iterdir()) == []
