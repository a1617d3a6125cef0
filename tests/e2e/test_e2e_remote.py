"""``skyscan detect`` and ``skyscan inspect`` on remote rasters, through real servers on
loopback started here: an HTTP server that honours Range requests (with faults) and
moto's S3 server read through GDAL's ``/vsis3/``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from affine import Affine
from e2e_support import blank, read_outputs, skyscan

from rasters import write_cog
from remote_servers import Fault, RangeServer, moto_s3, set_env

CRS = "EPSG:2056"
SIGNED = "?X-Amz-Signature=TOPSECRET&X-Amz-Credential=KEYID"


@pytest.fixture(scope="module")
def www(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("www")
    rng = np.random.default_rng(7)
    for k, name in enumerate(("a", "b", "c")):
        blobs = [
            (int(c), int(r), int(rng.integers(0, 3))) for c, r in rng.integers(20, 492, (12, 2))
        ]
        t = Affine(0.5, 0, 2_683_000 + 300 * k, 0, -0.5, 1_248_000)
        # faint noise, so that tiles are large enough for a connection to drop in one
        noise = rng.integers(0, 6, (3, 512, 512), dtype=np.uint8)
        write_cog(
            root / f"{name}.tif", np.maximum(blank(512, 512, blobs), noise), t, CRS, blocksize=128
        )
    return root


@pytest.fixture(scope="module")
def server(www: Path) -> Iterator[RangeServer]:
    with RangeServer(www) as srv:
        yield srv


@pytest.fixture(scope="module")
def local_run(www: Path, blob_model: Path, tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    out = tmp_path_factory.mktemp("local") / "out"
    res = skyscan("-q", "detect", www / "a.tif", www / "b.tif", "-o", out, "--model", blob_model)
    assert res.returncode == 0, res.stderr
    return read_outputs(out)[0]


def _comparable(table: pa.Table) -> list[tuple[Any, ...]]:
    cols = ["image_id", "class_name", "px_xmin", "px_ymin", "px_xmax", "px_ymax", "lon", "lat"]
    return sorted(zip(*(table.column(c).to_pylist() for c in cols), strict=True))


def _no_secret(outdir: Path) -> None:
    for file in outdir.rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            assert b"TOPSECRET" not in data and b"KEYID" not in data, file


def test_http_run_equals_local_run_and_redacts(
    server: RangeServer, local_run: pa.Table, blob_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    urls = [server.url("a.tif") + SIGNED, server.url("b.tif")]
    res = skyscan("-v", "detect", *urls, "-o", out, "--model", blob_model)
    assert res.returncode == 0, res.stderr
    det, err, manifest = read_outputs(out)
    assert err.num_rows == 0
    assert _comparable(det) == _comparable(local_run)
    assert set(det.column("image_path").to_pylist()) == {
        server.url("a.tif") + "?<redacted>",
        server.url("b.tif"),
    }
    assert "TOPSECRET" not in res.stderr and "KEYID" not in res.stderr
    assert all("TOPSECRET" not in i for i in manifest["inputs"] + manifest["images"])
    _no_secret(out)


def test_http_faults_are_error_rows_and_resume_finishes_what_was_cut(
    server: RangeServer,
    local_run: pa.Table,
    blob_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GDAL_HTTP_RETRY_DELAY", "0.05")
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "1")
    out = tmp_path / "out"
    # b's header arrives, then the server drops the connection on its tiles; c is gone
    server.fault("b.tif", Fault(disconnect_after=17_000))
    server.fault("c.tif", Fault(status=404))
    try:
        urls = [
            server.url("a.tif"),
            server.url("b.tif"),
            server.url("c.tif") + SIGNED,
            server.url("nothere.tif"),
        ]
        res = skyscan("-q", "detect", *urls, "-o", out, "--model", blob_model)
    finally:
        server.fault("b.tif", None)
        server.fault("c.tif", None)
    assert res.returncode == 3, res.stderr
    det, err, _ = read_outputs(out)
    errors = {
        p.rsplit("/", 1)[-1]: (t, m)
        for p, t, m in zip(
            err.column("path").to_pylist(),
            err.column("error_type").to_pylist(),
            err.column("message").to_pylist(),
            strict=True,
        )
    }
    assert set(errors) == {"b.tif", "c.tif?<redacted>", "nothere.tif"}, errors
    assert errors["b.tif"][0] == "RemoteReadError" and "stopped answering" in errors["b.tif"][1]
    assert "not found (HTTP 404)" in errors["c.tif?<redacted>"][1]
    assert set(det.column("image_id").to_pylist()) == {"a"}
    _no_secret(out)

    # the server is well again: --resume redoes b (a transient failure), not a, and keeps
    # the lasting 404s as they were
    res = skyscan("-q", "detect", *urls, "-o", out, "--model", blob_model, "--resume")
    assert res.returncode == 3, res.stderr
    det, err, manifest = read_outputs(out)
    assert sorted(p.rsplit("/", 1)[-1] for p in err.column("path").to_pylist()) == [
        "c.tif?<redacted>",
        "nothere.tif",
    ]
    assert _comparable(det) == _comparable(local_run)
    assert manifest["resumed"] is True


def test_s3_through_moto_equals_local_run(
    www: Path,
    local_run: pa.Table,
    blob_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with moto_s3("imagery") as env:
        client = env["_client"]
        for name in ("a.tif", "b.tif"):
            client.upload_file(str(www / name), "imagery", f"tiles/{name}")
        set_env(monkeypatch, env)
        out = tmp_path / "out"
        res = skyscan(
            "-q",
            "detect",
            "s3://imagery/tiles/a.tif",
            "/vsis3/imagery/tiles/b.tif",
            "s3://imagery/tiles/missing.tif",
            "-o",
            out,
            "--model",
            blob_model,
        )
        assert res.returncode == 3, res.stderr
        det, err, manifest = read_outputs(out)
        assert _comparable(det) == _comparable(local_run)
        assert err.column("path").to_pylist() == ["s3://imagery/tiles/missing.tif"]
        assert "HTTP 404" in err.column("message")[0].as_py()
        text = json.dumps(manifest) + (out / "detections.geojson").read_text()
        assert env["AWS_SECRET_ACCESS_KEY"] not in text and env["AWS_ACCESS_KEY_ID"] not in text
        _no_secret(out)


def test_inspect_describes_remote_images(server: RangeServer) -> None:
    res = skyscan("inspect", "--json", server.url("a.tif") + SIGNED, server.url("gone.tif"))
    assert res.returncode == 3, res.stderr
    assert "TOPSECRET" not in res.stdout + res.stderr
    records = {r["path"].rsplit("/", 1)[-1]: r for r in json.loads(res.stdout)}
    assert records["a.tif?<redacted>"]["width"] == 512
    assert records["a.tif?<redacted>"]["crs"] == CRS
    assert "HTTP 404" in records["gone.tif"]["message"]
