"""One `skyscan detect` run over images georeferenced in every supported way and in
several CRSs, checked against coordinates computed independently (own affine + pyproj).

Scenes (the model declares 0.5 m, so chips are resampled where the GSD differs):
GeoTIFF EPSG:32631 (with an object on a chip seam), GeoTIFF EPSG:2056 at 0.25 m, a rotated
GeoTIFF, PNG + .pgw + ESRI .prj, JPEG + .jgw with the CRS given by --crs, PNG + GDAL
.aux.xml in EPSG:3035 at 1 m, PNG + FGDC XML sidecar (lon/lat bounds), and a plain PNG
with --gsd (pixel space).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pytest
import shapely
from affine import Affine
from e2e_support import (
    GEOD,
    Scene,
    apply,
    blank,
    blob_lonlat,
    expected_centres,
    metres_between,
    read_outputs,
    rows_of,
    skyscan,
    to_lonlat,
    write_raster,
    write_world_file,
)
from pyproj import CRS

from rasters import write_aux_xml, write_fgdc_xml, write_geotiff
from skyscan.schema import DETECTION_SCHEMA

UTM = Affine(0.5, 0.0, 594_000.0, 0.0, -0.5, 5_758_000.0)


def _scenes(root: Path) -> dict[str, Scene]:
    root.mkdir()
    s: dict[str, Scene] = {}

    def add(scene: Scene) -> None:
        s[scene.image_id] = scene

    blobs = [(30, 40, 0), (57, 70, 1)]  # col 57: inside the overlap of chips 0 and 1
    write_geotiff(root / "utm.tif", 120, 100, data=blank(120, 100, blobs), transform=UTM)
    add(Scene(root / "utm.tif", blobs, UTM, "EPSG:32631", "geotiff"))

    t = Affine(0.25, 0.0, 2_683_000.0, 0.0, -0.25, 1_248_000.0)
    blobs = [(60, 80, 2), (170, 150, 0)]
    write_geotiff(
        root / "lv95.tif",
        240,
        200,
        data=blank(240, 200, blobs, sigma=6.0),
        crs="EPSG:2056",
        transform=t,
    )
    add(Scene(root / "lv95.tif", blobs, t, "EPSG:2056", "geotiff"))

    t = Affine(0.5, 0.0, 594_500.0, 0.0, -0.5, 5_758_000.0) @ Affine.rotation(30.0)
    blobs = [(40, 30, 1)]
    write_geotiff(root / "rot.tif", 90, 80, data=blank(90, 80, blobs), transform=t)
    add(Scene(root / "rot.tif", blobs, t, "EPSG:32631", "geotiff"))

    t = Affine(0.5, 0.0, 595_000.0, 0.0, -0.5, 5_758_000.0)
    blobs = [(25, 25, 0), (80, 60, 2)]
    write_raster(root / "pgw.png", blank(110, 90, blobs), "PNG")
    write_world_file(root / "pgw.pgw", t)
    (root / "pgw.prj").write_text(CRS.from_epsg(32631).to_wkt("WKT1_ESRI"))
    add(Scene(root / "pgw.png", blobs, t, "EPSG:32631", "worldfile"))

    t = Affine(0.5, 0.0, 2_684_000.0, 0.0, -0.5, 1_248_000.0)
    blobs = [(35, 45, 0), (90, 20, 1)]
    write_raster(root / "jgw.jpg", blank(120, 80, blobs), "JPEG", quality=95)
    write_world_file(root / "jgw.jgw", t)  # no .prj: the CRS comes from --crs
    add(Scene(root / "jgw.jpg", blobs, t, "EPSG:2056", "user"))

    t = Affine(1.0, 0.0, 3_930_000.0, 0.0, -1.0, 3_240_000.0)
    blobs = [(20, 25, 2)]
    write_raster(root / "aux.png", blank(60, 50, blobs, sigma=1.5), "PNG")
    write_aux_xml(root / "aux.png", t, CRS.from_epsg(3035).to_wkt())
    add(Scene(root / "aux.png", blobs, t, "EPSG:3035", "aux.xml"))

    west, north, w, h = 4.5, 51.9, 120, 100
    east = west + w * 0.5 / 68_800.0  # about 0.5 m per pixel at 52 N
    south = north - h * 0.5 / 111_200.0
    blobs = [(60, 50, 0)]
    write_raster(root / "fgdc.png", blank(w, h, blobs), "PNG")
    write_fgdc_xml(root / "fgdc.xml", west, south, east, north)
    t = Affine((east - west) / w, 0.0, west, 0.0, -(north - south) / h, north)
    add(Scene(root / "fgdc.png", blobs, t, "EPSG:4326", "sidecar"))

    blobs = [(60, 60, 1), (140, 100, 0)]  # at --gsd 0.25: chips of 128 px resampled to 64
    write_raster(root / "plain.png", blank(200, 160, blobs, sigma=6.0), "PNG")
    add(Scene(root / "plain.png", blobs, None, None, "none"))
    return s


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, blob_model: Path) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("georef")
    scenes = _scenes(base / "images")
    out = base / "out"
    res = skyscan(
        "detect",
        base / "images",
        "-o",
        out,
        "--model",
        blob_model,
        "--crs",
        "EPSG:2056",
        "--gsd",
        "0.25",
    )
    det, err, manifest = read_outputs(out) if (out / "run.json").exists() else (None, None, None)
    return {
        "scenes": scenes,
        "out": out,
        "res": res,
        "det": det,
        "err": err,
        "manifest": manifest,
        "root": base / "images",
        "model": blob_model,
    }


def test_every_image_succeeds_with_each_object_found_once(run: dict[str, Any]) -> None:
    assert run["res"].returncode == 0, run["res"].stderr
    assert run["err"].num_rows == 0
    det: pa.Table = run["det"]
    assert set(det.column("image_id").to_pylist()) == set(run["scenes"])
    for image_id, scene in run["scenes"].items():
        rows = rows_of(det, image_id)
        # one row per painted object: the seam object seen by two chips is merged
        assert sorted(rows.column("class_id").to_pylist()) == sorted(
            k for _, _, k in scene.blobs
        ), image_id
        assert len(set(rows.column("detection_id").to_pylist())) == rows.num_rows


def test_georef_source_crs_and_gsd_per_image(run: dict[str, Any]) -> None:
    det: pa.Table = run["det"]
    gsd = {"lv95": 0.25, "aux": 1.0, "plain": 0.25}
    for image_id, scene in run["scenes"].items():
        rows = rows_of(det, image_id).to_pylist()
        assert {r["georef_source"] for r in rows} == {scene.source}, image_id
        assert {r["src_crs"] for r in rows} == {scene.crs}, image_id
        assert {r["georeferenced"] for r in rows} == {scene.crs is not None}, image_id
        g = gsd.get(image_id, 0.5)
        assert all(r["gsd_m"] == pytest.approx(g, rel=0.01) for r in rows), image_id
        # chips were resampled to the model's 0.5 m: its 12 px boxes span 12 * 0.5 / gsd pixels
        for r in rows:
            assert r["px_xmax"] - r["px_xmin"] == pytest.approx(12 * 0.5 / g, rel=0.02), image_id
            assert r["chip_width"] == round(64 * 0.5 / g), image_id


def test_lonlat_and_source_xy_match_an_independent_pyproj_computation(run: dict[str, Any]) -> None:
    det: pa.Table = run["det"]
    for image_id, scene in run["scenes"].items():
        if scene.transform is None:
            continue
        rows = rows_of(det, image_id)
        exp = expected_centres(scene, rows)
        np.testing.assert_allclose(
            rows.column("lon").to_numpy(), exp["lon"], rtol=0, atol=1e-9, err_msg=image_id
        )
        np.testing.assert_allclose(
            rows.column("lat").to_numpy(), exp["lat"], rtol=0, atol=1e-9, err_msg=image_id
        )
        np.testing.assert_allclose(
            rows.column("src_x").to_numpy(), exp["x"], rtol=0, atol=1e-6, err_msg=image_id
        )
        np.testing.assert_allclose(
            rows.column("src_y").to_numpy(), exp["y"], rtol=0, atol=1e-6, err_msg=image_id
        )
        # and each detection is where the object was painted (within a model cell, 1 m)
        truth = blob_lonlat(scene)
        for r in rows.to_pylist():
            d = min(
                metres_between(r["lon"], r["lat"], lon, lat)
                for lon, lat, k in truth
                if k == r["class_id"]
            )
            assert d < 1.0, (image_id, r["detection_id"], d)


def test_images_without_georef_stay_in_pixel_space_and_are_marked(run: dict[str, Any]) -> None:
    rows = rows_of(run["det"], "plain").to_pylist()
    assert len(rows) == 2
    for r in rows:
        assert r["georeferenced"] is False and r["georef_source"] == "none"
        assert r["lon"] is None and r["lat"] is None and r["src_x"] is None and r["src_crs"] is None
        assert r["geometry"] is None and r["centroid"] is None
        assert r["gsd_m"] == 0.25  # from --gsd
        w, h = r["px_xmax"] - r["px_xmin"], r["px_ymax"] - r["px_ymin"]
        assert r["area_m2"] == pytest.approx(w * h * 0.25**2)
    painted = sorted((c + 0.5, r + 0.5) for c, r, _ in run["scenes"]["plain"].blobs)
    found = sorted(
        ((r["px_xmin"] + r["px_xmax"]) / 2, (r["px_ymin"] + r["px_ymax"]) / 2) for r in rows
    )
    np.testing.assert_allclose(found, painted, atol=3.0)  # a 2-cell of the model = 4 px here


def test_footprints_and_centroids_are_the_pixel_boxes_on_the_ground(run: dict[str, Any]) -> None:
    det: pa.Table = run["det"]
    for image_id, scene in run["scenes"].items():
        if scene.transform is None:
            continue
        rows = rows_of(det, image_id)
        polys = shapely.from_wkb(rows.column("geometry").to_numpy(zero_copy_only=False))
        cents = shapely.from_wkb(rows.column("centroid").to_numpy(zero_copy_only=False))
        assert set(shapely.get_type_id(polys)) == {3} and set(shapely.get_type_id(cents)) == {0}
        np.testing.assert_allclose(shapely.get_x(cents), rows.column("lon").to_numpy(), atol=1e-12)
        np.testing.assert_allclose(shapely.get_y(cents), rows.column("lat").to_numpy(), atol=1e-12)
        assert shapely.contains(polys, cents).all(), image_id
        t = scene.transform
        for poly, r in zip(polys, rows.to_pylist(), strict=True):
            corners = [
                (r["px_xmin"], r["px_ymin"]),
                (r["px_xmax"], r["px_ymin"]),
                (r["px_xmax"], r["px_ymax"]),
                (r["px_xmin"], r["px_ymax"]),
            ]
            xs, ys = zip(*[apply(t, *c) for c in corners], strict=True)
            lon, lat = to_lonlat(scene.crs, np.array(xs), np.array(ys))  # type: ignore[arg-type]
            ring = np.asarray(poly.exterior.coords)
            for p in zip(lon, lat, strict=True):  # every box corner is a vertex of the footprint
                assert np.min(np.hypot(ring[:, 0] - p[0], ring[:, 1] - p[1])) < 1e-9, image_id
            area = abs(GEOD.geometry_area_perimeter(poly)[0])
            assert r["area_m2"] == pytest.approx(area, rel=2e-3), image_id


def test_output_is_valid_geoparquet_with_the_contract_columns(run: dict[str, Any]) -> None:
    out: Path = run["out"]
    gdf = gpd.read_parquet(out / "detections.parquet")
    assert gdf.crs is not None and gdf.crs.to_epsg() == 4326
    assert gdf.geometry.name == "geometry" and len(gdf) == run["det"].num_rows
    meta = json.loads(run["det"].schema.metadata[b"geo"])
    assert meta["version"].startswith("1.") and meta["primary_column"] == "geometry"
    assert set(meta["columns"]) == {"geometry", "centroid"}
    for name, types in (("geometry", ["Polygon"]), ("centroid", ["Point"])):
        col = meta["columns"][name]
        assert col["encoding"] == "WKB" and col["geometry_types"] == types
        assert CRS.from_json_dict(col["crs"]).to_epsg() == 4326
        geoms = shapely.from_wkb(run["det"].column(name).drop_null().to_numpy(zero_copy_only=False))
        assert col["bbox"] == pytest.approx(list(shapely.total_bounds(geoms)))
    schema = run["det"].schema
    assert schema.names == DETECTION_SCHEMA.names  # no metadata joined in this run
    for f in DETECTION_SCHEMA:
        assert schema.field(f.name).type == f.type, f.name
        if not f.nullable:
            assert run["det"].column(f.name).null_count == 0, f.name
    xview = dict(
        zip(
            run["det"].column("class_name").to_pylist(),
            run["det"].column("xview_type_id").to_pylist(),
            strict=True,
        )
    )
    assert xview == {"car": 18, "truck": 23, "bus": 19}


def test_geojson_holds_the_same_detections(run: dict[str, Any]) -> None:
    fc = json.loads((run["out"] / "detections.geojson").read_text())
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == run["det"].num_rows
    by_id = {f["properties"]["detection_id"]: f for f in fc["features"]}
    for r in run["det"].to_pylist():
        f = by_id[r["detection_id"]]
        if r["geometry"] is None:
            assert f["geometry"] is None
        else:
            assert shapely.geometry.shape(f["geometry"]).equals_exact(
                shapely.from_wkb(r["geometry"]), 1e-9
            )
        assert (
            f["properties"]["lon"] == r["lon"]
            and f["properties"]["georef_source"] == r["georef_source"]
        )


def test_run_manifest_records_inputs_counts_model_versions_timings(run: dict[str, Any]) -> None:
    m = run["manifest"]
    assert m["inputs"] == [str(run["root"])]
    assert sorted(Path(p).name for p in m["images"]) == sorted(
        s.path.name for s in run["scenes"].values()
    )
    n = sum(len(s.blobs) for s in run["scenes"].values())
    assert m["counts"] == {
        "images": 8,
        "images_ok": 8,
        "failed": 0,
        "detections": n,
        "detections_by_class": m["counts"]["detections_by_class"],
        # the test model's card declares no validated range
        "detections_in_validated_range": {"true": 0, "false": 0, "null": n},
        "images_skipped": 0,
    }  # (only --aoi skips images)
    assert m["images_outside_validated_range"] == [] and m["model"]["validated"] is None
    assert m["skipped"] == []
    assert sum(m["counts"]["detections_by_class"].values()) == n
    assert m["model"]["gsd"] == 0.5 and m["model"]["classes"] == ["car", "truck", "bus"]
    assert m["run_id"] == run["det"].column("run_id")[0].as_py()
    assert {"python", "gdal", "onnxruntime", "pyproj", "rasterio"} <= set(m["versions"])
    assert m["timings_s"]["engine_total"] > 0
    t = m["timings_s"]  # the whole job contains its engine and output stages (each rounded)
    assert t["run_total"] >= t["engine_total"] + t["write_outputs"] - 1e-3


def test_inspect_reports_the_same_georeferencing(run: dict[str, Any]) -> None:
    res = skyscan("inspect", run["root"], "--crs", "EPSG:2056", "--gsd", "0.25", "--json")
    assert res.returncode == 0, res.stderr
    records = {r["image_id"]: r for r in json.loads(res.stdout)}
    assert set(records) == set(run["scenes"])
    for image_id, scene in run["scenes"].items():
        r = records[image_id]
        assert (r["georef_source"], r["crs"]) == (scene.source, scene.crs), image_id
        if scene.transform is None:
            assert r["footprint_lonlat"] is None and r["gsd_m"] == 0.25
            continue
        t = scene.transform
        corners = [
            apply(t, *c)
            for c in [(0, 0), (r["width"], 0), (r["width"], r["height"]), (0, r["height"])]
        ]
        lon, lat = to_lonlat(
            scene.crs, np.array([c[0] for c in corners]), np.array([c[1] for c in corners])
        )  # type: ignore[arg-type]
        np.testing.assert_allclose(
            np.asarray(r["footprint_lonlat"]), np.stack([lon, lat], axis=1), atol=1e-9
        )


def test_python_api_returns_the_same_table_as_the_cli(run: dict[str, Any], tmp_path: Path) -> None:
    import skyscan

    gdf = skyscan.detect(
        run["root"], tmp_path / "api", model=str(run["model"]), crs="EPSG:2056", gsd=0.25
    )
    assert isinstance(gdf, gpd.GeoDataFrame) and gdf.crs.to_epsg() == 4326
    cli = gpd.read_parquet(run["out"] / "detections.parquet")
    cols = [c for c in cli.columns if c != "run_id"]
    a = gdf[cols].sort_values("detection_id").reset_index(drop=True)
    b = cli[cols].sort_values("detection_id").reset_index(drop=True)
    assert a.drop(columns=["geometry", "centroid"]).equals(b.drop(columns=["geometry", "centroid"]))
    assert a.geometry.geom_equals_exact(b.geometry, 1e-12).where(b.geometry.notna(), True).all()
