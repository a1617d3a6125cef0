"""The spark engine on STAC inputs: a static catalog served over HTTP on loopback, whose
items' asset URLs the executors read themselves; rows (the items' ``meta_*`` columns
included) and error rows equal the local engine's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from spark_helpers import assert_same_detections, blob_options, error_keys

from remote_servers import RangeServer
from stac_support import Scene, item_for, write_catalog, write_scenes

pytestmark = pytest.mark.spark
pytest.importorskip("pystac")


@pytest.fixture(scope="module")
def catalog_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RangeServer]:
    root = tmp_path_factory.mktemp("stac-www")
    scenes = write_scenes(root / "img", ["2024-05-01T10:00:00Z", "2024-06-15T09:00:00Z"])
    no_tiff = item_for(Scene("png-only", scenes[0].path, "2024-05-01T10:00:00Z", 0, 0.0))
    del no_tiff.assets["visual"]
    write_catalog(root / "stac", scenes, extra_items=[no_tiff])
    with RangeServer(root) as srv:
        yield srv


def test_spark_reads_stac_items_like_the_local_engine(
    local_spark: Any, catalog_server: RangeServer, blob_model: Path, tmp_path: Path
) -> None:
    from skyscan.io.stac import StacQuery
    from skyscan.options import RunSettings
    from skyscan.run import run_detect

    query = StacQuery(catalog_server.url("stac/catalog.json"), properties=("eo:cloud_cover",))
    options = blob_options(blob_model, chips_per_unit=4)
    results = {}
    for engine in ("local", "spark"):
        out = tmp_path / engine
        result = run_detect(
            [], out, options, RunSettings(engine=engine, geojson=False), stac=[query]
        )
        results[engine] = (
            pq.read_table(out / "detections.parquet"),
            pq.read_table(out / "errors.parquet"),
            result,
        )
    (local_det, local_err, _), (spark_det, spark_err, spark_result) = (
        results["local"],
        results["spark"],
    )
    assert local_det.num_rows > 3
    assert_same_detections(spark_det, local_det)
    assert {"meta_stac_item", "meta_datetime", "meta_capture_date", "meta_eo:cloud_cover"} <= set(
        spark_det.column_names
    )
    assert set(spark_det.column("meta_capture_date").to_pylist()) == {"2024-05-01", "2024-06-15"}
    assert all(p.startswith("http://127.0.0.1") for p in spark_det.column("image_path").to_pylist())
    assert error_keys(spark_err) == error_keys(local_err) and len(error_keys(spark_err)) == 1
    assert "item 'png-only': no GeoTIFF asset" in spark_err.column("message")[0].as_py()
    assert spark_result.manifest["engine"] == "spark"


def test_a_mosaic_of_stac_items_over_http_gives_the_local_engines_rows(
    local_spark: Any, catalog_server: RangeServer, blob_model: Path, tmp_path: Path
) -> None:
    """``--stac URL --mosaic``: the items' COGs, read over HTTP by the executors, are tiles
    of one mosaic; both engines give the same rows, each row its tile's item."""
    from skyscan.io.stac import StacQuery
    from skyscan.options import RunSettings
    from skyscan.run import run_detect

    query = StacQuery(catalog_server.url("stac/catalog.json"))
    options = blob_options(blob_model, chips_per_unit=4)
    rows = {}
    for engine in ("local", "spark"):
        out = tmp_path / engine
        run_detect(
            [], out, options, RunSettings(engine=engine, geojson=False, mosaic=True), stac=[query]
        )
        rows[engine] = pq.read_table(out / "detections.parquet")
    local, spark = rows["local"], rows["spark"]
    assert local.num_rows > 3
    assert_same_detections(spark, local, ignore=("run_id", "image_path"))  # each run's own VRT
    items = spark.column("meta_stac_item").to_pylist()
    assert set(items) == {"scene-0", "scene-1"}
    assert spark.column("image_id").to_pylist() == [f"mosaic/{i}" for i in items]
