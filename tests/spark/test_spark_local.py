"""The spark engine on local[2]: same rows as the local engine, errors, GeoParquet output."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pytest
from spark_helpers import (
    CHIPS_PER_UNIT,
    assert_same_detections,
    blob_options,
    error_keys,
    zones_from,
)

from skyscan.run_state import PartStore
from skyscan.schema import DETECTION_COLUMNS, ERROR_SCHEMA

pytestmark = pytest.mark.spark


def test_run_detect_writes_the_local_engines_rows(
    local_spark: Any,
    blob_scenes: dict[str, Any],
    blob_model: Path,
    local_result: tuple[pa.Table, pa.Table],
    tmp_path: Path,
) -> None:
    from skyscan.engines.spark.driver import run_detect

    paths = blob_scenes["paths"]
    options = blob_options(blob_model, chips_per_unit=CHIPS_PER_UNIT)
    summary = run_detect(paths, options, tmp_path, spark=local_spark, run_id="spark-run")
    det, err = PartStore(tmp_path, "spark-run").collect(paths)
    local_det, local_err = local_result
    assert local_det.num_rows > 20  # the scenes hold 40+ blobs: a comparison of real rows
    assert_same_detections(det, local_det)
    assert (
        error_keys(err)
        == error_keys(local_err)
        == [(blob_scenes["corrupt"], "read", "ImageReadError")]
    )
    assert summary["images_ok"] == len(paths) - 1 and summary["failed"] == 1
    assert summary["detections"] == det.num_rows
    assert summary["work_units"] > len(paths)  # the big scene spread over several units
    assert set(det.column("run_id").to_pylist()) == {"spark-run"}


def test_cli_run_with_engine_spark_gives_the_same_outputs(
    local_spark: Any,
    blob_scenes: dict[str, Any],
    blob_model: Path,
    local_result: tuple[pa.Table, pa.Table],
    tmp_path: Path,
) -> None:
    """Through ``skyscan.run.run_detect`` (what ``skyscan detect --engine spark`` calls)."""
    import pyarrow.parquet as pq

    from skyscan.options import RunSettings
    from skyscan.run import run_detect

    options = blob_options(blob_model, chips_per_unit=CHIPS_PER_UNIT)
    result = run_detect(
        blob_scenes["paths"],
        tmp_path / "out",
        options,
        RunSettings(engine="spark", master="local[2]", geojson=False),
    )
    assert_same_detections(pq.read_table(tmp_path / "out" / "detections.parquet"), local_result[0])
    assert result.n_failed == 1
    assert not local_spark.sparkContext._jsc.sc().isStopped()  # the engine left our session alone


def test_dataframe_api_from_the_image_source_matches_local(
    local_spark: Any,
    blob_scenes: dict[str, Any],
    blob_model: Path,
    local_result: tuple[pa.Table, pa.Table],
) -> None:
    """Spark's own ``image`` source: only ``image.origin`` is used, pixels are re-read by skyscan."""
    from skyscan.spark import detect

    images = (
        local_spark.read.format("image").option("dropInvalid", True).load(str(blob_scenes["root"]))
    )
    origins = [r["origin"] for r in images.select("image.origin").collect()]
    assert origins and all(o.startswith("file:") for o in origins)  # URIs, not paths
    result = detect(local_spark, images, blob_options(blob_model, chips_per_unit=CHIPS_PER_UNIT))
    try:
        status = {r["path"]: r["status"] for r in result.images.collect()}
        # the source decodes what Java can (the PNG, and TIFFs); those are the images detected
        assert sorted(status) == sorted(urlparse(o).path for o in origins)
        assert set(status) <= set(blob_scenes["paths"]) and set(status.values()) == {"ok"}
        det = result.detections.toArrow()
        local_det = local_result[0]
        keep = [p in status for p in local_det.column("image_path").to_pylist()]
        expected = local_det.filter(pa.array(keep))
        assert expected.num_rows > 0
        assert_same_detections(det.cast(local_det.schema), expected)
    finally:
        result.release()


