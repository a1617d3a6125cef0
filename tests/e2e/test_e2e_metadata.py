"""Metadata joins end to end: vendor XML sidecars read through `--xml-mapping` (position,
CRS, GSD and extra attributes), an FGDC sidecar in the same run, and a CSV or Parquet table
(`--metadata`); every attribute arrives as a `meta_*` string column on every detection row
of its image."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from affine import Affine
from e2e_support import Scene, blank, expected_centres, read_outputs, rows_of, skyscan, write_raster

from rasters import write_fgdc_xml, write_geotiff
from skyscan.schema import DETECTION_COLUMNS

VENDOR_XML = """<?xml version="1.0" encoding="UTF-8"?>
<acme:scene xmlns:acme="urn:acme:imagery:2">
  <acme:position><acme:easting>594200.0</acme:easting><acme:northing>5757900.0</acme:northing>
    <acme:epsg>32631</acme:epsg><acme:resolution>0.5</acme:resolution></acme:position>
  <acme:sensor name="WV3" band="pan"/>
  <acme:acquired>2020-05-01T10:00:00Z</acme:acquired>
  <acme:cloud>3</acme:cloud>
</acme:scene>
"""
MAPPING = {
    "namespaces": {"a": "urn:acme:imagery:2"},
    "easting": "a:position/a:easting",
    "northing": "a:position/a:northing",
    "crs": "a:position/a:epsg",
    "gsd": "a:position/a:resolution",
    "extra": {"sensor": "a:sensor/@name", "acquired": "a:acquired", "cloud": "a:cloud"},
}
BLOBS = [(20, 20, 0), (50, 40, 1)]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("meta")
    img = root / "images"
    img.mkdir()
    data = blank(80, 60, BLOBS)
    write_raster(img / "vendor.png", data, "PNG")
    (img / "vendor.xml").write_text(VENDOR_XML)
    write_raster(img / "fgdc.png", data, "PNG")
    write_fgdc_xml(img / "fgdc.xml", 4.5, 51.9, 4.5 + 80 * 0.5 / 68_800, 51.9 + 60 * 0.5 / 111_200)
    t = Affine(0.5, 0.0, 594_000.0, 0.0, -0.5, 5_758_000.0)
    write_geotiff(img / "a.tif", 80, 60, data=data, transform=t)
    write_geotiff(img / "b.tif", 80, 60, data=data, transform=t)
    (root / "mapping.json").write_text(json.dumps(MAPPING))
    # text as the user wrote it: a zero-padded code, a number with a missing cell
    (root / "table.csv").write_text(
        "image_id,operator,flight,site\na,alice,17,007\nvendor,bob,,010\nfgdc,carol,19,\n"
    )
    pq.write_table(
        pa.table(
            {
                "filename": ["a.tif", "b.tif"],
                "image_id": [None, "scene-b"],  # a table keyed by file name may rename the image
                "flight": pa.array([17, None], pa.int64()),
                "speed": [1.5, 2.0],
            }
        ),
        root / "table.parquet",
    )
    vendor = Scene(
        img / "vendor.png",
        BLOBS,
        Affine(0.5, 0.0, 594_200.0, 0.0, -0.5, 5_757_900.0),
        "EPSG:32631",
        "sidecar",
    )
    return {"root": root, "img": img, "vendor": vendor}


@pytest.fixture(scope="module")
def csv_run(scenes: dict[str, Any], blob_model: Path) -> dict[str, Any]:
    out = scenes["root"] / "out_csv"
    res = skyscan(
        "detect",
        scenes["img"],
        "-o",
        out,
        "--model",
        blob_model,
        "--xml-mapping",
        scenes["root"] / "mapping.json",
        "--metadata",
        scenes["root"] / "table.csv",
    )
    assert res.returncode == 0, res.stderr
    det, err, _ = read_outputs(out)
    return {"det": det, "err": err}


def test_vendor_xml_georeferences_its_image(
    csv_run: dict[str, Any], scenes: dict[str, Any]
) -> None:
    rows = rows_of(csv_run["det"], "vendor")
    assert rows.num_rows == len(BLOBS)
    assert set(rows.column("georef_source").to_pylist()) == {"sidecar"}
    assert set(rows.column("src_crs").to_pylist()) == {"EPSG:32631"}
    exp = expected_centres(scenes["vendor"], rows)
    np.testing.assert_allclose(rows.column("lon").to_numpy(), exp["lon"], atol=1e-9)
    np.testing.assert_allclose(rows.column("lat").to_numpy(), exp["lat"], atol=1e-9)


def test_fgdc_sidecar_still_works_when_a_vendor_mapping_is_given(csv_run: dict[str, Any]) -> None:
    rows = rows_of(csv_run["det"], "fgdc").to_pylist()
    assert len(rows) == len(BLOBS) and csv_run["err"].num_rows == 0
    assert {(r["georef_source"], r["src_crs"]) for r in rows} == {("sidecar", "EPSG:4326")}
    assert all(4.5 < r["lon"] < 4.501 and 51.9 < r["lat"] < 51.901 for r in rows)


def test_sidecar_and_table_attributes_reach_every_row_as_strings(csv_run: dict[str, Any]) -> None:
    det: pa.Table = csv_run["det"]
    meta = [
        "meta_acquired",
        "meta_cloud",
        "meta_flight",
        "meta_operator",
        "meta_sensor",
        "meta_site",
    ]
    assert det.column_names == DETECTION_COLUMNS + meta  # contract first, then meta_* sorted
    assert all(det.schema.field(c).type == pa.string() for c in meta)
    expected = {
        "a": {"meta_operator": "alice", "meta_flight": "17", "meta_site": "007"},
        "vendor": {
            "meta_operator": "bob",
            "meta_flight": None,
            "meta_site": "010",
            "meta_sensor": "WV3",
            "meta_acquired": "2020-05-01T10:00:00Z",
            "meta_cloud": "3",
        },
        "fgdc": {"meta_operator": "carol", "meta_flight": "19", "meta_site": None},
        "b": {},
    }
    for image_id, values in expected.items():
        rows = rows_of(det, image_id).to_pylist()
        assert len(rows) == len(BLOBS), image_id
        for r in rows:
            assert {c: r[c] for c in meta} == {c: values.get(c) for c in meta}, image_id


def test_parquet_table_keyed_by_filename_keeps_types_and_renames(
    scenes: dict[str, Any], blob_model: Path
) -> None:
    out = scenes["root"] / "out_parquet"
    res = skyscan(
        "detect",
        scenes["img"] / "a.tif",
        scenes["img"] / "b.tif",
        "-o",
        out,
        "--model",
        blob_model,
        "--metadata",
        scenes["root"] / "table.parquet",
    )
    assert res.returncode == 0, res.stderr
    det, _, _ = read_outputs(out)
    assert set(det.column("image_id").to_pylist()) == {"a", "scene-b"}
    a, b = rows_of(det, "a").to_pylist(), rows_of(det, "scene-b").to_pylist()
    assert len(a) == len(b) == len(BLOBS)
    assert {(r["meta_flight"], r["meta_speed"]) for r in a} == {("17", "1.5")}  # not "17.0"
    assert {(r["meta_flight"], r["meta_speed"]) for r in b} == {(None, "2.0")}
    assert all(r["detection_id"].startswith("scene-b:") for r in b)
    assert "meta_filename" not in det.column_names
