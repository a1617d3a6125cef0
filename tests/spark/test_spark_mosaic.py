"""A mosaic on the spark engine: the local engine's rows, its units spread over tasks by tile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from spark_helpers import assert_same_detections, blob_options

from rasters import cut_tiles, utm_transform, write_geotiff
from skyscan.detectors.synthetic import draw_blobs
from skyscan.options import RunSettings

pytestmark = pytest.mark.spark


def test_a_mosaic_gives_the_local_engines_rows(
    local_spark: Any, blob_model: Path, tmp_path: Path
) -> None:
    from skyscan.run import run_detect

    rng = np.random.default_rng(11)
    img = np.zeros((3, 200, 300), np.uint8)
    # blobs anywhere, and on the seams of the 3 x 2 cut (x = 100, 200; y = 100)
    centres = [
        (float(rng.uniform(8, 292)), float(rng.uniform(8, 192)), int(rng.integers(0, 3)))
        for _ in range(8)
    ]
    centres += [(100.0, 50.0, 0), (200.0, 150.0, 1), (150.0, 100.0, 2), (200.0, 100.0, 0)]
    draw_blobs(img, centres)
    scene = write_geotiff(tmp_path / "scene.tif", 300, 200, data=img, transform=utm_transform(0.3))
    tiles = tmp_path / "tiles"
    cut_tiles(scene, tiles, 3, 2, overlap=8)
    options = blob_options(blob_model, chips_per_unit=4)
    local = run_detect(
        [str(tiles)], tmp_path / "local", options, RunSettings(geojson=False, mosaic=True)
    )
    spark = run_detect(
        [str(tiles)],
        tmp_path / "spark",
        options,
        RunSettings(engine="spark", master="local[2]", geojson=False, mosaic=True),
    )
    a, b = (
        pq.read_table(tmp_path / "spark" / "detections.parquet"),
        pq.read_table(tmp_path / "local" / "detections.parquet"),
    )
    assert b.num_rows >= 10
    # each run's OUTDIR holds its own mosaic
    assert_same_detections(a, b, ignore=("run_id", "image_path"))
    assert {Path(p).name for p in a.column("image_path").to_pylist()} == {"tiles.vrt"}
    assert len(set(a.column("image_id").to_pylist())) > 3  # rows name the six tiles
    assert local.n_failed == spark.n_failed == 0
