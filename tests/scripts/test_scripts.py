"""The two commands on the README's first screen, run against a stub ``.venv`` that
records what they would install and run (the real installs take minutes and the
network's registry): the demo installs only what it runs, talks from its first second,
and ends pointing at the map."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

STUB = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "{log}"
if [[ "$(basename "$0")" == skyscan ]]; then
  mkdir -p out/demo && touch out/demo/detections.parquet out/demo/map.html
fi
"""


@pytest.fixture()
def repo(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the scripts beside a .venv whose python, pip and skyscan only log."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "scripts", root / "scripts")
    (root / "src" / "skyscan").mkdir(parents=True)
    log = tmp_path / "calls.log"
    log.touch()
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("python", "pip", "skyscan", "ruff", "mypy"):
        (bin_dir / name).write_text(STUB.format(log=log))
        (bin_dir / name).chmod(0o755)
    return root, log


def _run(root: Path, script: str) -> list[tuple[float, str]]:
    """Run ``script``; return its stderr/stdout lines with the time each arrived."""
    env = {**os.environ, "SKYSCAN_SHARED_DATA": str(root / "data")}
    started = time.monotonic()
    proc = subprocess.Popen(
        ["bash", f"scripts/{script}"],
        cwd=root,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    lines = [(time.monotonic() - started, line.rstrip("\n")) for line in proc.stdout]
    assert proc.wait(timeout=120) == 0, lines
    return lines


def test_demo_installs_only_what_it_runs_and_says_what_it_does(repo: tuple[Path, Path]) -> None:
    root, log = repo
    lines = _run(root, "demo.sh")
    calls = log.read_text().splitlines()
    installs = " ".join(c for c in calls if c.startswith("pip "))
    assert ".[map]" in installs
    for heavy in ("torch", "spark", "train", "dev", "keras"):
        assert heavy not in installs, installs
    assert any(c.startswith("skyscan detect ") and "--map" in c for c in calls)
    # it speaks before anything is installed, and its last line points at the map
    assert lines[0][1].startswith("skyscan demo: [1/2]") and lines[0][0] < 1.0
    assert "out/demo/map.html" in lines[-1][1]
    assert not any("debconf" in text or "Java" in text for _, text in lines)


@pytest.mark.skipif(
    not Path("/usr/bin/chromium").exists(), reason="test.sh would install chromium with apt"
)
def test_the_test_command_brings_the_heavy_extras(repo: tuple[Path, Path]) -> None:
    root, log = repo
    _run(root, "test.sh")
    calls = log.read_text().splitlines()
    installs = " ".join(c for c in calls if c.startswith("pip "))
    assert any(
        "-m mkdocs build --strict" in c for c in calls
    )  # the API reference, warnings as errors
    assert (
        "torch==2.13.0" in installs
        and "dev" in installs
        and "spark" in installs
        and "train" in installs
    )
