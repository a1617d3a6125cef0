"""ONNX models brought as they are: write/check a card against the model's real outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skyscan.convert import build_card, check_card, check_model, convert
from skyscan.detectors.card import load_card
from skyscan.errors import InputError, ModelError, OutputExistsError

ort = pytest.importorskip("onnxruntime")


def card(fmt: str, classes: str = "background,car", size: int = 32, **kw: object):  # type: ignore[no-untyped-def]
    return build_card(name="m", classes=classes, input_size=size, output_format=fmt, **kw)  # type: ignore[arg-type]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skyscan", *args], capture_output=True, text=True, timeout=120
    )


def test_matching_cards_pass_for_all_three_formats(
    tmp_path: Path, make_classifier, make_centernet, make_boxes
) -> None:  # type: ignore[no-untyped-def]
    r = check_model(make_classifier(tmp_path / "c.onnx"), card("chip_classifier"))
    assert r.output_shapes == {"probs": (2, 2)}
    r = check_model(
        make_centernet(tmp_path / "n.onnx", classes=3, stride=4),
        card("centernet", "car,truck,bus", stride=4),
    )
    assert r.stride == 4 and r.output_shapes["heatmap"] == (2, 3, 8, 8)
    r = check_model(make_boxes(tmp_path / "b.onnx", k=5), card("boxes", "car"))
    assert r.output_shapes == {"boxes": (2, 5, 4), "scores": (2, 5), "labels": (2, 5)}


@pytest.mark.parametrize(
    ("build", "fmt", "classes", "kw", "expected"),
    [
        ("classifier", "chip_classifier", "background,car,truck", {}, "(batch, 3)"),
        ("centernet", "centernet", "car,truck", {}, "class count must match"),
        ("centernet", "centernet", "car,truck,bus", {"stride": 8}, "measured stride 4"),
        ("boxes", "centernet", "car", {}, "missing ['heatmap', 'wh', 'offset']"),
        ("centernet", "boxes", "car,truck,bus", {}, "missing ['boxes', 'scores', 'labels']"),
    ],
)
def test_card_that_does_not_match_outputs_names_file_and_mismatch(
    tmp_path: Path,
    make_classifier,
    make_centernet,
    make_boxes,
    build: str,
    fmt: str,  # type: ignore[no-untyped-def]
    classes: str,
    kw: dict,
    expected: str,
) -> None:
    builder = {"classifier": make_classifier, "centernet": make_centernet, "boxes": make_boxes}[
        build
    ]
    path = builder(tmp_path / "m.onnx")
    with pytest.raises(ModelError) as err:
        check_model(path, card(fmt, classes, **kw))
    assert str(path) in str(err.value) and expected in str(err.value)


def test_input_mismatches(tmp_path: Path, make_classifier) -> None:  # type: ignore[no-untyped-def]
    fixed = make_classifier(tmp_path / "fixed.onnx", batch=1)
    with pytest.raises(ModelError, match="batch size is fixed at 1"):
        check_model(fixed, card("chip_classifier"))
    with pytest.raises(ModelError, match=r"input height is fixed at 32 but the card says 64"):
        check_model(make_classifier(tmp_path / "s.onnx", batch=1), card("chip_classifier", size=64))
    nhwc = make_classifier(tmp_path / "nhwc.onnx", channels_last=True)
    with pytest.raises(ModelError, match="channels-last"):
        check_model(nhwc, card("chip_classifier"))
    other = make_classifier(tmp_path / "other.onnx", input_name="x")
    with pytest.raises(
        ModelError, match=r"card input 'images' is not an input of the model \(inputs: \['x'\]\)"
    ):
        check_model(other, card("chip_classifier"))


def test_convert_onnx_takes_input_name_and_measures_stride(
    tmp_path: Path, make_classifier, make_centernet
) -> None:  # type: ignore[no-untyped-def]
    src = make_classifier(tmp_path / "x.onnx", input_name="pixels")
    res = convert(src, card("chip_classifier"))
    assert res.model_path == src and load_card(src).input_name == "pixels"
    net = make_centernet(tmp_path / "n.onnx", stride=8)
    res = convert(
        net, card("centernet", "car,truck,bus"), tmp_path / "out" / "n2.onnx", measure_stride=True
    )
    assert load_card(res.model_path).stride == 8
    assert load_card(res.model_path).extra["source"]["framework"] == "onnx"


def test_output_names_rename_outputs_without_changing_results(
    tmp_path: Path, make_centernet
) -> None:  # type: ignore[no-untyped-def]
    src = make_centernet(tmp_path / "raw.onnx", names=("hm", "size", "off"))
    c = card("centernet", "car,truck,bus")
    with pytest.raises(ModelError, match=r"missing \['heatmap', 'wh', 'offset'\].*--output-names"):
        convert(src, c, tmp_path / "a.onnx")
    res = convert(src, c, tmp_path / "b.onnx", output_names=["hm", "size", "off"])
    x = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)
    before = ort.InferenceSession(str(src)).run(["hm", "size", "off"], {"images": x})
    after = ort.InferenceSession(str(res.model_path)).run(
        ["heatmap", "wh", "offset"], {"images": x}
    )
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(InputError, match="not outputs of the model"):
        convert(src, c, tmp_path / "c.onnx", output_names=["hm", "nope", "off"])


def test_channels_last_onnx_gets_nchw_input_and_outputs(
    tmp_path: Path, make_classifier, make_centernet
) -> None:  # type: ignore[no-untyped-def]
    src = make_classifier(tmp_path / "nhwc.onnx", channels_last=True)
    res = convert(src, card("chip_classifier"), tmp_path / "nchw.onnx", channels_last=True)
    x = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    want = ort.InferenceSession(str(src)).run(None, {"images": x})[0]
    got = ort.InferenceSession(str(res.model_path)).run(
        None, {"images": x.transpose(0, 3, 1, 2).copy()}
    )[0]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # Channels-last heads without the conversion are refused, naming the heatmap.
    heads = make_centernet(tmp_path / "heads.onnx", channels_last_outputs=True)
    with pytest.raises(ModelError, match="heatmap"):
        check_model(heads, card("centernet", "car,truck,bus"))


def test_refuses_to_overwrite_and_in_place_edits(tmp_path: Path, make_classifier) -> None:  # type: ignore[no-untyped-def]
    src = make_classifier(tmp_path / "m.onnx")
    convert(src, card("chip_classifier"))
    with pytest.raises(OutputExistsError, match=r"m\.json exists"):
        convert(src, card("chip_classifier"))
    convert(src, card("chip_classifier", score_threshold=0.9), overwrite=True)
    assert load_card(src).score_threshold == 0.9
    with pytest.raises(OutputExistsError, match="rewrites the model"):
        convert(src, card("chip_classifier"), output_names=["probs"])


def test_cli_writes_then_checks_a_card(tmp_path: Path, make_classifier) -> None:  # type: ignore[no-untyped-def]
    src = make_classifier(tmp_path / "chips.onnx", classes=3)
    p = run_cli(
        "convert",
        str(src),
        "--classes",
        "background,car,bus",
        "--input-size",
        "32",
        "--gsd",
        "0.3",
        "--format",
        "chip_classifier",
    )
    assert p.returncode == 0, p.stderr
    data = json.loads((tmp_path / "chips.json").read_text())
    assert data["gsd"] == 0.3 and data["classes"][2] == {"name": "bus", "xview_type_id": 19}
    assert check_card(src)[0].task == "chip_classification"
    p = run_cli("convert", str(src))  # check only
    assert p.returncode == 0 and "matches its card" in p.stderr, p.stderr
    data["classes"] = data["classes"][:2]  # the card now disagrees with the model
    (tmp_path / "chips.json").write_text(json.dumps(data))
    p = run_cli("convert", str(src))
    assert p.returncode == 1
    assert str(src) in p.stderr and "(batch, 2)" in p.stderr and "(2, 3)" in p.stderr
    p = run_cli("convert", str(src), "--classes", "car")
    assert p.returncode == 2 and "--input-size, --format" in p.stderr


def test_cli_renames_outputs_and_measures_stride(tmp_path: Path, make_centernet) -> None:  # type: ignore[no-untyped-def]
    src = make_centernet(tmp_path / "raw.onnx", names=("hm", "size", "off"), stride=8, size=64)
    p = run_cli(
        "convert",
        str(src),
        "-o",
        str(tmp_path / "named.onnx"),
        "--classes",
        "car,truck,bus",
        "--input-size",
        "64",
        "--format",
        "centernet",
        "--output-names",
        "hm,size,off",
    )
    assert p.returncode == 0, p.stderr
    assert load_card(tmp_path / "named.onnx").stride == 8
    assert [o.name for o in ort.InferenceSession(str(tmp_path / "named.onnx")).get_outputs()] == [
        "heatmap",
        "wh",
        "offset",
    ]
    assert not (tmp_path / "raw.json").exists()  # the source is left alone
