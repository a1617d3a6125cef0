"""Chip sizes other than the model's input: models that declare ``input.size_multiple``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rasters import utm_transform, write_geotiff
from skyscan.detectors import DetectorRecipe, get_detector
from skyscan.detectors.card import THROUGHPUT_CHIP_SIZE, ClassSpec, ModelCard, load_card
from skyscan.detectors.synthetic import build_blob_model, draw_blobs
from skyscan.errors import InputError, ModelError
from skyscan.io.reader import open_image
from skyscan.pipeline import DetectOptions, detect_image, plan_units


def _options(model: Path, **kw: object) -> DetectOptions:
    return DetectOptions(recipe=DetectorRecipe(model=str(model)), **kw)  # type: ignore[arg-type]


def _centres(table: object) -> list[tuple[float, float, str]]:
    t = table  # a pyarrow table of one image's detections
    x = (t.column("px_xmin").to_numpy() + t.column("px_xmax").to_numpy()) / 2  # type: ignore[attr-defined]
    y = (t.column("px_ymin").to_numpy() + t.column("px_ymax").to_numpy()) / 2  # type: ignore[attr-defined]
    return sorted(
        zip(
            x.round(2).tolist(),
            y.round(2).tolist(),
            t.column("class_name").to_pylist(),
            strict=True,
        )
    )  # type: ignore[attr-defined]


def test_card_size_multiple_round_trips_and_is_validated(tmp_path: Path) -> None:
    card = ModelCard(
        name="m",
        classes=(ClassSpec("car", 18),),
        input_size=(64, 64),
        size_multiple=16,
        output_format="centernet",
    )
    assert ModelCard.from_dict(json.loads(json.dumps(card.to_dict()))).size_multiple == 16
    assert (
        "size_multiple"
        not in ModelCard(name="m", classes=(ClassSpec("car"),), input_size=(64, 64)).to_dict()[
            "input"
        ]
    )
    with pytest.raises(ModelError, match="size_multiple"):
        ModelCard(name="m", classes=(ClassSpec("car"),), input_size=(64, 64), size_multiple=24)
    with pytest.raises(ModelError, match="chip classifier"):
        ModelCard(
            name="m",
            classes=(ClassSpec("car"),),
            input_size=(64, 64),
            size_multiple=16,
            output_format="chip_classifier",
            task="chip_classification",
        )


def test_chip_size_is_refused_by_a_fixed_size_model_and_checked_against_the_multiple(
    tmp_path: Path,
) -> None:
    fixed = load_card(build_blob_model(tmp_path / "fixed.onnx", input_size=64))
    assert fixed.chip_size(None) == 64 and fixed.chip_size(64) == 64
    with pytest.raises(InputError, match=r"takes 64x64 px chips only"):
        fixed.chip_size(128)
    free = load_card(
        build_blob_model(tmp_path / "free.onnx", input_size=64, stride=4, any_size=True)
    )
    assert (
        free.chip_size(None) == THROUGHPUT_CHIP_SIZE
        and free.chip_size(64) == 64
        and free.chip_size(256) == 256
    )
    with pytest.raises(InputError, match="multiple of 4"):
        free.chip_size(130)


def test_batches_default_to_about_a_megapixel_of_chips() -> None:
    options = DetectOptions()
    assert [options.chips_per_batch(s) for s in (256, 512, 1024, 4096)] == [16, 4, 1, 1]
    assert DetectOptions(batch_size=3).chips_per_batch(1024) == 3


def test_larger_chips_find_the_same_objects_with_fewer_chips(tmp_path: Path) -> None:
    """The same fully convolutional model over 64 px and 192 px chips: same boxes, fewer chips."""
    model = build_blob_model(tmp_path / "free.onnx", input_size=64, stride=2, any_size=True)
    img = np.zeros((3, 260, 390), np.uint8)
    centres = [
        (30.0, 30.0, 0),
        (101.0, 120.0, 1),
        (200.0, 61.0, 2),
        (333.0, 201.0, 0),
        (150.0, 240.0, 2),
    ]
    draw_blobs(img, centres)
    ref = open_image(
        str(write_geotiff(tmp_path / "scene.tif", 390, 260, data=img, transform=utm_transform(0.5)))
    )
    found = {}
    for chip in (64, 192):
        options = _options(model, chip_size=chip, overlap=0.25)
        detector = get_detector(options.recipe)
        windows = [w for u in plan_units(ref, detector.card, options) for w in u.windows]
        assert {w.out_width for w in windows} == {chip}
        found[chip] = (len(windows), _centres(detect_image(ref, detector, options, run_id="t")))
    assert found[192][0] < found[64][0] / 4
    assert found[192][1] == found[64][1]
    assert len(found[64][1]) == len(centres)


def test_the_detector_refuses_chips_of_a_size_its_model_cannot_take(tmp_path: Path) -> None:
    fixed = get_detector(
        DetectorRecipe(model=str(build_blob_model(tmp_path / "f.onnx", input_size=64)))
    )
    with pytest.raises(ModelError, match=r"\(64, 64\)"):
        fixed.prepare(np.zeros((1, 128, 128, 3), np.uint8))  # type: ignore[attr-defined]
    free = get_detector(
        DetectorRecipe(
            model=str(build_blob_model(tmp_path / "a.onnx", input_size=64, any_size=True))
        )
    )
    assert free.prepare(np.zeros((2, 128, 128, 3), np.uint8)).shape == (2, 3, 128, 128)  # type: ignore[attr-defined]
    assert free.prepare(np.zeros((1, 64, 96, 3), np.uint8)).shape == (1, 3, 64, 96)  # type: ignore[attr-defined]
    with pytest.raises(ModelError, match="multiples of 2"):
        free.prepare(np.zeros((1, 128, 97, 3), np.uint8))  # type: ignore[attr-defined]


def test_edge_pad_comes_from_the_card_and_the_options_override_it(tmp_path: Path) -> None:
    model = build_blob_model(tmp_path / "m.onnx", input_size=64, gsd=0.5)
    card = load_card(model)
    padded = ModelCard.from_dict(
        {**card.to_dict(), "input": {**card.to_dict()["input"], "edge_pad": 8}}
    )
    assert padded.edge_pad == 8 and padded.to_dict()["input"]["edge_pad"] == 8
    with pytest.raises(ModelError, match="edge_pad"):
        ModelCard.from_dict(
            {**card.to_dict(), "input": {**card.to_dict()["input"], "edge_pad": 64}}
        )
    ref = open_image(
        str(
            write_geotiff(
                tmp_path / "s.tif",
                200,
                150,
                data=np.zeros((3, 150, 200), np.uint8),
                transform=utm_transform(0.5),
            )
        )
    )

    def reach(c: ModelCard, **kw: object) -> tuple[int, int]:
        windows = [w for u in plan_units(ref, c, DetectOptions(**kw)) for w in u.windows]  # type: ignore[arg-type]
        return min(w.col_off for w in windows), max(
            w.col_off + w.width for w in windows
        ) - ref.width

    assert reach(card) == (0, 0)  # no edge_pad in the card: chips stay inside the image
    assert reach(padded) == (-8, 8)
    assert reach(padded, edge_pad=0) == (0, 0)
    assert reach(card, edge_pad=16) == (
        -8,
        8,
    )  # as far as the unpadded count of chips allows (>= half)
    assert reach(card, edge_pad=40) == (
        -40,
        40,
    )  # less room than half of that: one chip more, the whole pad
    with pytest.raises(InputError, match="edge_pad"):
        plan_units(ref, card, DetectOptions(edge_pad=64))


def test_objects_at_a_padded_edge_are_found_once_at_the_same_place(tmp_path: Path) -> None:
    model = build_blob_model(tmp_path / "m.onnx", input_size=64)
    img = np.zeros((3, 120, 150), np.uint8)
    centres = [(3.0, 60.0, 0), (75.0, 3.0, 1), (146.0, 117.0, 2), (75.0, 60.0, 0)]
    draw_blobs(img, centres)
    ref = open_image(str(write_geotiff(tmp_path / "s.tif", 150, 120, data=img)))
    rows = {}
    for pad in (0, 12):
        options = _options(model, edge_pad=pad, overlap=0.25)
        rows[pad] = _centres(detect_image(ref, get_detector(options.recipe), options, run_id="t"))
    assert len(rows[12]) == len(rows[0]) == len(centres)
    # this blob model sees no context: padding must not lose, duplicate or move a box (beyond
    # its 2 px cell, as the padded grid may start at another parity)
    for (x0, y0, k0), (x1, y1, k1) in zip(rows[0], rows[12], strict=True):
        assert k0 == k1 and abs(x0 - x1) <= 1.5 and abs(y0 - y1) <= 1.5
