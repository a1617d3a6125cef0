"""Fixtures for the review tests: the tiny scene (the headless Chromium is in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from review_samples import write_scene


@pytest.fixture
def scene(tmp_path: Path) -> tuple[Path, Path]:
    return write_scene(tmp_path / "scene")
