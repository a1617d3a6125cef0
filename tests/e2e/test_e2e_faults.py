"""Regressions found by the fault-injection harness (``benchmarks/fault/harness.py``), each
through the real CLI: a fault costs at most its own input, never the run, and every exit
is one line and a documented code."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_support import blank, read_outputs, skyscan, write_raster, write_scenes

from rasters import write_geotiff

LOCK_FILE = ".skyscan.lock"  # skyscan.run_lock.LOCK_FILE


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scenes(tmp_path_factory.mktemp("faults") / "images", 3)


def _copy(images: Path, tmp_path: Path) -> Path:
    d = tmp_path / "images"
    shutil.copytree(images, d)
    return d


def _no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert len(stderr.strip().splitlines()) <= 2, stderr  # the message (and a progress line)


@pytest.mark.parametrize("sidecar", ["scene_1.tif.xml", "scene_1.tif.aux.xml"])
def test_a_sidecar_in_an_unknown_encoding_is_its_image_error(
    images: Path, blob_model: Path, tmp_path: Path, sidecar: str
) -> None:
    d = _copy(images, tmp_path)
    (d / sidecar).write_text('<?xml version="1.0" encoding="bogus-enc"?><metadata/>')
    out = tmp_path / "out"
    res = skyscan("-q", "detect", d, "-o", out, "--model", blob_model)
    assert res.returncode == 3, res.stderr
    _no_traceback(res.stderr)
    dets, errs, _ = read_outputs(out)
    assert errs.column("path").to_pylist() == [str(d / "scene_1.tif")]
    assert sidecar in errs.column("message")[0].as_py()
    assert set(dets.column("image_path").to_pylist()) == {
        str(d / "scene_0.tif"),
        str(d / "scene_2.tif"),
    }


def test_a_hostile_aux_xml_beside_a_png_without_georeferencing_is_its_error(
    blob_model: Path, tmp_path: Path
) -> None:
    d = tmp_path / "images"
    d.mkdir()
    write_raster(d / "a.png", blank(64, 48, [(20, 20, 0)]), "PNG")
    write_raster(d / "b.png", blank(64, 48, [(20, 20, 0)]), "PNG")
    (d / "b.png.aux.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><PAMDataset>&b;</PAMDataset>'
    )
    out = tmp_path / "out"
    res = skyscan("-q", "detect", d, "-o", out, "--model", blob_model, "--gsd", "0.5")
    assert res.returncode == 3, res.stderr
    _, errs, _ = read_outputs(out)
    assert errs.column("path").to_pylist() == [str(d / "b.png")]
    assert errs.column("error_type").to_pylist() == ["MetadataError"]


def test_a_second_run_on_a_locked_directory_is_refused_naming_the_holder(
    images: Path, blob_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom skyscan.run_lock import output_lock\n"
            "with output_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(60)",
            out,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        res = skyscan("detect", images, "-o", out, "--model", blob_model, "--overwrite")
        assert res.returncode == 1, res.stderr
        _no_traceback(res.stderr)
        assert f"pid {holder.pid}" in res.stderr and "another skyscan run" in res.stderr
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]
    finally:
        holder.kill()
        holder.wait()
    # the holder was killed: its lock is stale and the next run takes it over
    res = skyscan("detect", images, "-o", out, "--model", blob_model, "--overwrite")
    assert res.returncode == 0, res.stderr
    assert not (out / LOCK_FILE).exists()
    assert read_outputs(out)[0].num_rows == 3


def test_runs_started_together_never_mix(images: Path, blob_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "skyscan",
        "-q",
        "detect",
        str(images),
        "-o",
        str(out),
        "--model",
        str(blob_model),
        "--overwrite",
    ]
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    codes = [(p.wait(), p.stderr.read() if p.stderr else "") for p in procs]
    assert all(code in (0, 1) for code, _ in codes), codes
    assert any(code == 0 for code, _ in codes), codes
    for code, err in codes:
        if code == 1:
            assert "another skyscan run" in err, err
    dets, errs, manifest = read_outputs(out)
    assert dets.num_rows == 3 and errs.num_rows == 0
    assert set(dets.column("run_id").to_pylist()) == {manifest["run_id"]}


@pytest.mark.parametrize("kind", ["under_a_file", "read_only", "proc"])
def test_an_unwritable_output_directory_is_one_line_and_exit_1(
    images: Path, blob_model: Path, tmp_path: Path, kind: str
) -> None:
    if kind == "under_a_file":
        (tmp_path / "afile").write_text("x")
        out = tmp_path / "afile" / "sub"
    elif kind == "read_only":
        out = tmp_path / "ro"
        out.mkdir(mode=0o555)
        # root writes into a 0555 directory: a read-only mount stops it
        mount = ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(out)]
        if os.geteuid() == 0 and subprocess.run(mount).returncode:
            pytest.skip("root, and no read-only tmpfs mount here")
    else:
        out = Path("/proc/skyscan-out")
    try:
        res = skyscan("detect", images, "-o", out, "--model", blob_model)
    finally:
        if kind == "read_only" and os.geteuid() == 0:
            subprocess.run(["umount", str(out)], check=False)
    assert res.returncode == 1, res.stderr
    _no_traceback(res.stderr)
    assert "cannot create or write the output directory" in res.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--chip-size", "4"], "multiple of 8"),
        (["--chip-size", "7"], "multiple of 8"),
        (["--chip-size", "12"], "multiple of 8"),
        (["--chip-size", "1000001"], "at most 8192"),
        (["--chip-size", "1000000"], "at most 8192"),
        (["--edge-pad", "1000000000"], "'edge_pad' must be less than the 1024 px chip"),
        (["--score-threshold", "nan"], "not a finite number"),
        (["--overlap", "nan"], "not a finite number"),
        (["--gsd", "inf"], "not a finite number"),
        (["--gsd", "1e-300"], "between 0.001 and 10000"),
        (["--gsd", "1e9"], "between 0.001 and 10000"),
        (["--sample-ratio", "nan"], "not a finite number"),
    ],
)
def test_bad_option_values_are_one_usage_error_before_any_image(
    images: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    out = tmp_path / "out"
    res = skyscan(
        "detect", images, "-o", out, "--model", "vehicles", *args
    )  # chips: multiples of 8 up to 8192
    assert res.returncode == 2, res.stderr
    assert needle in res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists()


@pytest.mark.parametrize("existing", [False, True])
def test_a_model_name_typo_leaves_outdir_as_found(
    images: Path, blob_model: Path, tmp_path: Path, existing: bool
) -> None:
    out = tmp_path / "out"
    if existing:
        out.mkdir()
    res = skyscan("detect", images, "-o", out, "--model", "vehicels")
    assert res.returncode == 1, res.stderr
    _no_traceback(res.stderr)
    assert "vehicels" in res.stderr
    assert out.exists() == existing and (not existing or list(out.iterdir()) == [])
    assert (
        skyscan("detect", images, "-o", out, "--model", blob_model).returncode == 0
    )  # the corrected command


@pytest.mark.parametrize("existing", [False, True])
def test_a_run_that_fails_before_its_first_image_leaves_outdir_as_found(
    images: Path, blob_model: Path, tmp_path: Path, existing: bool
) -> None:
    out = tmp_path / "out"
    if existing:
        out.mkdir()
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    shutil.copy(blob_model.with_suffix(".json"), broken.with_suffix(".json"))
    res = skyscan("detect", images, "-o", out, "--model", broken)
    assert res.returncode == 1, res.stderr
    _no_traceback(res.stderr)
    assert out.exists() == existing
    if existing:
        assert list(out.iterdir()) == []
    res = skyscan("detect", images, "-o", out, "--model", blob_model)  # the corrected command
    assert res.returncode == 0, res.stderr


def test_resume_removes_the_temporary_files_of_a_killed_run(
    images: Path, blob_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    res = skyscan("detect", images, "-o", out, "--model", blob_model)
    assert res.returncode == 0
    clean = read_outputs(out)
    # what a run killed while writing its outputs leaves: parts, half-written files, no run.json
    for name in ("detections.parquet", "run.json"):
        (out / name).unlink()
    (out / "_parts").mkdir(exist_ok=True)
    leftovers = [out / ".detections.parquet.k1l2.tmp", out / "_parts" / ".abc.det.arrow.x9y8.tmp"]
    for p in leftovers:
        p.write_bytes(b"half")
    res = skyscan("detect", images, "-o", out, "--model", blob_model, "--resume")
    assert res.returncode == 0, res.stderr
    assert not any(p.exists() for p in leftovers)
    assert not list(out.rglob("*.tmp"))
    assert read_outputs(out)[0].drop(["run_id"]).equals(clean[0].drop(["run_id"]))


def test_a_killed_run_resumes_to_the_clean_result(
    images: Path, blob_model: Path, tmp_path: Path
) -> None:
    clean_out = tmp_path / "clean"
    assert skyscan("detect", images, "-o", clean_out, "--model", blob_model).returncode == 0
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "skyscan",
            "-q",
            "detect",
            str(images),
            "-o",
            str(out),
            "--model",
            str(blob_model),
        ]
    )
    time.sleep(1.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    res = skyscan("detect", images, "-o", out, "--model", blob_model, "--resume")
    assert res.returncode == 0, res.stderr
    got, want = read_outputs(out), read_outputs(clean_out)
    assert got[0].drop(["run_id"]).equals(want[0].drop(["run_id"]))
    assert not (out / LOCK_FILE).exists()


def test_quiet_keeps_gdal_warnings_of_a_damaged_tiff_off_stderr(
    images: Path, blob_model: Path, tmp_path: Path
) -> None:
    d = _copy(images, tmp_path)
    write_geotiff(
        d / "damaged.tif",
        64,
        48,
        data=blank(64, 48, [(20, 20, 0)]),
        compress="deflate",
        predictor=2,
    )
    raw = (d / "damaged.tif").read_bytes()
    entry = b"\x3d\x01\x03\x00"  # the Predictor tag (317) as a SHORT: declare it ASCII instead
    assert entry in raw
    (d / "damaged.tif").write_bytes(raw.replace(entry, b"\x3d\x01\x02\x00", 1))
    res = skyscan("-q", "detect", d, "-o", tmp_path / "out", "--model", blob_model)
    assert res.returncode in (0, 3), res.stderr
    assert res.stderr == ""


def test_a_refused_fresh_run_leaves_a_killed_runs_state_alone(
    images: Path, blob_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    (out / "_parts").mkdir(parents=True)
    state = '{"run_id": "0123456789ab", "options_digest": "x", "engine": "local"}'
    (out / "_parts" / "state.json").write_text(state)  # a run killed before its first image
    res = skyscan("detect", images, "-o", out, "--model", blob_model)
    assert res.returncode == 1 and "not empty" in res.stderr, res.stderr
    assert (out / "_parts" / "state.json").read_text() == state
