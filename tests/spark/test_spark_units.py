"""Spark engine pieces that need no JVM: Java check, schemas, the executor-side tasks."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from spark_helpers import assert_same_detections, blob_options

from skyscan.engines.spark import tasks
from skyscan.engines.spark.session import check_java, java_major_version, to_spark_schema
from skyscan.errors import MissingDependencyError
from skyscan.schema import DETECTION_SCHEMA, ERROR_SCHEMA


def _fake_java(tmp_path: Path, version_line: str) -> Path:
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    return home


def test_missing_java_names_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-such-jdk"))
    with pytest.raises(MissingDependencyError, match=r"Java 17\+.*openjdk-17-jre-headless"):
        check_java()
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", str(tmp_path))  # no java anywhere
    with pytest.raises(MissingDependencyError, match="no 'java' on PATH"):
        check_java()


def test_old_java_is_refused_with_its_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _fake_java(tmp_path, 'openjdk version "1.8.0_392"')
    monkeypatch.setenv("JAVA_HOME", str(home))
    assert java_major_version(str(home / "bin" / "java")) == 8
    with pytest.raises(MissingDependencyError, match="got Java 8"):
        check_java()
    home21 = _fake_java(tmp_path / "b", 'openjdk version "21.0.2" 2024-01-16')
    monkeypatch.setenv("JAVA_HOME", str(home21))
    assert check_java() == str(home21 / "bin" / "java")


def test_local_masters_get_the_local_jvm_options_and_user_conf_wins() -> None:
    from skyscan.engines.spark.session import DEFAULT_CONF, LOCAL_CONF, session_conf

    key = "spark.driver.extraJavaOptions"
    assert session_conf("local[2]")[key] == LOCAL_CONF[key] == "-XX:TieredStopAtLevel=1"
    assert session_conf("local[*]")[key] == LOCAL_CONF[key]
    for cluster in ("spark://127.0.0.1:7077", "yarn", "k8s://https://host:443", None):
        assert key not in session_conf(cluster)
        assert session_conf(cluster).items() >= DEFAULT_CONF.items()
    assert session_conf("local[2]", {key: "-Xss4m"})[key] == "-Xss4m"


def test_detection_schema_converts_to_spark_types() -> None:
    pytest.importorskip("pyspark")
    from pyspark.sql import types as T

    schema = to_spark_schema(DETECTION_SCHEMA)
    kinds = {f.name: type(f.dataType) for f in schema.fields}
    assert [f.name for f in schema.fields] == DETECTION_SCHEMA.names
    assert kinds["score"] is T.FloatType and kinds["class_id"] is T.IntegerType
    assert kinds["lon"] is T.DoubleType and kinds["geometry"] is T.BinaryType
    assert kinds["georeferenced"] is T.BooleanType and kinds["run_id"] is T.StringType
    assert all(f.nullable for f in schema.fields)
    assert [f.name for f in to_spark_schema(ERROR_SCHEMA).fields] == ERROR_SCHEMA.names


def _paths_batch(paths: list[str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(
        [{"path": p, "image_id": None} for p in paths], schema=tasks.PATHS_SCHEMA
    )


def test_stages_without_spark_give_the_pipelines_rows(
    blob_scenes: dict[str, Any], blob_model: Path
) -> None:
    """open_and_plan → detect_units (units shuffled) → finalize_group == detect_image."""
    from skyscan.detectors import get_detector
    from skyscan.io.reader import open_image
    from skyscan.pipeline import detect_image

    big = next(p for p in blob_scenes["paths"] if p.endswith("utm_big.tif"))
    options = blob_options(blob_model, chips_per_unit=8)
    detector = get_detector(options.recipe)
    units = pa.Table.from_batches(
        list(tasks.open_and_plan([_paths_batch([big])], detector.card, options))
    )
    assert units.num_rows > 3 and units.column("n_units").to_pylist()[0] == units.num_rows
    shuffled = units.take(
        pa.array(list(range(units.num_rows))[::-1])
    )  # arrival order must not matter
    results = pa.Table.from_batches(
        list(tasks.detect_units(shuffled.to_batches(), options, get_detector))
    )
    packed = tasks.finalize_group(results, detector.card, "r", options)
    assert packed.column("status").to_pylist() == ["ok"]
    got = tasks.from_ipc(packed.column("detections")[0].as_py())
    expected = detect_image(open_image(big), detector, options, "r")
    assert got.num_rows == expected.num_rows > 10
    assert_same_detections(got, expected, ignore=())


def test_units_of_one_image_in_a_row_share_a_reader_and_give_each_unit_its_rows(
    blob_scenes: dict[str, Any], blob_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Consecutive units (one image, then an error row, then another image) → one
    reader per run of units, and per unit exactly the rows it gets when detected alone."""
    from skyscan.detectors import get_detector
    from skyscan.io import reader as reader_module

    big = next(p for p in blob_scenes["paths"] if p.endswith("utm_big.tif"))
    other = next(p for p in blob_scenes["paths"] if p not in (big, blob_scenes["corrupt"]))
    options = blob_options(blob_model, chips_per_unit=8)
    card = get_detector(options.recipe).card
    units = pa.Table.from_batches(
        list(
            tasks.open_and_plan([_paths_batch([big, blob_scenes["corrupt"], other])], card, options)
        )
    )
    alone = [
        pa.Table.from_batches(
            list(tasks.detect_units(units.slice(i, 1).to_batches(), options, get_detector))
        )
        for i in range(units.num_rows)
    ]
    opened: list[str] = []
    original_init = reader_module.ImageReader.__init__

    def counting_init(self: Any, ref: Any) -> None:
        opened.append(ref.path)
        original_init(self, ref)

    monkeypatch.setattr(reader_module.ImageReader, "__init__", counting_init)
    together = pa.Table.from_batches(
        list(tasks.detect_units(units.to_batches(), options, get_detector))
    )
    assert opened == [big, other]  # one reader per run of units; the error row opens nothing
    assert together.num_rows == units.num_rows
    for i, one in enumerate(alone):
        row, expected = together.slice(i, 1).to_pylist()[0], one.to_pylist()[0]
        assert {k: row[k] for k in ("path", "unit_index", "error_type")} == {
            k: expected[k] for k in ("path", "unit_index", "error_type")
        }
        if expected["raw"] is not None:
            assert tasks.from_ipc(row["raw"]).equals(tasks.from_ipc(expected["raw"]))
    assert sum(tasks.from_ipc(r).num_rows for r in together.column("raw").to_pylist() if r) > 10


