"""The real imagery of ../shared/data/georef through `skyscan detect` and `skyscan inspect`:
five CRSs (UTM 31N/17N/50S, NAD83 13N, LV95), uint16 panchromatic, float64 4-band,
JPEG-compressed tiles, RGBA with a transparent border, and a 300 m Landsat scene that a
vehicle model must refuse. Coordinates are checked against rasterio's own transform of
each file + pyproj. The blob detector stands in for the trained model (it fires on bright
spots): these tests are about where detections land, not about what they are."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import rasterio
from e2e_support import read_outputs, rows_of, skyscan, to_lonlat
from rasterio.windows import Window

from skyscan.detectors.synthetic import build_blob_model

pytestmark = pytest.mark.shared_data


def _inputs(root: Path) -> list[str]:
    g = root / "georef"
    return [
        str(g / "spacenet" / "pan1.tif"),
        str(g / "spacenet" / "ms1.tif"),
        f"{g}/swissimage-zurich/tiles/1091-322_0[0-3].tif",
        str(g / "orthophotos"),
        str(g / "neon-osbs" / "OSBS_029.tif"),
        str(g / "landsat" / "RGB.byte.tif"),
    ]


@pytest.fixture(scope="module")
def run(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("real")
    model = build_blob_model(base / "blobs.onnx", input_size=256, gsd=0.5)
    out = base / "out"
    res = skyscan("detect", *_inputs(shared_data), "-o", out, "--model", model)
    det, err, manifest = read_outputs(out)
    return {"res": res, "det": det, "err": err, "manifest": manifest, "root": shared_data}


def test_every_image_is_accounted_for_and_landsat_is_refused(run: dict[str, Any]) -> None:
    assert run["res"].returncode == 3, run["res"].stderr
    errors = run["err"].to_pylist()
    assert [Path(e["path"]).name for e in errors] == ["RGB.byte.tif"]
    assert "too coarse" in errors[0]["message"] and "300 m" in errors[0]["message"]
    images = run["manifest"]["images"]
    assert len(images) == 10  # 2 spacenet + 4 tiles + 2 orthophotos + 1 NEON + Landsat
    assert run["manifest"]["counts"]["images_ok"] == 9


def test_detections_land_where_rasterio_and_pyproj_put_their_pixels(run: dict[str, Any]) -> None:
    det: pa.Table = run["det"]
    crss = set()
    for path in sorted(set(det.column("image_path").to_pylist())):
        rows = det.filter(pa.compute.equal(det.column("image_path"), path))
        with rasterio.open(path) as ds:
            t, crs, res, (w, h) = ds.transform, ds.crs.to_string(), ds.res[0], (ds.width, ds.height)
        col = (rows.column("px_xmin").to_numpy() + rows.column("px_xmax").to_numpy()) / 2
        row = (rows.column("px_ymin").to_numpy() + rows.column("px_ymax").to_numpy()) / 2
        assert (col >= 0).all() and (col <= w).all() and (row >= 0).all() and (row <= h).all()
        x = t.a * col + t.b * row + t.c
        y = t.d * col + t.e * row + t.f
        lon, lat = to_lonlat(crs, x, y)
        np.testing.assert_allclose(rows.column("lon").to_numpy(), lon, atol=1e-9, err_msg=path)
        np.testing.assert_allclose(rows.column("lat").to_numpy(), lat, atol=1e-9, err_msg=path)
        assert set(rows.column("src_crs").to_pylist()) == {crs}, path
        assert rows.column("gsd_m").to_numpy() == pytest.approx(res, rel=1e-3), path
        assert set(rows.column("georef_source").to_pylist()) == {"geotiff"}
        crss.add(crs)
    assert len(crss) >= 5, crss  # detections in (at least) five different CRSs in one run


def test_no_detection_in_the_transparent_border(run: dict[str, Any]) -> None:
    rows = rows_of(run["det"], "pix4d_alpha_nodata")
    assert rows.num_rows > 0
    path = rows.column("image_path")[0].as_py()
    with rasterio.open(path) as ds:
        for r in rows.to_pylist():
            c, rr = int((r["px_xmin"] + r["px_xmax"]) / 2), int((r["px_ymin"] + r["px_ymax"]) / 2)
            alpha = ds.read(4, window=Window(min(c, ds.width - 1), min(rr, ds.height - 1), 1, 1))
            assert alpha[0, 0] > 0, r["detection_id"]


def test_inspect_footprints_match_rasterio(run: dict[str, Any]) -> None:
    res = skyscan("inspect", *_inputs(run["root"]), "--json")
    assert res.returncode == 0, res.stderr  # Landsat is a fine image, just not for vehicles
    records = json.loads(res.stdout)
    assert len(records) == 10 and all(r["ok"] for r in records)
    for r in records:
        with rasterio.open(r["path"]) as ds:
            t, crs = ds.transform, ds.crs.to_string()
            assert (r["width"], r["height"], r["count"]) == (ds.width, ds.height, ds.count)
            assert r["crs"] == crs and r["georef_source"] == "geotiff"
            assert r["gsd_m"] == pytest.approx(ds.res[0], rel=1e-3)
        cols, rows = (
            np.array([0, r["width"], r["width"], 0]),
            np.array([0, 0, r["height"], r["height"]]),
        )
        lon, lat = to_lonlat(crs, t.a * cols + t.b * rows + t.c, t.d * cols + t.e * rows + t.f)
        np.testing.assert_allclose(
            np.asarray(r["footprint_lonlat"]), np.stack([lon, lat], 1), atol=1e-9
        )
