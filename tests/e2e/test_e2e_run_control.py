"""Run control through the CLI: exit codes as documented (docs/usage.md, `skyscan detect --help`),
refusal of an existing OUTDIR, `--overwrite`, `--resume` (no rework, same result), and
`-q` / `-v`."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from e2e_support import read_outputs, skyscan, write_scenes


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scenes(tmp_path_factory.mktemp("ctl") / "images", 5)


@pytest.fixture(scope="module")
def first(
    images: Path, blob_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("ctl_out") / "out"
    res = skyscan("-v", "detect", images, "-o", out, "--model", blob_model)
    assert res.returncode == 0, res.stderr
    return {"out": out, "res": res, "tables": read_outputs(out)}


def _part_files(out: Path, kind: str = "*") -> list[Path]:
    """The run's checkpoint parts (``<key>.det|err.<format>``), whatever their file format."""
    return sorted((out / "_parts").glob(f"*.{kind}.*"))


def _parts(out: Path) -> dict[str, int]:
    parts = {p.name: p.stat().st_mtime_ns for p in _part_files(out)}
    assert parts, "no checkpoint parts: has their naming changed?"  # else every check passes empty
    return parts


def test_verbose_shows_progress_summary_and_each_image(first: dict[str, Any]) -> None:
    err = first["res"].stderr
    assert "5 detections in 5 images (0 failed)" in err  # the summary (also without -v)
    assert "detect: 100%" in err and "5/5" in err  # progress bar
    for i in range(5):
        assert f"scene_{i}.tif: 1 detection (" in err
    assert "5 images from 1 input (" in err
    assert first["res"].stdout == ""


def test_quiet_prints_nothing(images: Path, blob_model: Path, tmp_path: Path) -> None:
    quiet = skyscan("-q", "detect", images, "-o", tmp_path / "q", "--model", blob_model)
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == ""


def test_an_existing_outdir_is_refused_and_left_alone(
    first: dict[str, Any], images: Path, blob_model: Path
) -> None:
    out = first["out"]
    before = (out / "detections.parquet").read_bytes()
    res = skyscan("detect", images, "-o", out, "--model", blob_model)
    assert res.returncode == 1
    assert "--overwrite" in res.stderr and "--resume" in res.stderr
    assert (out / "detections.parquet").read_bytes() == before


def test_a_finished_run_leaves_only_the_documented_outputs(first: dict[str, Any]) -> None:
    names = sorted(p.name for p in first["out"].iterdir())
    assert names == ["detections.geojson", "detections.parquet", "errors.parquet", "run.json"]


def test_resume_ends_the_cleanup_a_kill_interrupted(
    first: dict[str, Any], images: Path, blob_model: Path, tmp_path: Path
) -> None:
    """Killed while the finished run removed its checkpoints (state.json already gone, a
    part left): --resume finds the run finished and removes the rest (found by the fault
    harness, kind 'kill')."""
    out = tmp_path / "out"
    shutil.copytree(first["out"], out)
    (out / "_parts").mkdir()
    (out / "_parts" / "0123456789abcdef0123.det.arrow").write_bytes(b"left over")
    res = skyscan("-q", "detect", images, "-o", out, "--model", blob_model, "--resume")
    assert res.returncode == 0, res.stderr
    assert not (out / "_parts").exists()


