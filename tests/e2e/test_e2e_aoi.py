"""``skyscan detect --aoi``: only chips touching the area are read, detections outside it
are dropped, images that miss it are skipped (and listed in run.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from affine import Affine
from e2e_support import blank, read_outputs, skyscan

from rasters import write_geotiff
from remote_servers import RangeServer

T = Affine(0.5, 0, 2_683_000, 0, -0.5, 1_248_000)


def _write(path: Path, data: np.ndarray, t: Affine) -> Path:
    """A tiled GeoTIFF in LV95 (256 px tiles: an area touches only some of them)."""
    return write_geotiff(
        path, crs="EPSG:2056", transform=t, data=data, tiled=True, blockxsize=256, blockysize=256
    )


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("aoi")
    rng = np.random.default_rng(3)
    blobs = [(int(c), int(r), int(rng.integers(0, 3))) for c, r in rng.integers(20, 1004, (40, 2))]
    _write(root / "big.tif", blank(1024, 1024, blobs), T)
    far = Affine(0.5, 0, 2_690_000, 0, -0.5, 1_248_000)  # 7 km east: misses the area
    _write(root / "far.tif", blank(256, 256, [(100, 100, 0)]), far)
    return root


def _area_wkt() -> str:
    # the image's top-left corner, pixels 0..400 (a sixth of it), in LV95
    return "SRID=2056;" + shapely.box(2_683_000, 1_248_000 - 200, 2_683_000 + 200, 1_248_000).wkt


def test_aoi_keeps_the_full_runs_detections_inside_and_skips_images_outside(
    scenes: Path, blob_model: Path, tmp_path: Path
) -> None:
    full = skyscan(
        "-q", "detect", scenes / "big.tif", "-o", tmp_path / "full", "--model", blob_model
    )
    assert full.returncode == 0, full.stderr
    res = skyscan(
        "detect",
        scenes / "big.tif",
        scenes / "far.tif",
        "-o",
        tmp_path / "aoi",
        "--model",
        blob_model,
        "--aoi",
        _area_wkt(),
    )
    assert res.returncode == 0, res.stderr
    assert "1 outside the area of interest" in res.stderr
    det_full = read_outputs(tmp_path / "full")[0]
    det, err, manifest = read_outputs(tmp_path / "aoi")
    assert err.num_rows == 0
    cx = (np.asarray(det_full.column("px_xmin")) + np.asarray(det_full.column("px_xmax"))) / 2
    cy = (np.asarray(det_full.column("px_ymin")) + np.asarray(det_full.column("px_ymax"))) / 2
    inside = (cx <= 400) & (cy <= 400)
    assert 2 <= inside.sum() < det_full.num_rows

    def boxes(table: object, mask: np.ndarray | None = None) -> list[tuple[object, ...]]:
        cols = [
            table.column(c).to_pylist()
            for c in ("px_xmin", "px_ymin", "px_xmax", "px_ymax", "class_name")
        ]  # type: ignore[attr-defined]
        rows = list(zip(*cols, strict=True))
        return sorted(r for k, r in enumerate(rows) if mask is None or mask[k])

    # the same boxes as the full run's inside the area: chips sit where they would anyway
    assert boxes(det) == boxes(det_full, inside)
    assert manifest["counts"]["images_skipped"] == 1 and manifest["counts"]["images_ok"] == 1
    assert manifest["skipped"] == [
        {"path": str(scenes / "far.tif"), "reason": "outside the area of interest"}
    ]
    assert manifest["options"]["aoi"]["crs"] == "EPSG:2056"
    # another area is another run: resume refuses it
    other = skyscan(
        "-q",
        "detect",
        scenes / "big.tif",
        scenes / "far.tif",
        "-o",
        tmp_path / "aoi",
        "--model",
        blob_model,
        "--resume",
    )
    assert other.returncode == 1 and "different options" in other.stderr


def test_aoi_reads_only_the_tiles_of_chips_that_touch_it(
    scenes: Path, blob_model: Path, tmp_path: Path
) -> None:
    with RangeServer(scenes) as srv:
        srv.reset()
        assert (
            skyscan(
                "-q", "detect", srv.url("big.tif"), "-o", tmp_path / "a", "--model", blob_model
            ).returncode
            == 0
        )
        full = srv.stats()["bytes_sent"]
        srv.reset()
        res = skyscan(
            "-q",
            "detect",
            srv.url("big.tif"),
            srv.url("far.tif"),
            "-o",
            tmp_path / "b",
            "--model",
            blob_model,
            "--aoi",
            _area_wkt(),
        )
        assert res.returncode == 0, res.stderr
        stats = srv.stats()
    # chips touching the area reach 4 of the 16 tiles
    # chips touching the area reach 4 of the 16 tiles; GDAL reads ahead a little past a
    # tile when the next one follows it in the file
    assert stats["bytes_sent"] < 0.5 * full, (stats["bytes_sent"], full)
    far_bytes = sum(e - s + 1 for p, s, e in stats["ranges"] if p == "far.tif")
    assert far_bytes <= 16384  # its header only
    assert json.loads((tmp_path / "b" / "run.json").read_text())["counts"]["images_skipped"] == 1
