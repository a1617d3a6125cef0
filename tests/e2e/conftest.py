"""Fixtures of the end-to-end tests (``tests/e2e``): the tiny real ONNX blob detector.

Every test here drives the real CLI (``python -m skyscan``) in a subprocess.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # make ``e2e_support`` importable

from skyscan.detectors.synthetic import build_blob_model


@pytest.fixture(scope="session")
def blob_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 64 px blob detector that declares a GSD of 0.5 m (so chips are resampled to it)."""
    return build_blob_model(tmp_path_factory.mktemp("model") / "blobs.onnx", input_size=64, gsd=0.5)
