"""Tiny ONNX models built with ``onnx.helper`` (no torch needed) for the convert tests.

Each builder writes a model whose outputs follow one card format, with knobs to break
it in exactly one way (class count, names, fixed batch, channels-last input).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _save(nodes: list, inits: list, inp: object, outs: list, path: Path) -> Path:
    graph = helper.make_graph(nodes, "g", [inp], outs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _input(name: str, batch: object, size: int, channels_last: bool) -> object:
    shape = [batch, size, size, 3] if channels_last else [batch, 3, size, size]
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def classifier_onnx(
    path: Path,
    *,
    classes: int = 2,
    size: int = 32,
    out_name: str = "probs",
    batch: object = "N",
    channels_last: bool = False,
    input_name: str = "images",
) -> Path:
    """probs = softmax(mean RGB @ W): class 1 wins on bright chips (W favours it by mean)."""
    w = np.zeros((3, classes), np.float32)
    w[:, -1] = 40.0 / 3
    b = np.zeros(classes, np.float32)
    b[-1] = -20.0  # logit of the last class is 40 * (mean - 0.5) for inputs in [0, 1]
    nodes = []
    x = input_name
    if channels_last:
        nodes.append(helper.make_node("Transpose", [x], ["x_nchw"], perm=[0, 3, 1, 2]))
        x = "x_nchw"
    nodes += [
        helper.make_node("GlobalAveragePool", [x], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"]),
        helper.make_node("Gemm", ["flat", "W", "B"], ["logits"]),
        helper.make_node("Softmax", ["logits"], [out_name], axis=-1),
    ]
    inits = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")]
    out = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [batch, classes])
    return _save(nodes, inits, _input(input_name, batch, size, channels_last), [out], path)


def centernet_onnx(
    path: Path,
    *,
    classes: int = 3,
    size: int = 32,
    stride: int = 4,
    names: tuple[str, str, str] = ("heatmap", "wh", "offset"),
    channels_last_outputs: bool = False,
) -> Path:
    """Three strided convolutions standing in for CenterNet heads (sigmoid heatmap)."""
    rng = np.random.default_rng(0)
    nodes, inits, outs = [], [], []
    for k, (name, ch) in enumerate(zip(names, (classes, 2, 2), strict=True)):
        inits.append(
            numpy_helper.from_array(
                rng.normal(size=(ch, 3, stride, stride)).astype(np.float32), f"w{k}"
            )
        )
        nodes.append(
            helper.make_node("Conv", ["images", f"w{k}"], [f"conv{k}"], strides=[stride, stride])
        )
        head = f"conv{k}"
        if k == 0:
            nodes.append(helper.make_node("Sigmoid", [head], ["sig0"]))
            head = "sig0"
        perm = [0, 2, 3, 1] if channels_last_outputs else [0, 1, 2, 3]
        nodes.append(helper.make_node("Transpose", [head], [name], perm=perm))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", None, None, None]))
    return _save(nodes, inits, _input("images", "N", size, False), outs, path)


def boxes_onnx(path: Path, *, k: int = 5, size: int = 32) -> Path:
    """boxes (N, K, 4), scores (N, K), labels (N, K) computed from the chip's mean colour."""
    rng = np.random.default_rng(1)
    inits = [
        numpy_helper.from_array(np.abs(rng.normal(size=(3, k * 4))).astype(np.float32), "Wb"),
        numpy_helper.from_array(rng.normal(size=(3, k)).astype(np.float32), "Ws"),
        numpy_helper.from_array(np.array([-1, k, 4], np.int64), "shape"),
    ]
    nodes = [
        helper.make_node("GlobalAveragePool", ["images"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"]),
        helper.make_node("MatMul", ["flat", "Wb"], ["b_flat"]),
        helper.make_node("Reshape", ["b_flat", "shape"], ["boxes"]),
        helper.make_node("MatMul", ["flat", "Ws"], ["s_logits"]),
        helper.make_node("Sigmoid", ["s_logits"], ["scores"]),
        helper.make_node("Mul", ["scores", "scores"], ["sq"]),
        helper.make_node("Cast", ["sq"], ["labels"], to=TensorProto.INT64),
    ]
    outs = [
        helper.make_tensor_value_info(n, t, shape)
        for n, t, shape in (
            ("boxes", TensorProto.FLOAT, ["N", k, 4]),
            ("scores", TensorProto.FLOAT, ["N", k]),
            ("labels", TensorProto.INT64, ["N", k]),
        )
    ]
    return _save(nodes, inits, _input("images", "N", size, False), outs, path)


@pytest.fixture
def make_classifier() -> Callable[..., Path]:
    return classifier_onnx


@pytest.fixture
def make_centernet() -> Callable[..., Path]:
    return centernet_onnx


@pytest.fixture
def make_boxes() -> Callable[..., Path]:
    return boxes_onnx
