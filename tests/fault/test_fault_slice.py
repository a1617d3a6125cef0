"""A short seeded slice of the fault-injection harness (``benchmarks/fault/harness.py``):
the same attempts and checks as its long run, every fast kind twice in turn (about 40 s on
an idle 2-core machine; a count, not a time budget, so a busy machine tries every kind
too). The Spark kinds start JVMs and are left to the harness's long runs."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

HARNESS = Path(__file__).resolve().parents[2] / "benchmarks" / "fault" / "harness.py"
SLICE_SEED = 20
SLICE_ATTEMPTS = 2 * 7  # every fast kind twice
SLICE_BUDGET_S = 600.0  # the count ends the slice; the pytest timeout guards a hang


def _harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fault_harness", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fault_harness"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(600)
def test_a_seeded_slice_of_the_harness_finds_nothing(tmp_path: Path) -> None:
    harness = _harness()
    jsonl = tmp_path / "attempts.jsonl"
    summary = harness.run_harness(
        SLICE_SEED,
        SLICE_BUDGET_S,
        SLICE_ATTEMPTS,
        harness.FAST_KINDS,
        jsonl,
        tmp_path / "work",
        in_turn=True,
    )
    failures = [
        json.loads(line) for line in jsonl.read_text().splitlines() if not json.loads(line)["ok"]
    ]
    assert summary["failures"] == 0, json.dumps(failures[:3], indent=1)
    assert summary["attempts"] == SLICE_ATTEMPTS
    ran = set(summary["attempts_by_kind"])
    assert ran == set(harness.FAST_KINDS) - set(summary["skipped_kinds"]), summary[
        "attempts_by_kind"
    ]
