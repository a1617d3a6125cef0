"""A short seeded slice of the fault-injection harness (``benchmarks/fault/harness.py``):
the same attempts and checks as its long run, within a minute."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

HARNESS = Path(__file__).resolve().parents[2] / "benchmarks" / "fault" / "harness.py"
SLICE_SEED = 20
SLICE_BUDGET_S = 40.0


def _harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fault_harness", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fault_harness"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(120)
def test_a_seeded_slice_of_the_harness_finds_nothing(tmp_path: Path) -> None:
    harness = _harness()
    jsonl = tmp_path / "attempts.jsonl"
    summary = harness.run_harness(SLICE_SEED, SLICE_BUDGET_S, 10**6, harness.KINDS, jsonl, tmp_path / "work")
    failures = [json.loads(line) for line in jsonl.read_text().splitlines() if not json.loads(line)["ok"]]
    assert summary["failures"] == 0, json.dumps(failures[:3], indent=1)
    assert summary["attempts"] >= 15
    for kind in ("corrupt", "kill", "concurrent", "badargs"):
        assert summary["attempts_by_kind"].get(kind, 0) >= 1, summary["attempts_by_kind"]
