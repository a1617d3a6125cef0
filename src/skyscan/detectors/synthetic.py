"""A tiny, real ONNX detector for tests and demos that need no trained weights.

It finds bright Gaussian blobs: a blob in the red channel is a ``car``, green a
``truck``, blue a ``bus``. The graph is genuine ONNX run by ONNX Runtime, with the
CenterNet output contract of :mod:`skyscan.detectors.card`, so every stage of the pipeline
(chipping, batching, decoding, merging, georeferencing) is exercised for real.
Use :func:`draw_blobs` to paint such objects into test images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from skyscan.detectors.card import ClassSpec, ModelCard, save_card
from skyscan.errors import require

BLOB_CLASSES = (ClassSpec("car", 18), ClassSpec("truck", 23), ClassSpec("bus", 19))


def build_blob_model(
    path: str | Path,
    *,
    input_size: int = 64,
    stride: int = 2,
    box_size: float = 12.0,
    gsd: float | None = None,
    score_threshold: float = 0.5,
    name: str = "blobs",
    any_size: bool = False,
) -> Path:
    """Write ``path`` (.onnx) and its card; return the model path.

    heatmap = sigmoid(20 · (avgpool_stride(x) − 0.5)) per channel, wh = box_size,
    offset = 0.5 cell: a blob centred in a cell is found at the cell centre. With
    ``any_size`` the graph takes any chip whose sides are multiples of ``stride`` (its card
    says so with ``size_multiple``), as a fully convolutional network does.
    """
    onnx = require("onnx", "convert")
    from onnx import TensorProto, helper, numpy_helper

    path = Path(path)
    side: int | str = "S" if any_size else input_size
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, side, side])
    h: int | str = "H" if any_size else input_size // stride
    outs = [
        helper.make_tensor_value_info("heatmap", TensorProto.FLOAT, ["N", 3, h, h]),
        helper.make_tensor_value_info("wh", TensorProto.FLOAT, ["N", 2, h, h]),
        helper.make_tensor_value_info("offset", TensorProto.FLOAT, ["N", 2, h, h]),
    ]
    inits = [
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
        numpy_helper.from_array(np.array(20.0, np.float32), "gain"),
        numpy_helper.from_array(np.zeros((2, 3, 1, 1), np.float32), "zero_w"),
        numpy_helper.from_array(np.full((2,), box_size, np.float32), "wh_b"),
        numpy_helper.from_array(np.full((2,), 0.5, np.float32), "off_b"),
    ]
    nodes = [
        helper.make_node(
            "AveragePool",
            ["images"],
            ["pooled"],
            kernel_shape=[stride, stride],
            strides=[stride, stride],
        ),
        helper.make_node("Sub", ["pooled", "half"], ["centred"]),
        helper.make_node("Mul", ["centred", "gain"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["heatmap"]),
        helper.make_node(
            "Conv",
            ["images", "zero_w", "wh_b"],
            ["wh"],
            kernel_shape=[1, 1],
            strides=[stride, stride],
        ),
        helper.make_node(
            "Conv",
            ["images", "zero_w", "off_b"],
            ["offset"],
            kernel_shape=[1, 1],
            strides=[stride, stride],
        ),
    ]
    graph = helper.make_graph(nodes, name, [x], outs, inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="skyscan"
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    card = ModelCard(
        name=name,
        classes=BLOB_CLASSES,
        input_size=(input_size, input_size),
        size_multiple=stride if any_size else None,
        gsd=gsd,
        output_format="centernet",
        stride=stride,
        score_threshold=score_threshold,
        version="test",
        extra={"description": "synthetic blob detector for tests (not a trained model)"},
    )
    save_card(card, path)
    return path


def draw_blobs(
    image: npt.NDArray[np.uint8], centres: list[tuple[float, float, int]], sigma: float = 3.0
) -> npt.NDArray[np.uint8]:
    """Paint Gaussian blobs into an (H, W, 3) or (3, H, W) uint8 image in place.

    ``centres`` holds (col, row, class_index); class 0/1/2 → channel R/G/B.
    """
    chw = image.ndim == 3 and image.shape[0] == 3 and image.shape[2] != 3
    h, w = (image.shape[1], image.shape[2]) if chw else (image.shape[0], image.shape[1])
    yy, xx = np.mgrid[0:h, 0:w]
    for cx, cy, k in centres:
        blob = 255.0 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
        plane = image[k] if chw else image[..., k]
        np.maximum(plane, blob.astype(np.uint8), out=plane)
    return image