def test_a_bad_image_becomes_one_error_row(blob_scenes: dict[str, Any], blob_model: Path) -> None:
    from skyscan.detectors import get_detector

    options = blob_options(blob_model)
    card = get_detector(options.recipe).card
    missing = os.path.join(str(blob_scenes["root"]), "gone.tif")
    units = pa.Table.from_batches(
        list(tasks.open_and_plan([_paths_batch([blob_scenes["corrupt"], missing])], card, options))
    )
    assert units.column("error_type").to_pylist() == ["ImageReadError", "ImageReadError"]
    results = pa.Table.from_batches(
        list(tasks.detect_units(units.slice(0, 1).to_batches(), options, get_detector))
    )
    packed = tasks.finalize_group(results, card, "r", options)
    row = packed.to_pylist()[0]
    assert (row["status"], row["error_stage"], row["n_detections"]) == ("error", "read", 0)
    errors = pa.Table.from_batches(list(tasks.unpack_errors(packed.to_batches(), "r")))
    assert errors.column_names == ERROR_SCHEMA.names and errors.num_rows == 1


def test_a_missing_unit_fails_the_image_instead_of_writing_half(
    blob_scenes: dict[str, Any], blob_model: Path
) -> None:
    from skyscan.detectors import get_detector

    big = next(p for p in blob_scenes["paths"] if p.endswith("utm_big.tif"))
    options = blob_options(blob_model, chips_per_unit=8)
    card = get_detector(options.recipe).card
    units = pa.Table.from_batches(list(tasks.open_and_plan([_paths_batch([big])], card, options)))
    results = pa.Table.from_batches(
        list(tasks.detect_units(units.slice(1).to_batches(), options, get_detector))
    )
    row = tasks.finalize_group(results, card, "r", options).to_pylist()[0]
    assert row["status"] == "error" and "work units" in row["error_message"]


def test_cli_without_java_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blob_scenes: dict[str, Any], blob_model: Path
) -> None:
    from click.testing import CliRunner

    from skyscan.cli import cli

    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-such-jdk"))
    scene = next(p for p in blob_scenes["paths"] if p.endswith("utm_a.tif"))
    result = CliRunner().invoke(
        cli,
        [
            "detect",
            scene,
            "-o",
            str(tmp_path / "out"),
            "--model",
            str(blob_model),
            "--engine",
            "spark",
            "--master",
            "local[2]",
        ],
    )
    assert result.exit_code == 1
    assert "Java 17+" in result.output and "openjdk-17-jre-headless" in result.output


def test_zone_cover_holds_the_cell_of_every_point_inside() -> None:
    """The H3 equi-join can only be exact if a zone's cover holds every inside point's cell."""
    import numpy as np
    import shapely

    from skyscan.analytics.h3cells import h3_cells
    from skyscan.engines.spark.analytics import zone_cells

    zones = [
        shapely.Polygon([(4.40, 51.90), (4.47, 51.91), (4.43, 51.95)]),  # a triangle in Rotterdam
        shapely.box(8.5400, 47.3700, 8.5401, 47.3701),  # far smaller than a cell
        shapely.Point(8.55, 47.38),
    ]
    zi, cells = zone_cells(list(shapely.to_wkb(np.asarray(zones, dtype=object))), 8)
    assert set(zi.tolist()) == {0, 1, 2}
    rng = np.random.default_rng(3)
    for k, zone in enumerate(zones):
        minx, miny, maxx, maxy = zone.bounds
        lon = rng.uniform(minx, maxx, 400) if maxx > minx else np.full(1, minx)
        lat = rng.uniform(miny, maxy, 400) if maxy > miny else np.full(1, miny)
        inside = shapely.intersects_xy(zone, lon, lat)
        got = h3_cells(lon=lon[inside], lat=lat[inside], res=8).astype(np.int64)
        assert inside.any() and set(got.tolist()) <= set(cells[zi == k].tolist()), k