def test_dataframe_api_from_binary_files_matches_local(
    local_spark: Any,
    blob_scenes: dict[str, Any],
    blob_model: Path,
    local_result: tuple[pa.Table, pa.Table],
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
    spark_detections: Any, local_result: tuple[pa.Table, pa.Table], tmp_path: Path
) -> None:
    import geopandas as gpd

    from skyscan.spark import write_geoparquet

    summary = write_geoparquet(spark_detections, tmp_path / "gp", partition_by="h3_5")
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

    cells = cells_to_strings(
        h3_cells(lon=georef["lon"].to_numpy(), lat=georef["lat"].to_numpy(), res=5)
    )
    assert list(georef["h3_5"].astype(str)) == list(cells)
    b = georef.geometry.bounds
    assert bool(((b["minx"] <= georef["lon"]) & (georef["lon"] <= b["maxx"])).all())


def test_geoparquet_refuses_to_overwrite(local_spark: Any, tmp_path: Path) -> None:
    from skyscan.errors import OutputExistsError
    from skyscan.spark import detection_schema, write_geoparquet

    (tmp_path / "gp").mkdir()
    (tmp_path / "gp" / "x").write_text("keep me")
    empty = local_spark.createDataFrame([], detection_schema())
    with pytest.raises(OutputExistsError, match="overwrite"):
        write_geoparquet(empty, tmp_path / "gp")
    assert (tmp_path / "gp" / "x").read_text() == "keep me"


# ---------------------------------------------------------------- analytics on Spark


def test_within_matches_the_local_analytics(spark_detections: Any, local_frame: Any) -> None:
    from skyscan.analytics.within import within_area
    from skyscan.spark import within

    area = zones_from(local_frame).iloc[[0]]
    for using in ("centroid", "footprint"):
        local = within_area(local_frame, area, using=using)
        ids = sorted(
            r["detection_id"]
            for r in within(spark_detections, area, using=using).select("detection_id").collect()
        )
        assert 0 < local.inside < len(local_frame)
        assert ids == sorted(local.table["detection_id"]), using


def test_spatial_join_by_h3_cell_matches_the_local_join(
    spark_detections: Any, local_frame: Any
) -> None:
    from skyscan.analytics.join import spatial_join as local_join
    from skyscan.spark import spatial_join

    zones = zones_from(local_frame)
    for using, res in (("centroid", 9), ("centroid", 6), ("footprint", 10)):
        local = local_join(local_frame, zones, using=using).table
        got = spatial_join(spark_detections, zones, using=using, h3_res=res)
        rows = sorted(
            (r["detection_id"], r["zone_index"], r["zone_name"], r["zone_weight"])
            for r in got.collect()
        )
        expected = sorted(
            zip(
                local["detection_id"],
                local["zone_index"].astype(int),
                local["zone_name"],
                local["zone_weight"],
                strict=True,
            )
        )
        assert (
            len(expected) > 5 and len({z for _, z, _, _ in expected}) == 3
        )  # every zone matched something
        assert rows == expected, (using, res)
        assert got.columns[: len(DETECTION_COLUMNS)] == DETECTION_COLUMNS


def test_h3_counts_match_the_local_aggregate(spark_detections: Any, local_frame: Any) -> None:
    from skyscan.analytics.aggregate import aggregate_by_h3
    from skyscan.spark import h3_counts

    local = aggregate_by_h3(local_frame, 9, by=["class_name"]).table
    got = {
        (r["h3_cell"], r["class_name"]): (r["count"], r["mean_score"], r["h3_res"])
        for r in h3_counts(spark_detections, 9, by=["class_name"]).collect()
    }
    assert len(got) == len(local) > 3
    for row in local.itertuples():
        count, mean, res = got[(row.h3_cell, row.class_name)]
        assert (count, res) == (row.count, 9)
        assert mean == pytest.approx(row.mean_score, abs=2e-6)


def test_geoparquet_partitioned_by_image_id(
    spark_detections: Any, local_result: tuple[pa.Table, pa.Table], tmp_path: Path
) -> None:
    import geopandas as gpd

    from skyscan.spark import write_geoparquet

    summary = write_geoparquet(spark_detections, tmp_path / "gp", partition_by="image_id")
    local_ids = sorted(set(local_result[0].column("image_id").to_pylist()))
    dirs = sorted(p.name for p in (tmp_path / "gp").iterdir() if p.is_dir())
    assert dirs == [f"image_id={i}" for i in local_ids]
    assert summary["files"] == len(
        local_ids
    )  # one file per value: rows of an image meet in one task
    gdf = gpd.read_parquet(tmp_path / "gp")
    assert sorted(gdf["image_id"].astype(str).unique()) == local_ids
    assert sorted(gdf["detection_id"]) == sorted(local_result[0].column("detection_id").to_pylist())
