"""Default chips come from the model: the overlap from its longest object (``max_object_m``
at its GSD), the size from ``input.size_multiple``."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cards import centernet_card
from rasters import utm_transform, write_geotiff
from skyscan.detectors import DetectorRecipe, recipe_card
from skyscan.detectors.card import THROUGHPUT_CHIP_SIZE, ModelCard, load_card
from skyscan.detectors.synthetic import build_blob_model
from skyscan.errors import InputError, ModelError
from skyscan.io.reader import open_image
from skyscan.pipeline import FALLBACK_OVERLAP, DetectOptions, plan_units

_card = centernet_card


def test_max_object_m_round_trips_and_is_validated() -> None:
    card = _card(max_object_m=18.0)
    assert ModelCard.from_dict(json.loads(json.dumps(card.to_dict()))).max_object_m == 18.0
    assert "max_object_m" not in _card().to_dict()
    assert "max_object_m" not in _card(max_object_m=5.0).extra
    for bad in (0.0, -3.0, math.nan, math.inf):
        with pytest.raises(ModelError, match="max_object_m"):
            _card(max_object_m=bad)
    with pytest.raises(ModelError, match="invalid model card"):
        ModelCard.from_dict({**card.to_dict(), "max_object_m": "a bus"})


def test_the_default_overlap_is_the_longest_object_over_the_chip() -> None:
    card = _card(max_object_m=18.0)
    assert card.overlap_px == 72  # 18 m at 0.25 m
    assert _card(max_object_m=18.1).overlap_px == 73  # rounded up: the object must fit
    assert DetectOptions().overlap_for(card) == pytest.approx(72 / THROUGHPUT_CHIP_SIZE)
    assert DetectOptions(chip_size=256).overlap_for(card) == pytest.approx(72 / 256)
    assert DetectOptions(chip_size=64).overlap_for(card) == 0.5  # capped: a bus in a 64 px chip
    assert DetectOptions(overlap=0.05).overlap_for(card) == 0.05  # the option wins
    assert DetectOptions().overlap_for(_card()) == FALLBACK_OVERLAP  # undeclared
    assert _card(max_object_m=18.0, gsd=None).overlap_px is None
    classifier = _card(
        max_object_m=18.0,
        size_multiple=None,
        output_format="chip_classifier",
        task="chip_classification",
    )
    assert DetectOptions().overlap_for(classifier) == 0.0
    with pytest.raises(InputError, match="overlap"):
        DetectOptions(overlap=0.7)


def test_a_model_that_takes_any_size_runs_the_throughput_size_by_default() -> None:
    assert _card().chip_size(None) == THROUGHPUT_CHIP_SIZE
    assert _card(size_multiple=None).chip_size(None) == 64
    assert (
        _card(input_size=(1024, 1024), size_multiple=32).chip_size(None) == 1024
    )  # never below native
    assert _card(size_multiple=48, input_size=(96, 96)).chip_size(None) % 48 == 0


def test_the_shipped_vehicle_models_declare_a_bus() -> None:
    for name in ("vehicles", "vehicles-int8"):
        card = recipe_card(DetectorRecipe(model=name))
        assert card.max_object_m == 18.0 and card.gsd is not None
        assert card.overlap_px == math.ceil(18.0 / card.gsd)


@settings(max_examples=40, deadline=None)
@given(
    image_gsd=st.sampled_from([0.1, 0.13, 0.25, 0.3]),
    width=st.integers(300, 2500),
    start=st.floats(0.0, 1.0),
)
def test_every_object_up_to_max_object_m_lies_whole_in_some_default_chip(
    tmp_path_factory: pytest.TempPathFactory, image_gsd: float, width: int, start: float
) -> None:
    """Along one axis of a real image: any stretch of ground max_object_m long lies inside
    one of the default plan's chips, whatever the image's GSD."""
    tmp = tmp_path_factory.mktemp("plan")
    model = build_blob_model(tmp / "m.onnx", input_size=64, gsd=0.25, any_size=True)
    card = ModelCard.from_dict({**load_card(model).to_dict(), "max_object_m": 6.0}, source="m.json")
    ref = open_image(
        str(
            write_geotiff(
                tmp / "s.tif",
                width,
                40,
                data=np.zeros((3, 40, width), np.uint8),
                transform=utm_transform(image_gsd),
            )
        )
    )
    windows = [w for u in plan_units(ref, card, DetectOptions(chip_size=64)) for w in u.windows]
    length = 6.0 / image_gsd  # the object, in image pixels
    a = start * max(0.0, width - length)
    assert any(w.col_off <= a and a + length <= w.col_off + w.width for w in windows)


def test_a_model_that_takes_any_size_fits_one_chip_to_a_small_image() -> None:
    card = _card()
    assert card.fits_one_chip(None, 1024) and card.fits_one_chip(None, 1024.0000001)
    assert not card.fits_one_chip(None, 1024.5)  # longer than twice the chip
    assert not card.fits_one_chip(512, 300)  # the run asked for a chip size
    assert not _card(size_multiple=None).fits_one_chip(None, 50)  # one size only
    assert card.whole_multiple(1088) == 1088 and card.whole_multiple(1000.0000001) == 1000
    assert card.whole_multiple(1001) == 1008 and card.whole_multiple(0.5) == 8
    with pytest.raises(InputError, match="one chip size"):
        _card(size_multiple=None).whole_multiple(64)


@pytest.mark.parametrize(
    ("width", "height", "gsd", "fitted"),
    [
        (1000, 1000, 0.25, 1064),  # a tile: one chip instead of nine
        (300, 200, 0.25, 368),  # smaller than a chip: no chip-sized black margin
        (1000, 700, 0.13, 584),  # resampled to 520 x 364 model px
        (1284, 377, 0.13, None),  # a KIT frame: a 736 px square is more than two chips
        (2000, 500, 0.25, None),  # too long: the grid
        (800, 800, 0.35, None),  # 800 px, but 1120 model px once resampled: the grid
    ],
)
def test_small_images_run_as_one_fitted_chip_when_that_runs_fewer_model_pixels(
    width: int, height: int, gsd: float, fitted: int | None
) -> None:
    from skyscan.pipeline import model_pixels
    from skyscan.types import ImageRef

    card = _card(edge_pad=32)
    ref = ImageRef("a", "a.tif", width, height, 3, "uint8", gsd=gsd)
    # the chips only: border strips (test_border_strips.py) come beside them
    chips = DetectOptions(border_band=0)
    windows = [w for u in plan_units(ref, card, chips) for w in u.windows]
    grid = [
        w
        for u in plan_units(ref, card, DetectOptions(chip_size=512, border_band=0))
        for w in u.windows
    ]
    if fitted is None:  # a grid of square chips fitted under the cap
        side = windows[0].out_width
        assert len(windows) > 1 and all(w.out_width == w.out_height == side for w in windows)
        assert THROUGHPUT_CHIP_SIZE // 2 <= side <= THROUGHPUT_CHIP_SIZE
        assert model_pixels(windows) <= model_pixels(grid)
        return
    (window,) = windows
    assert window.out_width == window.out_height == fitted
    assert model_pixels(windows) < model_pixels(grid)
    # the whole image inside it, centred, with the edge pad (in source px) on every side
    pad = 32 * 0.25 / gsd
    assert window.col_off <= -pad + 1 and window.row_off <= -pad + 1
    assert window.col_off + window.width >= width + pad - 1
    assert window.row_off + window.height >= height + pad - 1
    assert abs(window.col_off + window.width / 2 - width / 2) <= 1


def test_without_an_edge_pad_a_small_image_is_its_own_chip() -> None:
    """The chip's borders are the image's (resampled to whole multiples, no black)."""
    from skyscan.types import ChipWindow, ImageRef

    card = _card(edge_pad=32)
    ref = ImageRef("a", "a.tif", 1284, 377, 3, "uint8", gsd=0.13)  # 667.7 x 196 model px
    (window,) = [w for u in plan_units(ref, card, DetectOptions(edge_pad=0)) for w in u.windows]
    assert window == ChipWindow(0, 0, 1284, 377, 672, 200)


def test_each_image_gets_chips_fitted_under_the_cap() -> None:
    """A 10,000 px scene: eleven chips of 984 px a side, still overlapping by the card's
    72 px, and covering every pixel; a requested size or a half-chip overlap is a grid."""
    from skyscan.pipeline import chip_plan
    from skyscan.types import ImageRef

    card = _card(max_object_m=18.0, edge_pad=32)
    ref = ImageRef("a", "a.tif", 10_000, 10_000, 3, "uint8", gsd=0.25)
    side, overlap = chip_plan(ref, card, DetectOptions())
    assert (side, overlap * side) == (984, pytest.approx(72))
    chips = [w for u in plan_units(ref, card, DetectOptions(border_band=0)) for w in u.windows]
    assert len(chips) == 11 * 11 and {w.out_width for w in chips} == {984}
    cols = sorted({w.col_off for w in chips})
    assert cols[0] <= 0 and cols[-1] + 984 >= 10_000
    assert all(b - a <= 984 - 72 for a, b in itertools.pairwise(cols))
    assert chip_plan(ref, card, DetectOptions(chip_size=512)) == (512, pytest.approx(72 / 512))
    assert chip_plan(ref, card, DetectOptions(overlap=0.5)) == (THROUGHPUT_CHIP_SIZE, 0.5)
