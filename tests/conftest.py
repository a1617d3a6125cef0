"""Shared fixtures. Tests that need the real imagery use ``shared_data`` and skip with a
clear reason when ``../shared/data`` is absent; unit tests make tiny rasters themselves
(``tests/rasters.py``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
