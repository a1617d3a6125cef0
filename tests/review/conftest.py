"""Fixtures for the review tests: the tiny scene and a real headless Chromium (offline)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "viz"))  # map_samples: the Chromium settings
from map_samples import CHROMIUM, CHROMIUM_ARGS
from review_samples import write_scene


@pytest.fixture
def scene(tmp_path: Path) -> tuple[Path, Path]:
    return write_scene(tmp_path / "scene")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.skip(f"headless Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
