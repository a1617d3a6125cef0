"""Test-time augmentation (``tta``): the heatmaps of a chip's views, flipped back and averaged."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from skyscan.detectors import DetectorRecipe, get_detector
from skyscan.detectors.card import load_card
from skyscan.detectors.onnx_backend import OnnxDetector
from skyscan.detectors.registry import resolve_model
from skyscan.errors import InputError, ModelError

MIRROR, UPSIDE_DOWN = 2, 1  # NHWC axes of a chip batch


@pytest.fixture(scope="module")
def chips() -> np.ndarray:
    """Two chips, not square, with bright car-sized rectangles on a textured ground."""
    rng = np.random.default_rng(3)
    out = rng.integers(60, 120, (2, 96, 136, 3), dtype=np.uint8)
    out[0, 30:38, 20:38] = 230
    out[1, 50:58, 90:110] = (40, 40, 200)
    return out


@pytest.fixture(scope="module")
def plain() -> OnnxDetector:
    return OnnxDetector(resolve_model("vehicles"), threads=1)


def _flip(chips: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    return np.ascontiguousarray(np.flip(chips, axes)) if axes else chips


@pytest.mark.parametrize(
    ("n", "flips"), [(2, [(), (MIRROR,)]), (4, [(), (MIRROR,), (UPSIDE_DOWN,), (1, 2)])]
)
def test_tta_averages_the_plain_runs_of_each_view_flipped_back(
    chips: np.ndarray, plain: OnnxDetector, n: int, flips: list[tuple[int, ...]]
) -> None:
    got = OnnxDetector(resolve_model("vehicles"), threads=1, tta=n).run_raw(chips)
    for name in ("heatmap", "wh"):
        back = []
        for axes in flips:
            m = plain.run_raw(_flip(chips, axes))[name]
            back.append(np.flip(m, tuple(a + 1 for a in axes)) if axes else m)  # NHWC -> NCHW
        np.testing.assert_allclose(got[name], np.mean(back, axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got["offset"], plain.run_raw(chips)["offset"])
    assert not np.allclose(got["heatmap"], plain.run_raw(chips)["heatmap"])


@pytest.mark.parametrize(
    ("n", "axes"), [(2, (MIRROR,)), (4, (MIRROR,)), (4, (UPSIDE_DOWN,)), (4, (1, 2))]
)
def test_a_chip_and_its_view_give_the_same_heatmap(
    chips: np.ndarray, n: int, axes: tuple[int, ...]
) -> None:
    detector = OnnxDetector(resolve_model("vehicles"), threads=1, tta=n)
    heat = detector.run_raw(chips)["heatmap"]
    heat_of_view = detector.run_raw(_flip(chips, axes))["heatmap"]
    np.testing.assert_allclose(
        heat, np.flip(heat_of_view, tuple(a + 1 for a in axes)), rtol=1e-5, atol=1e-6
    )


def test_the_recipe_builds_an_augmenting_detector() -> None:
    detector = get_detector(DetectorRecipe(tta=4))
    assert isinstance(detector, OnnxDetector) and detector.tta == 4
    with pytest.raises(InputError, match="'tta' must be one of"):
        DetectorRecipe(tta=3)


def test_tta_needs_centernet_outputs() -> None:
    path = resolve_model("vehicles")
    card = replace(load_card(path), output_format="boxes")
    with pytest.raises(ModelError, match="CenterNet"):
        OnnxDetector(path, card=card, tta=2)
