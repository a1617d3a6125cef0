"""Default chips come from the model: the overlap from its longest object (``max_object_m``
at its GSD), the size from ``input.size_multiple``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rasters import utm_transform, write_geotiff
from skyscan.detectors import DetectorRecipe, recipe_card
from skyscan.detectors.card import THROUGHPUT_CHIP_SIZE, ClassSpec, ModelCard, load_card
from skyscan.detectors.synthetic import build_blob_model
from skyscan.errors import InputError, ModelError
from skyscan.io.reader import open_image
from skyscan.pipeline import FALLBACK_OVERLAP, DetectOptions, plan_units


def _card(**kw: object) -> ModelCard:
    base: dict[str, object] = {
        "name": "m",
        "classes": (ClassSpec("car", 18),),
        "input_size": (64, 64),
        "size_multiple": 8,
        "gsd": 0.25,
        "output_format": "centernet",
    }
    return ModelCard(**{**base, **kw})  # type: ignore[arg-type]


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
