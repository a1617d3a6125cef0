"""The shipped model on the held-out KIT street (seqC, never seen in training), through
``skyscan evaluate`` and the real pipeline. A floor well under the card's figure catches
a broken model, export or pipeline change; the card records the exact figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from skyscan.cli import cli
from skyscan.detectors.card import load_card
from skyscan.detectors.registry import BUILTIN_DIR

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


def test_vehicles_on_kit_seqC(shared_data: Path, tmp_path: Path) -> None:
    if not (BUILTIN_DIR / "vehicles.onnx").is_file():
        pytest.skip("no shipped vehicles model")
    kit = shared_data / "kit-ais-munich"
    report = tmp_path / "r.json"
    res = CliRunner().invoke(cli, [
        "evaluate", str(kit / "images"), "--labels", str(kit / "labels"), "--format", "yolo",
        "--list", str(kit / "splits" / "seqC_MunichStreet02-MOS74-93.txt"), "--gsd", "0.13", "-o", str(report),
    ])
    assert res.exit_code == 0, res.output
    data = json.loads(report.read_text())
    car = data["classes"]["car"]
    assert car["n_labels"] == 726
    assert car["ap50"] >= 0.9
    recorded = load_card(BUILTIN_DIR / "vehicles.onnx").extra.get("metrics", {}).get("kit_seqC")
    if recorded is not None:  # the card states what this command measures
        assert car["ap50"] == pytest.approx(recorded["classes"]["car"]["ap50"], abs=1e-4)
