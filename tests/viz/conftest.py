"""Fixtures for the map tests: sample detections (the headless Chromium is in tests/conftest.py).

Browser tests need Debian's ``chromium`` (``apt-get install -y chromium``) at
``/usr/bin/chromium`` (or ``$SKYSCAN_CHROMIUM``) and the ``playwright`` Python package
(its own browser downloads are never used). They skip with that reason otherwise.
"""

from __future__ import annotations

import pandas as pd
import pytest
from map_samples import sample_detections


@pytest.fixture
def detections() -> pd.DataFrame:
    return sample_detections()
