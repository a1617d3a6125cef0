"""Every command, given a bad input, ends with one line on stderr (``-q``) naming what is
wrong and a documented exit code (1: could not run, 2: usage, 3: some inputs failed),
never a traceback. The real entry point in a child process, as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from skyscan.detectors.synthetic import build_blob_model

# click's usage errors frame their message with these lines; detect, inspect and plan
# name each failed input on a line of its own
_FRAME = ("Usage: ", "Try '", "FAILED ")


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    noise = bytes(range(256)) * 12
    (d / "noise.parquet").write_bytes(noise)
    (d / "noise.geojson").write_bytes(noise)
    (d / "noise.tif").write_bytes(noise)
    model = build_blob_model(d / "model" / "blobs.onnx", input_size=64, gsd=0.5)
    broken = d / "broken"
    broken.mkdir()
    (broken / "blobs.json").write_bytes((model.parent / "blobs.json").read_bytes())
    (broken / "blobs.onnx").write_bytes(noise)
    return {"dir": d, "model": model, "broken": broken / "blobs.onnx"}


def _cases() -> list[tuple[str, list[str], int, str]]:
    """(id, arguments with {placeholders}, exit code, a word the message must hold)."""
    return [
        (
            "detect-missing-input",
            ["detect", "{d}/nothere.tif", "-o", "{d}/o1", "--model", "{model}"],
            3,
            "nothere.tif",
        ),
        (
            "detect-broken-model",
            ["detect", "{d}/noise.tif", "-o", "{d}/o2", "--model", "{broken}"],
            1,
            "blobs.onnx",
        ),
        (
            "detect-spark-missing-model",
            [
                "detect",
                "{d}/noise.tif",
                "-o",
                "{d}/o3",
                "--engine",
                "spark",
                "--model",
                "{d}/none.onnx",
            ],
            1,
            "none.onnx",
        ),
        (
            "detect-spark-bad-option",
            [
                "detect",
                "{d}/noise.tif",
                "-o",
                "{d}/o4",
                "--engine",
                "spark",
                "--model",
                "{model}",
                "--chip-size",
                "7",
            ],
            2,
            "chip",
        ),
        ("inspect", ["inspect", "{d}/noise.tif"], 3, "noise.tif"),
        ("plan", ["plan", "{d}/nothere.tif"], 3, "nothere.tif"),
        (
            "within",
            ["within", "{d}/noise.parquet", "{d}/noise.geojson", "-o", "{d}/w.parquet"],
            1,
            "noise",
        ),
        (
            "join",
            ["join", "{d}/noise.parquet", "{d}/noise.geojson", "-o", "{d}/j.parquet"],
            1,
            "noise",
        ),
        (
            "aggregate",
            ["aggregate", "{d}/noise.parquet", "--h3-res", "7", "-o", "{d}/a.parquet"],
            1,
            "noise.parquet",
        ),
        (
            "cluster",
            ["cluster", "{d}/noise.parquet", "--eps-m", "5", "-o", "{d}/c.parquet"],
            1,
            "noise.parquet",
        ),
        ("map", ["map", "{d}/noise.parquet", "-o", "{d}/m.html"], 1, "noise.parquet"),
        ("review", ["review", "{d}/noise.parquet", "-o", "{d}/r.html"], 1, "noise.parquet"),
        (
            "evaluate",
            [
                "evaluate",
                "{d}/nothere",
                "--model",
                "{model}",
                "--labels",
                "{d}/noise.geojson",
                "--format",
                "coco",
            ],
            2,
            "nothere",
        ),
        ("convert", ["convert", "{d}/nothere.pt"], 2, "nothere.pt"),
        ("train", ["train", "{d}/nothere", "-o", "{d}/m.onnx"], 2, "nothere"),
        ("models", ["models", "--bogus"], 2, "--bogus"),
        (
            "render",
            ["render", "{d}/noise.tif", "-o", "{d}/rdir", "--model", "{model}"],
            1,
            "noise.tif",
        ),
        (
            "quantize",
            ["quantize", "{model}", "--data", "{d}/nothere.json", "-o", "{d}/q.onnx"],
            2,
            "nothere.json",
        ),
        ("set-threshold", ["set-threshold", "{model}", "{d}/nothere.json"], 2, "nothere.json"),
        (
            "train-binary-spec",
            ["train", "--data", "{d}/noise.parquet", "-o", "{d}/m.onnx"],
            1,
            "noise.parquet: cannot read dataset spec",
        ),
        (
            "set-threshold-binary",
            ["set-threshold", "{model}", "{d}/noise.parquet"],
            1,
            "noise.parquet: cannot read a skyscan evaluate report",
        ),
    ]


@pytest.mark.parametrize(
    ("args", "code", "word"), [c[1:] for c in _cases()], ids=[c[0] for c in _cases()]
)
def test_a_bad_input_ends_in_one_line_and_a_documented_code(
    bad: dict[str, Path], args: list[str], code: int, word: str
) -> None:
    argv = [a.format(d=bad["dir"], model=bad["model"], broken=bad["broken"]) for a in args]
    res = subprocess.run(
        [sys.executable, "-m", "skyscan", "-q", *argv], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == code, res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    lines = [
        line for line in res.stderr.splitlines() if line.strip() and not line.startswith(_FRAME)
    ]
    assert len(lines) <= 1, res.stderr
    assert word in res.stderr + res.stdout, res.stderr  # inspect and plan report on stdout
