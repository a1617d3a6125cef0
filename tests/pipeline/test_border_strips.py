"""Border strips: where the chips reach past an image's border with an edge pad, thin
chips flush with the border run beside them, and the vehicles near the border come from
those strips (the pad's black makes a model trained with it drop what the border cuts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cards import centernet_card
from rasters import utm_transform, write_geotiff
from skyscan.detectors import DetectorRecipe, get_detector
from skyscan.detectors.card import ModelCard
from skyscan.detectors.synthetic import build_blob_model
from skyscan.errors import InputError
from skyscan.io.reader import open_image
from skyscan.pipeline import (
    BORDER_STRIP,
    DetectOptions,
    chip_batches,
    detect_image,
    model_pixels,
    plan_units,
)
from skyscan.types import ChipWindow, ImageRef


def _card(**kw: object) -> ModelCard:
    return centernet_card(**{"edge_pad": 32, **kw})


def _windows(ref: ImageRef, card: ModelCard, **kw: object) -> list[ChipWindow]:
    return [w for u in plan_units(ref, card, DetectOptions(**kw)) for w in u.windows]  # type: ignore[arg-type]


def _covered(spans: list[tuple[int, int]], length: int) -> bool:
    """Whether the half-open spans cover ``[0, length)``."""
    reach = 0
    for start, end in sorted(spans):
        if start > reach:
            return False
        reach = max(reach, end)
    return reach >= length


def test_strips_lie_flush_inside_every_border_of_a_large_image() -> None:
    card = _card()
    ref = ImageRef("a", "a.tif", 3000, 2000, 3, "uint8", gsd=0.25)
    windows = _windows(ref, card)
    strips = [w for w in windows if w.border_only]
    chips = [w for w in windows if not w.border_only]
    assert chips == _windows(ref, card, border_band=0)  # the chips are what they were
    assert any(w.col_off < 0 for w in chips)  # they reach past the border: the edge pad
    for s in strips:
        assert s.col_off >= 0 and s.col_off + s.width <= 3000
        assert s.row_off >= 0 and s.row_off + s.height <= 2000
        assert BORDER_STRIP in (s.out_width, s.out_height)
    top = [(s.col_off, s.col_off + s.width) for s in strips if s.row_off == 0 and s.height == 64]
    bottom = [(s.col_off, s.col_off + s.width) for s in strips if s.row_off == 2000 - 64]
    left = [(s.row_off, s.row_off + s.height) for s in strips if s.col_off == 0 and s.width == 64]
    right = [(s.row_off, s.row_off + s.height) for s in strips if s.col_off == 3000 - 64]
    assert _covered(top, 3000) and _covered(bottom, 3000)
    assert _covered(left, 2000) and _covered(right, 2000)
    assert model_pixels(strips) < 0.1 * model_pixels(chips)  # thin: a few per cent more


def test_a_small_image_gets_four_strips_its_own_length() -> None:
    card = _card()
    ref = ImageRef("a", "a.tif", 300, 200, 3, "uint8", gsd=0.25)
    (chip,), strips = _windows(ref, card, border_band=0), _windows(ref, card)[1:]
    assert chip.col_off < 0  # one chip fitted to the image, padded
    assert strips == [
        ChipWindow(0, 0, 300, 64, 304, 64, border_only=True),
        ChipWindow(0, 136, 300, 64, 304, 64, border_only=True),
        ChipWindow(0, 0, 64, 200, 64, 200, border_only=True),
        ChipWindow(236, 0, 64, 200, 64, 200, border_only=True),
    ]


def test_no_strips_without_an_edge_pad_a_band_or_a_model_that_takes_any_size() -> None:
    ref = ImageRef("a", "a.tif", 1200, 900, 3, "uint8", gsd=0.25)
    assert not any(w.border_only for w in _windows(ref, _card(), edge_pad=0))
    assert not any(w.border_only for w in _windows(ref, _card(), border_band=0))
    fixed = _card(size_multiple=None, input_size=(256, 256))
    assert not any(w.border_only for w in _windows(ref, fixed))
    with pytest.raises(InputError, match="border_band"):
        DetectOptions(border_band=BORDER_STRIP)


def test_a_batch_holds_chips_of_one_size() -> None:
    ref = ImageRef("a", "a.tif", 3000, 2000, 3, "uint8", gsd=0.25)
    units = plan_units(ref, _card(), DetectOptions())
    batches = chip_batches(units, 16)
    assert [w for b in batches for _, w in b] == [w for u in units for w in u.windows]
    for batch in batches:
        assert len({(w.out_width, w.out_height) for _, w in batch}) == 1
        assert len(batch) <= 16


def test_a_vehicle_the_border_cuts_comes_from_a_strip_and_one_inside_from_a_chip(
    tmp_path: Path,
) -> None:
    model = build_blob_model(
        tmp_path / "blobs.onnx", input_size=64, score_threshold=0.3, any_size=True
    )
    img = np.zeros((3, 200, 400), np.uint8)
    yy, xx = np.mgrid[0:200, 0:400]
    for x, y in ((1, 100), (200, 100)):  # cut by the left border; well inside
        img[0] = np.maximum(img[0], (255 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 18)))
    path = write_geotiff(tmp_path / "edge.tif", 400, 200, data=img, transform=utm_transform(0.25))

    def rows(band: int) -> list[tuple[int, int, int, bool]]:
        options = DetectOptions(
            recipe=DetectorRecipe(model=str(model)), edge_pad=16, border_band=band
        )
        table = detect_image(
            open_image(str(path), options.read), get_detector(options.recipe), options, "t"
        )
        return sorted(
            zip(
                table.column("chip_col_off").to_pylist(),
                table.column("chip_width").to_pylist(),
                table.column("chip_height").to_pylist(),
                table.column("truncated").to_pylist(),
                strict=True,
            )
        )

    # with the band: the cut one from the left strip (flush, 64 px wide), flagged
    # truncated; the inner one from the padded chip; one row each
    assert rows(8) == [(-16, 432, 432, False), (0, 64, 200, True)]
    # without it both come from the padded chip
    assert rows(0) == [(-16, 432, 432, False), (-16, 432, 432, True)]


def test_the_strips_report_what_they_hold_whole_near_the_border() -> None:
    from skyscan.pipeline import strip_owns

    ref = ImageRef("a", "a.tif", 1000, 800, 3, "uint8", gsd=0.25)
    boxes = np.array(
        [
            [0.0, 100, 18, 108],  # a car the left border cuts: the strip's
            [500, 795, 518, 800],  # one the bottom border cuts: the strip's
            [5, 300, 23, 308],  # whole, 5 px in: within the band of 8
            [20, 300, 38, 308],  # 20 px in: the chips'
            [0.0, 500, 72, 510],  # a bus across the border, longer than the strip is deep
            [0.0, 0, 18, 8],  # in the corner, whole in both strips
        ]
    )
    one = np.ones(len(boxes))
    assert strip_owns(boxes, ref, 8, one, one).tolist() == [True, True, True, False, False, True]
    # at twice the source pixels per model pixel the band (16 px) and the strip (126 px)
    # reach twice as far: the bus fits in the strip
    twice = strip_owns(boxes, ref, 8, 2 * one, 2 * one).tolist()
    assert twice == [True, True, True, False, True, True]
