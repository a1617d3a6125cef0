"""The spark engine on local[2]: same rows as the local engine, errors, GeoParquet output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from spark_helpers import assert_same_detections, blob_options, error_keys, run_local

from skyscan.run_state import PartStore
from skyscan.schema import DETECTION_COLUMNS, ERROR_SCHEMA

pytestmark = pytest.mark.spark

CHIPS_PER_UNIT = 4


@pytest.fixture(scope="module")
def local_result(blob_scenes: dict[str, Any], blob_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, pa.Table]:
    options = blob_options(blob_model, chips_per_unit=CHIPS_PER_UNIT)
    return run_local(blob_scenes["paths"], options, tmp_path_factory.mktemp("local-out"))


def test_run_detect_writes_the_local_engines_rows(
    local_spark: Any, blob_scenes: dict[str, Any], blob_model: Path, local_result: tuple[pa.Table, pa.Table], tmp_path: Path
) -> None:
    from skyscan.engines.spark import run_detect

    paths = blob_scenes["paths"]
    options = blob_options(blob_model, chips_per_unit=CHIPS_PER_UNIT)
    summary = run_detect(paths, options, tmp_path, spark=local_spark, run_id="spark-run")
    det, err = PartStore(tmp_path, "spark-run").collect(paths)
    local_det, local_err = local_result
    assert local_det.num_rows > 20  # the scenes hold 40+ blobs: a comparison of real rows
    assert_same_detections(det, local_det)
    assert error_keys(err) == error_keys(local_err) == [(blob_scenes["corrupt"], "read", "ImageReadError")]
    assert summary["images_ok"] == len(paths) - 1 and summary["failed"] == 1
    assert summary["detections"] == det.num_rows
    assert summary["work_units"] > len(paths)  # the big scene spread over several units
    assert set(det.column("run_id").to_pylist()) == {"spark-run"}


def test_cli_run_with_engine_spark_gives_the_same_outputs(
    local_spark: Any, blob_scenes: dict[str, Any], blob_model: Path, local_result: tuple[pa.Table, pa.Table], tmp_path: Path
) -> None:
    """Through ``skyscan.run.run_detect`` (what ``skyscan detect --engine spark`` calls)."""
    import pyarrow.parquet as pq

    from skyscan.run import run_detect

    options = blob_options(blob_model, chips_per_unit=CHIPS_PER_UNIT)
    result = run_detect(blob_scenes["paths"], tmp_path / "out", options, engine="spark", master="local[2]", geojson=False)
    assert_same_detections(pq.read_table(tmp_path / "out" / "detections.parquet"), local_result[0])
    assert result.n_failed == 1
    assert not local_spark.sparkContext._jsc.sc().isStopped()  # the engine left our session alone


def test_dataframe_api_from_binary_files_matches_local(
    local_spark: Any, blob_scenes: dict[str, Any], blob_model: Path, local_result: tuple[pa.Table, pa.Table]
) -> None:
    from skyscan.spark import detect

    images = local_spark.read.format("binaryFile").load(str(blob_scenes["root"])).select("path")
    result = detect(local_spark, images, blob_options(blob_model, chips_per_unit=CHIPS_PER_UNIT))
    try:
        det = result.detections.toArrow()
        err = result.errors.toArrow()
        status = {r["path"]: r["status"] for r in result.images.collect()}
        assert det.column_names == DETECTION_COLUMNS
        assert err.column_names == ERROR_SCHEMA.names
        # Spark hands columns back with its own nullability; compare values, not flags.
        local_det = local_result[0]
        assert_same_detections(det.cast(local_det.schema), local_det)
        assert error_keys(err) == error_keys(local_result[1])
        assert sorted(status) == sorted(blob_scenes["paths"])
        assert sum(s == "error" for s in status.values()) == 1
    finally:
        result.release()


def test_geoparquet_partitioned_by_h3_reads_back_in_geopandas(
    local_spark: Any, blob_scenes: dict[str, Any], blob_model: Path, local_result: tuple[pa.Table, pa.Table], tmp_path: Path
) -> None:
    import geopandas as gpd

    from skyscan.spark import detect, write_geoparquet

    result = detect(local_spark, blob_scenes["paths"], blob_options(blob_model, chips_per_unit=CHIPS_PER_UNIT))
    try:
        summary = write_geoparquet(result.detections, tmp_path / "gp", partition_by="h3_5")
    finally:
        result.release()
    out = tmp_path / "gp"
    assert (out / "_SUCCESS").is_file() and not (out / "_temporary").exists()
    dirs = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert "h3_5=none" in dirs  # the PNG has no georeferencing
    assert len(dirs) >= 3  # Rotterdam and Zurich scenes land in different cells
    gdf = gpd.read_parquet(out)
    assert gdf.crs is not None and gdf.crs.to_epsg() == 4326
    assert len(gdf) == summary["rows"] == local_result[0].num_rows
    assert set(gdf.loc[~gdf["georeferenced"], "h3_5"].astype(str)) == {"none"}
    georef = gdf[gdf["georeferenced"]]
    from skyscan.analytics.h3cells import cells_to_strings, h3_cells

    cells = cells_to_strings(h3_cells(lon=georef["lon"].to_numpy(), lat=georef["lat"].to_numpy(), res=5))
    assert list(georef["h3_5"].astype(str)) == list(cells)
    assert np.allclose(georef.geometry.centroid.x, georef["lon"], atol=1e-6)


def test_geoparquet_refuses_to_overwrite(local_spark: Any, tmp_path: Path) -> None:
    from skyscan.errors import OutputExistsError
    from skyscan.spark import detection_schema, write_geoparquet

    (tmp_path / "gp").mkdir()
    (tmp_path / "gp" / "x").write_text("keep me")
    empty = local_spark.createDataFrame([], detection_schema())
    with pytest.raises(OutputExistsError, match="overwrite"):
        write_geoparquet(empty, tmp_path / "gp")
    assert (tmp_path / "gp" / "x").read_text() == "keep me"
