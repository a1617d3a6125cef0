"""Test-time mirroring (``tta``): the heatmap of a chip and of its mirror image, averaged."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from skyscan.detectors import DetectorRecipe, get_detector
from skyscan.detectors.card import load_card
from skyscan.detectors.onnx_backend import OnnxDetector
from skyscan.detectors.registry import resolve_model
from skyscan.errors import ModelError


@pytest.fixture(scope="module")
def chips() -> np.ndarray:
    """Two chips, not square, with bright car-sized rectangles on a textured ground."""
    rng = np.random.default_rng(3)
    out = rng.integers(60, 120, (2, 96, 136, 3), dtype=np.uint8)
    out[0, 30:38, 20:38] = 230
    out[1, 50:58, 90:110] = (40, 40, 200)
    return out


def test_tta_averages_the_chip_and_its_mirror_image(chips: np.ndarray) -> None:
    path = resolve_model("vehicles")
    plain = OnnxDetector(path, threads=1)
    mirrored = OnnxDetector(path, threads=1, tta=True)
    raw = plain.run_raw(chips)
    raw_of_mirror = plain.run_raw(np.ascontiguousarray(chips[:, :, ::-1]))
    got = mirrored.run_raw(chips)
    for name in ("heatmap", "wh"):
        want = (raw[name] + raw_of_mirror[name][..., ::-1]) / 2
        np.testing.assert_allclose(got[name], want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got["offset"], raw["offset"])
    assert not np.allclose(got["heatmap"], raw["heatmap"])  # the mirror changed something


def test_tta_heatmap_is_the_same_for_a_chip_and_its_mirror(chips: np.ndarray) -> None:
    detector = OnnxDetector(resolve_model("vehicles"), threads=1, tta=True)
    heat = detector.run_raw(chips)["heatmap"]
    heat_of_mirror = detector.run_raw(np.ascontiguousarray(chips[:, :, ::-1]))["heatmap"]
    np.testing.assert_allclose(heat, heat_of_mirror[..., ::-1], rtol=1e-5, atol=1e-6)


def test_the_recipe_builds_a_mirroring_detector() -> None:
    detector = get_detector(DetectorRecipe(tta=True))
    assert isinstance(detector, OnnxDetector) and detector.tta


def test_tta_needs_centernet_outputs() -> None:
    path = resolve_model("vehicles")
    card = replace(load_card(path), output_format="boxes")
    with pytest.raises(ModelError, match="CenterNet"):
        OnnxDetector(path, card=card, tta=True)
