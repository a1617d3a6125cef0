"""Card options, framework detection and the optional TensorFlow path (no model runs)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from skyscan.convert import build_card, convert, detect_framework, output_names
from skyscan.convert.spec import parse_classes, parse_size, parse_triplet
from skyscan.errors import InputError, MissingDependencyError, ModelError


def test_parse_classes_defaults_vehicle_xview_ids() -> None:
    specs = parse_classes("background, car,truck , bus,boat:40")
    assert [(c.name, c.xview_type_id) for c in specs] == [
        ("background", None),
        ("car", 18),
        ("truck", 23),
        ("bus", 19),
        ("boat", 40),
    ]
    with pytest.raises(InputError, match="must not repeat"):
        parse_classes("car,car")
    with pytest.raises(InputError, match=r"xView type id of 'car' must be an integer \(got 'x'\)"):
        parse_classes("car:x")
    with pytest.raises(InputError, match="at least one class"):
        parse_classes(" , ")


def test_parse_size_and_triplets() -> None:
    assert (
        parse_size("256") == (256, 256)
        and parse_size("128x256") == (128, 256)
        and parse_size(64) == (64, 64)
    )
    for bad in ("0", "1x2x3", "abc", "-4"):
        with pytest.raises(InputError, match="'input_size'"):
            parse_size(bad)
    assert parse_triplet("std", "58.4") == (58.4, 58.4, 58.4)
    with pytest.raises(InputError, match=r"'mean' must be 1 or 3 .* \(got '1,2'\)"):
        parse_triplet("mean", "1,2")


def test_build_card_sets_task_and_validates() -> None:
    card = build_card(
        name="c",
        classes="background,car",
        input_size="32",
        output_format="chip_classifier",
        gsd=0.5,
    )
    assert (
        card.task == "chip_classification" and card.gsd == 0.5 and card.std == (255.0, 255.0, 255.0)
    )
    assert (
        build_card(name="d", classes="car", input_size=8, output_format="boxes").task == "detection"
    )
    assert output_names("centernet") == ("heatmap", "wh", "offset")
    with pytest.raises(InputError, match="'format' must be one of"):
        build_card(name="x", classes="car", input_size=8, output_format="yolo")
    with pytest.raises(InputError, match="'std' must not contain 0"):
        build_card(name="x", classes="car", input_size=8, output_format="boxes", std="0")
    with pytest.raises(ModelError, match="'gsd' must be > 0"):
        build_card(name="x", classes="car", input_size=8, output_format="boxes", gsd=-1.0)


def test_detect_framework(tmp_path: Path) -> None:
    for name, fw in (
        ("a.onnx", "onnx"),
        ("b.pt", "torch"),
        ("c.PTH", "torch"),
        ("d.keras", "keras"),
        ("e.h5", "keras"),
    ):
        (tmp_path / name).write_bytes(b"")
        assert detect_framework(tmp_path / name) == fw
    (tmp_path / "f.bin").write_bytes(b"")
    with pytest.raises(InputError, match=r"cannot tell the framework from the suffix '\.bin'"):
        detect_framework(tmp_path / "f.bin")
    (tmp_path / "dir").mkdir()
    with pytest.raises(InputError, match=r"no saved_model\.pb"):
        detect_framework(tmp_path / "dir")
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"")
    assert detect_framework(tmp_path / "sm") == "tensorflow"


@pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is not None
    and importlib.util.find_spec("tf2onnx") is not None,
    reason="tensorflow and tf2onnx are installed; this checks the error without them",
)
def test_saved_model_without_tensorflow_names_the_install(tmp_path: Path) -> None:
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"")
    card = build_card(name="t", classes="car", input_size=8, output_format="boxes")
    with pytest.raises(MissingDependencyError, match="pip install tensorflow tf2onnx"):
        convert(tmp_path / "sm", card, tmp_path / "t.onnx")
    assert not (tmp_path / "t.onnx").exists() and not (tmp_path / "t.json").exists()


def test_bad_files_are_model_errors(tmp_path: Path) -> None:
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    card = build_card(name="j", classes="car", input_size=8, output_format="boxes")
    with pytest.raises(ModelError, match=r"junk\.onnx: not a readable ONNX model"):
        convert(tmp_path / "junk.onnx", card)
    with pytest.raises(InputError, match=r"'target' must be a \.onnx file"):
        convert(tmp_path / "junk.onnx", card, tmp_path / "x.json")
