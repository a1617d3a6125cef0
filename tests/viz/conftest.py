"""Fixtures for the map tests: sample detections and a real headless Chromium.

Browser tests need Debian's ``chromium`` (``apt-get install -y chromium``) at
``/usr/bin/chromium`` (or ``$SKYSCAN_CHROMIUM``) and the ``playwright`` Python package
(its own browser downloads are never used). They skip with that reason otherwise.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from map_samples import CHROMIUM, CHROMIUM_ARGS, sample_detections


@pytest.fixture
def detections() -> pd.DataFrame:
    return sample_detections()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.skip(f"headless Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
