"""What a new user reads: failed inputs named on stderr, "did you mean" for a mistyped
command, correct plurals, and shared options described the same way everywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from skyscan.cli import cli
from skyscan.detectors.synthetic import build_blob_model
from skyscan.text import plural


@pytest.fixture(scope="module")
def blob_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_blob_model(tmp_path_factory.mktemp("model") / "blobs.onnx", input_size=64, gsd=0.5)


def test_detect_names_every_failed_input_with_its_reason(tmp_path: Path, blob_model: Path) -> None:
    missing, empty = tmp_path / "nonexistent" / "foo.tif", tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(
        cli,
        [
            "detect",
            str(missing),
            str(empty),
            "-o",
            str(tmp_path / "out"),
            "--model",
            str(blob_model),
        ],
    )
    assert result.exit_code == 3, result.output
    assert re.search(
        rf"FAILED {re.escape(str(missing))} \(\w+\): \w+: .*no such file", result.stderr
    )
    assert f"FAILED {empty} (" in result.stderr
    assert "0 detections in 0 images (2 failed)" in result.stderr
    # also with -q, which prints nothing but errors
    quiet = CliRunner().invoke(
        cli, ["-q", "detect", str(missing), "-o", str(tmp_path / "q"), "--model", str(blob_model)]
    )
    assert quiet.exit_code == 3 and f"FAILED {missing}" in quiet.stderr


def test_a_mistyped_command_gets_a_suggestion() -> None:
    result = CliRunner().invoke(cli, ["detcet", "x.tif"])
    assert result.exit_code == 2 and "Did you mean 'detect'?" in result.output
    far = CliRunner().invoke(cli, ["zzzz"])
    assert (
        far.exit_code == 2
        and "No such command 'zzzz'" in far.output
        and "Did you mean" not in far.output
    )


def test_plurals() -> None:
    assert [plural(n, "image") for n in (0, 1, 2, 1500)] == [
        "0 images",
        "1 image",
        "2 images",
        "1,500 images",
    ]


def test_metadata_reads_the_same_in_inspect_and_detect() -> None:
    def described(command: str) -> str:
        text = CliRunner().invoke(cli, [command, "--help"], terminal_width=200).output
        match = re.search(r"--metadata FILE\s+(.*?)(?:\n  -|\n\n)", text, re.S)
        assert match, text
        return " ".join(match.group(1).split())

    assert described("inspect") == described("detect")
    assert "image_id" in described("detect") and "filename" in described("detect")
