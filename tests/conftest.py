"""Shared fixtures. Tests that need the real imagery use ``shared_data`` and skip with a
clear reason when ``../shared/data`` is absent; unit tests make tiny rasters themselves
(``tests/rasters.py``)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # make ``rasters`` importable from tests

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SKYSCAN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the real imagery (``../shared/data``), or skip."""
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip(f"real imagery not found at {SHARED_DATA} (set SKYSCAN_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One real headless Chromium for every browser test (Debian's ``chromium`` driven by
    ``playwright``; its own browser downloads are never used), or skip. One per session:
    Playwright's sync API refuses a second one while the first is running."""
    from skyscan.viz.headless import CHROMIUM, launch_chromium

    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.skip(f"headless Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()