def test_resume_of_a_finished_run_redoes_nothing(
    first: dict[str, Any], images: Path, blob_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(first["out"], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    res = skyscan("detect", images, "-o", out, "--model", blob_model, "--resume")
    assert res.returncode == 0, res.stderr
    assert "nothing to resume" in res.stderr and "5 detections in 5 images" in res.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing redone or rewritten
    other = skyscan(
        "-q", "detect", images / "scene_0.tif", "-o", out, "--model", blob_model, "--resume"
    )
    assert (
        other.returncode == 1 and "cannot resume" in other.stderr and "--overwrite" in other.stderr
    )


def _interrupted(out: Path, images: Path, blob_model: Path) -> None:
    """A run that stopped before its outputs: here it cannot write them (errors.parquet is
    taken by a folder), so every image's part is written and the outputs are not."""
    (out / "errors.parquet").mkdir(parents=True)
    (out / "errors.parquet" / "keep").write_text("")
    res = skyscan("-q", "detect", images, "-o", out, "--model", blob_model, "--resume")
    assert res.returncode != 0
    shutil.rmtree(out / "errors.parquet")
    for name in ("detections.parquet", "detections.geojson", "run.json"):
        (out / name).unlink(missing_ok=True)


def test_resume_finishes_only_what_is_missing(
    first: dict[str, Any], images: Path, blob_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    _interrupted(out, images, blob_model)
    # as if the run died after three images: two parts never written
    lost = _part_files(out, "det")[:2]
    assert len(lost) == 2
    for p in lost:
        p.unlink()
    assert len(_parts(out)) == 3
    res = skyscan("-v", "detect", images, "-o", out, "--model", blob_model, "--resume")
    assert res.returncode == 0, res.stderr
    assert res.stderr.count(": 1 detection (") == 2  # finished images were not redone
    det = pq.read_table(out / "detections.parquet")
    assert det.drop(["run_id"]).equals(first["tables"][0].drop(["run_id"]))
    assert len(set(det.column("detection_id").to_pylist())) == det.num_rows == 5
    assert not (out / "_parts").exists()


def test_resume_refuses_other_options_but_allows_speed_settings(
    first: dict[str, Any], images: Path, blob_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    _interrupted(out, images, blob_model)
    state = (out / "_parts" / "state.json").read_bytes()
    other = skyscan(
        "-q", "detect", images, "-o", out, "--model", blob_model, "--resume", "--overlap", "0.3"
    )
    assert (
        other.returncode == 1 and "cannot resume" in other.stderr and "--overwrite" in other.stderr
    )
    assert (out / "_parts" / "state.json").read_bytes() == state and not (out / "run.json").exists()
    faster = skyscan(
        "-q", "detect", images, "-o", out, "--model", blob_model, "--resume", "--batch-size", "3"
    )
    assert faster.returncode == 0, faster.stderr
    det = pq.read_table(out / "detections.parquet")
    assert det.drop(["run_id"]).equals(first["tables"][0].drop(["run_id"]))


def test_overwrite_replaces_the_previous_run(
    first: dict[str, Any], images: Path, blob_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(first["out"], out)
    (out / "map.html").write_text("stale map of the previous run")
    (out / "my_notes.md").write_text("not skyscan's")
    res = skyscan(
        "-q", "detect", images / "scene_0.tif", "-o", out, "--model", blob_model, "--overwrite"
    )
    assert res.returncode == 0, res.stderr
    det, err, manifest = read_outputs(out)
    assert set(det.column("image_id").to_pylist()) == {"scene_0"}  # nothing left from the old run
    assert manifest["run_id"] != first["tables"][2]["run_id"] and err.num_rows == 0
    assert not (out / "map.html").exists()  # an output of the old run
    assert (out / "my_notes.md").read_text() == "not skyscan's"  # only skyscan's files are replaced


def test_overwrite_with_a_model_that_does_not_load_keeps_the_previous_run(
    first: dict[str, Any], images: Path, blob_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(first["out"], out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    broken = tmp_path / "broken"
    shutil.copytree(blob_model.parent, broken)  # the card reads well, the ONNX file does not
    (broken / blob_model.name).write_bytes(blob_model.read_bytes()[:100])
    res = skyscan(
        "-q", "detect", images, "-o", out, "--model", broken / blob_model.name, "--overwrite"
    )
    assert res.returncode == 1, res.stderr
    assert "cannot load ONNX model" in res.stderr and "Traceback" not in res.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--overlap", "0.7"], "--overlap"),
        (["--batch-size", "0"], "--batch-size"),
        (["--sample-ratio", "0"], "--sample-ratio"),
        (["--score-threshold", "1.5"], "--score-threshold"),
        (["--overwrite", "--resume"], "--overwrite and --resume"),
        (["--crs", "EPSG:99999"], "EPSG:99999"),
        (["--no-such-option"], "No such option"),
    ],
)
def test_usage_errors_exit_2_before_anything_is_written(
    images: Path, blob_model: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    out = tmp_path / "out"
    res = skyscan("detect", images, "-o", out, "--model", blob_model, *args)
    assert res.returncode == 2, res.stderr
    assert needle in res.stderr
    assert not out.exists()


def test_a_run_that_cannot_start_exits_1(images: Path, tmp_path: Path) -> None:
    res = skyscan("detect", images, "-o", tmp_path / "out", "--model", tmp_path / "missing.onnx")
    assert res.returncode == 1
    assert "missing.onnx" in res.stderr and "not found" in res.stderr


def test_exit_codes_are_documented() -> None:
    res = skyscan("detect", "--help")
    text = " ".join(res.stdout.split())
    assert res.returncode == 0
    assert "0 every input succeeded; 3 some inputs failed" in text and "2 usage error" in text
    usage = (Path(__file__).resolve().parents[2] / "docs" / "usage.md").read_text()
    assert "`3` some inputs failed" in usage and "`2` usage error" in usage
