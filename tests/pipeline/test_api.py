"""The Python API returns the same table as the CLI writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import skyscan
from rasters import write_geotiff
from skyscan.detectors.synthetic import build_blob_model, draw_blobs


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_blob_model(tmp_path_factory.mktemp("m") / "blobs.onnx", input_size=64)


def test_detect_returns_geodataframe_and_errors(tmp_path: Path, model: Path) -> None:
    img = np.zeros((3, 100, 120), np.uint8)
    draw_blobs(img, [(30.0, 40.0, 0), (90.0, 70.0, 1)])
    write_geotiff(tmp_path / "a.tif", 120, 100, data=img)
    write_geotiff(tmp_path / "plain.tif", 120, 100, data=img, crs=None)
    (tmp_path / "broken.tif").write_bytes(b"II*\x00garbage")
    gdf = skyscan.detect(tmp_path, model=str(model), gsd=0.3)
    assert gdf.crs.to_epsg() == 4326
    by_image = gdf.groupby("image_id").size().to_dict()
    assert by_image == {"a": 2, "plain": 2}
    plain = gdf[gdf.image_id == "plain"]
    assert not plain.georeferenced.any() and plain.geometry.isna().all()
    assert plain.gsd_m.tolist() == [0.3, 0.3]  # user GSD, used for chip scale and area
    assert [Path(e["path"]).name for e in gdf.attrs["errors"]] == ["broken.tif"]


def test_require_georef_turns_plain_images_into_errors(tmp_path: Path, model: Path) -> None:
    write_geotiff(tmp_path / "plain.tif", 64, 64, crs=None)
    gdf = skyscan.detect(tmp_path, model=str(model), require_georef=True)
    assert len(gdf) == 0
    (err,) = gdf.attrs["errors"]
    assert err["error_type"] == "GeoreferenceError" and "plain.tif" in err["message"]
