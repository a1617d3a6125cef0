"""The spark engine on remote rasters: executors read URLs themselves (no pixels through
the driver) and give the local engine's rows and error rows, through a real HTTP server
on loopback that honours Range requests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from spark_helpers import (
    CHIPS_PER_UNIT,
    assert_same_detections,
    blob_options,
    error_keys,
    run_local,
)

from remote_servers import Fault, RangeServer
from skyscan.run_state import PartStore

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def server(blob_scenes: dict[str, Any]) -> Iterator[RangeServer]:
    with RangeServer(blob_scenes["root"]) as srv:
        yield srv


def test_spark_reads_urls_like_the_local_engine(
    local_spark: Any,
    blob_scenes: dict[str, Any],
    blob_model: Path,
    server: RangeServer,
    tmp_path: Path,
) -> None:
    from skyscan.engines.spark.driver import run_detect

    names = sorted(
        Path(p).name for p in blob_scenes["paths"] if p.endswith(".tif") and "corrupt" not in p
    )
    urls = [server.url(n) for n in names] + [server.url("gone.tif?sig=SECRET")]
    server.fault("gone.tif", Fault(status=404))
    options = blob_options(blob_model, chips_per_unit=CHIPS_PER_UNIT)
    local_det, local_err = run_local(urls, options, tmp_path / "local")
    server.reset()
    summary = run_detect(urls, options, tmp_path / "spark", spark=local_spark, run_id="spark-run")
    det, err = PartStore(tmp_path / "spark", "spark-run").collect(urls)
    assert local_det.num_rows > 20
    assert_same_detections(det, local_det)
    assert (
        error_keys(err)
        == error_keys(local_err)
        == [(server.url("gone.tif?<redacted>"), "read", "RemoteReadError")]
    )
    assert summary["images_ok"] == len(names) and summary["work_units"] > len(names)
    assert "SECRET" not in str(err.to_pylist())
    assert isinstance(det, pa.Table) and server.stats()["requests"] > 0


def test_spark_with_an_area_of_interest_matches_the_local_engine(
    local_spark: Any, blob_scenes: dict[str, Any], blob_model: Path, tmp_path: Path
) -> None:
    from dataclasses import replace

    import shapely

    from skyscan.engines.spark.driver import run_detect
    from skyscan.geo.aoi import AreaOfInterest

    # the top 80 m of the first UTM scene and the west 60 m of the second; the LV95 scene
    # misses it
    area = AreaOfInterest(
        shapely.to_wkb(shapely.box(594_000, 5_757_920, 594_560, 5_758_000)), "EPSG:32631"
    )
    paths = [
        p for p in blob_scenes["paths"] if p.endswith(("utm_a.tif", "utm_big.tif", "lv95.tif"))
    ]
    options = replace(blob_options(blob_model, chips_per_unit=CHIPS_PER_UNIT), aoi=area)
    local_det, local_err = run_local(paths, options, tmp_path / "local")
    run_detect(paths, options, tmp_path / "spark", spark=local_spark, run_id="spark-run")
    store = PartStore(tmp_path / "spark", "spark-run")
    det, err = store.collect(paths)
    assert_same_detections(det, local_det)
    assert err.num_rows == local_err.num_rows == 0
    assert [s["path"] for s in store.skipped(paths)] == [p for p in paths if p.endswith("lv95.tif")]
    assert det.num_rows > 0


def test_spark_cli_reads_s3_like_the_local_engine(
    blob_scenes: dict[str, Any], blob_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``skyscan detect --engine spark`` over ``s3://`` and ``/vsis3/`` paths (moto's S3
    server on loopback): the executors read S3 with the credentials of their own
    environment, as on a cluster, and give the local engine's rows and error rows."""
    import json
    import subprocess
    import sys

    import pyarrow.parquet as pq

    from remote_servers import moto_s3, set_env

    names = sorted(
        Path(p).name for p in blob_scenes["paths"] if p.endswith(".tif") and "corrupt" not in p
    )
    with moto_s3("imagery") as env:
        for name in names:
            env["_client"].upload_file(str(blob_scenes["root"] / name), "imagery", f"t/{name}")  # type: ignore[attr-defined]
        set_env(monkeypatch, env)
        inputs = [f"s3://imagery/t/{n}" for n in names[:-1]]
        inputs += [f"/vsis3/imagery/t/{names[-1]}", "s3://imagery/t/missing.tif"]
        outs = {}
        for engine in ("local", "spark"):
            out = tmp_path / engine
            args = ["detect", *inputs, "-o", str(out), "--model", str(blob_model)]
            args += ["--engine", "spark", "--master", "local[2]"] if engine == "spark" else []
            res = subprocess.run(
                [sys.executable, "-m", "skyscan", "-q", *args],
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert res.returncode == 3, res.stderr  # one input missing
            outs[engine] = out
    local = pq.read_table(outs["local"] / "detections.parquet")
    assert local.num_rows > 20
    assert_same_detections(pq.read_table(outs["spark"] / "detections.parquet"), local)
    for out in outs.values():
        errors = pq.read_table(out / "errors.parquet")
        assert errors.column("path").to_pylist() == ["s3://imagery/t/missing.tif"]
        text = json.dumps(json.loads((out / "run.json").read_text()))
        assert env["AWS_SECRET_ACCESS_KEY"] not in text
