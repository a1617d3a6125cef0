"""``skyscan train --init``: ONNX weights mapped back onto the torch network, and short
fine-tuning runs from a checkpoint and from an ONNX model on a tiny generated set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from skyscan.cli import cli
from skyscan.detectors.card import load_card
from skyscan.detectors.registry import resolve_model

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from tiny_data import tiny_train_args, write_tiny_dataset  # noqa: E402  (tests/tiny_data.py)

TOL = 2e-4


def _onnx_outputs(path: Path, x: np.ndarray) -> list[np.ndarray]:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(["heatmap", "wh", "offset"], {"images": x})


def _torch_outputs(net: object, x: np.ndarray) -> list[np.ndarray]:
    from skyscan.train.model import ExportWrapper

    with torch.no_grad():
        return [t.numpy() for t in ExportWrapper(net).eval()(torch.from_numpy(x))]  # type: ignore[arg-type]


def _random_chips(seed: int, n: int = 3, size: int = 96) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (n, 3, size, size)).astype(np.float32)


def test_shipped_onnx_reproduced_by_torch() -> None:
    from skyscan.train.init import load_init

    init = load_init("vehicles")
    assert init.classes == ("car", "truck", "bus") and init.net.widths == (16, 32, 48)
    assert init.source["kind"] == "onnx" and "folded" in init.source["batch_norm"]
    x = _random_chips(0)
    for got, want in zip(
        _torch_outputs(init.net, x), _onnx_outputs(resolve_model("vehicles"), x), strict=True
    ):
        assert got.shape == want.shape
        assert np.abs(got - want).max() < TOL * max(1.0, float(np.abs(want).max()))


def test_folded_batch_norm_round_trip(tmp_path: Path) -> None:
    """A network with non-trivial batch-norm statistics: export, load back, same outputs."""
    from skyscan.train.export import export_model, make_card
    from skyscan.train.init import load_init
    from skyscan.train.model import build_model, model_config

    torch.manual_seed(1)
    net = build_model(3, (4, 8, 8))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
    net.eval()
    path = tmp_path / "m.onnx"
    export_model(
        net,
        path,
        make_card(
            "m", ("car", "truck", "bus"), 64, 0.25, 0.3, extra={"architecture": model_config(net)}
        ),
    )
    init = load_init(path)
    x = _random_chips(2, size=64)
    for got, want in zip(_torch_outputs(init.net, x), _onnx_outputs(path, x), strict=True):
        assert np.abs(got - want).max() < TOL
    # frozen batch norms: training mode keeps the running statistics, so outputs stay the same
    assert init.net.frozen_bn
    init.net.train()
    with torch.no_grad():
        heat = torch.sigmoid(init.net(torch.from_numpy(x))[0]).numpy()
    assert np.abs(heat - _onnx_outputs(path, x)[0]).max() < TOL


def test_onnx_without_architecture_is_refused(tmp_path: Path) -> None:
    from skyscan.errors import ModelError
    from skyscan.train.export import export_model, make_card
    from skyscan.train.init import load_init
    from skyscan.train.model import build_model

    path = tmp_path / "m.onnx"
    export_model(
        build_model(3, (4, 8, 8)).eval(),
        path,
        make_card("m", ("car", "truck", "bus"), 64, 0.25, 0.3),
    )
    with pytest.raises(ModelError, match="architecture"):
        load_init(path)


def _train(data: Path, out: Path, *extra: str) -> None:
    res = CliRunner().invoke(cli, tiny_train_args(data, out, "--val-every", "2", *extra))
    assert res.exit_code == 0, res.output


def test_train_init_from_checkpoint_and_onnx(tmp_path: Path) -> None:
    data = write_tiny_dataset(tmp_path / "data")
    base = tmp_path / "base.onnx"
    _train(data, base, "--widths", "4,8,8")
    assert load_card(base).extra["training"]["from_scratch"] is True

    ckpt = tmp_path / "base-run" / "last.pt"
    tuned = tmp_path / "tuned.onnx"
    _train(data, tuned, "--init", str(ckpt))
    training = load_card(tuned).extra["training"]
    assert training["from_scratch"] is False
    assert training["init"]["kind"] == "checkpoint" and training["init"]["path"] == str(
        ckpt.resolve()
    )
    assert load_card(tuned).extra["architecture"]["widths"] == [4, 8, 8]

    again = tmp_path / "again.onnx"
    _train(data, again, "--init", str(base))
    init = load_card(again).extra["training"]["init"]
    # a model trained from scratch keeps chips inside its images, and so do its fine-tunes
    assert load_card(base).extra["training"]["config"]["cut_vehicles"] == "visible"
    assert load_card(again).extra["training"]["config"]["cut_vehicles"] == "visible"
    assert init["kind"] == "onnx" and init["name"] == "base" and len(init["sha256"]) == 64
    # a run started from an ONNX model keeps its batch norms frozen when it is itself resumed
    from skyscan.train.loop import load_checkpoint

    assert load_checkpoint(tmp_path / "again-run" / "last.pt")[0].frozen_bn
    assert not load_checkpoint(ckpt)[0].frozen_bn


def test_train_init_from_the_shipped_model(tmp_path: Path) -> None:
    data = write_tiny_dataset(tmp_path / "data")
    out = tmp_path / "tuned.onnx"
    _train(data, out, "--init", "vehicles", "--lr", "1e-4")
    card = load_card(out)
    assert card.extra["architecture"]["widths"] == [16, 32, 48]
    assert card.extra["training"]["init"]["name"] == "vehicles"
    assert card.extra["training"]["config"]["widths"] == [16, 32, 48]
    # fine-tuned the way the shipped weights were trained, so it keeps their edge pad
    assert card.extra["training"]["config"]["cut_vehicles"] == "centre"
    assert card.edge_pad == min(32, card.input_size[0] // 4)
    other = tmp_path / "visible.onnx"
    _train(data, other, "--init", "vehicles", "--lr", "1e-4", "--cut-vehicles", "visible")
    assert load_card(other).extra["training"]["config"]["cut_vehicles"] == "visible"
    assert load_card(other).edge_pad == 0


def test_init_and_widths_conflict(tmp_path: Path) -> None:
    data = write_tiny_dataset(tmp_path / "data")
    res = CliRunner().invoke(
        cli,
        [
            "train",
            str(data / "images"),
            "--labels",
            str(data / "labels"),
            "--image-gsd",
            "0.25",
            "-o",
            str(tmp_path / "m.onnx"),
            "--init",
            "vehicles",
            "--widths",
            "4,8,8",
        ],
    )
    assert res.exit_code != 0 and "--widths" in res.output


def test_init_model_not_found(tmp_path: Path) -> None:
    data = write_tiny_dataset(tmp_path / "data")
    res = CliRunner().invoke(
        cli,
        [
            "train",
            str(data / "images"),
            "--labels",
            str(data / "labels"),
            "--image-gsd",
            "0.25",
            "-o",
            str(tmp_path / "m.onnx"),
            "--init",
            str(tmp_path / "nope.pt"),
        ],
    )
    assert res.exit_code == 1 and "nope.pt" in res.output and "not found" in res.output


def test_quantized_model_is_refused() -> None:
    from skyscan.errors import ModelError
    from skyscan.train.init import load_init

    with pytest.raises(
        ModelError,
        match=r"quantized model cannot be fine-tuned; start from its float model \(vehicles.onnx\)",
    ):
        load_init("vehicles-int8")


def test_how_a_model_was_trained_to_label_cut_vehicles() -> None:
    from skyscan.train.init import trained_cut_vehicles

    shipped = load_card(resolve_model("vehicles"))
    assert shipped.edge_pad > 0 and trained_cut_vehicles(shipped) == "centre"
    said = {**shipped.to_dict(), "training": {"config": {"cut_vehicles": "visible"}}}
    assert trained_cut_vehicles(type(shipped).from_dict(said)) == "visible"
    no_pad = {**shipped.to_dict(), "input": {**shipped.to_dict()["input"], "edge_pad": 0}}
    no_pad.pop("training")
    assert trained_cut_vehicles(type(shipped).from_dict(no_pad)) == "visible"
