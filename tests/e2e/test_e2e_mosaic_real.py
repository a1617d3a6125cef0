"""A real aerial scene (Gorinchem, 0.25 m) cut into 2 x 2 overlapping tiles and detected as
a mosaic with the shipped vehicle model: the scene's detections, nothing doubled or lost
on the seams."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from rasters import cut_tiles
from skyscan.detectors import DetectorRecipe
from skyscan.options import RunSettings
from skyscan.pipeline import DetectOptions
from skyscan.run import run_detect

pytestmark = pytest.mark.shared_data
BOX = ["px_xmin", "px_ymin", "px_xmax", "px_ymax"]


@pytest.mark.parametrize("overlap", [0, 24])
def test_a_mosaic_cut_from_a_scene_finds_the_scenes_vehicles(
    shared_data: Path, tmp_path: Path, overlap: int
) -> None:
    scene = shared_data / "georef" / "gorinchem" / "gorinchem_0.25m.tif"
    if not scene.is_file():
        pytest.skip(f"{scene} not found")
    cut_tiles(scene, tmp_path / "tiles", 2, 2, overlap=overlap)
    # below the card's threshold: more rows to compare, some of them across the seams
    options = DetectOptions(recipe=DetectorRecipe(score_threshold=0.2))
    run_detect([str(scene)], tmp_path / "scene", options, RunSettings(geojson=False))
    run_detect(
        [str(tmp_path / "tiles")],
        tmp_path / "mosaic",
        options,
        RunSettings(geojson=False, mosaic=True),
    )
    whole = pq.read_table(tmp_path / "scene" / "detections.parquet")
    mosaic = pq.read_table(tmp_path / "mosaic" / "detections.parquet")
    assert whole.num_rows >= 30  # a town centre: a comparison of real vehicles
    assert mosaic.num_rows == whole.num_rows
    a = np.stack([whole.column(c).to_numpy() for c in BOX], axis=1)
    b = np.stack([mosaic.column(c).to_numpy() for c in BOX], axis=1)
    assert np.abs(a - b).max() <= 0.5
    seam = (a[:, 0] < 500) & (a[:, 2] > 500) | (a[:, 1] < 500) & (a[:, 3] > 500)
    assert seam.any()  # some vehicles lie across a seam, and are found once
    np.testing.assert_allclose(
        mosaic.column("lat").to_numpy(), whole.column("lat").to_numpy(), atol=1e-8
    )
    np.testing.assert_allclose(
        mosaic.column("lon").to_numpy(), whole.column("lon").to_numpy(), atol=1e-8
    )
    assert {i.split("/")[0] for i in mosaic.column("image_id").to_pylist()} == {"tiles"}
