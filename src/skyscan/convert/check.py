"""Check an ONNX model against its card by running it once on zeros.

A card that does not describe its model fails here, at conversion time, with the file
and the mismatch named, instead of deep inside a detection run. The check feeds a batch
of two zero chips in the card's input layout (float32 NCHW, the card's size), so it also
proves that the batch axis is dynamic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from skyscan.convert.spec import output_names
from skyscan.detectors.card import ModelCard
from skyscan.errors import ModelError, require

if TYPE_CHECKING:
    import onnxruntime

logger = logging.getLogger(__name__)

CHECK_BATCH = 2  # > 1, so a model exported with a fixed batch of one is caught


@dataclass(frozen=True)
class CheckReport:
    """What running the model once showed: its input name and each output's shape."""

    input_name: str
    output_shapes: dict[str, tuple[int, ...]]
    stride: int | None  # measured CenterNet stride (input height / heatmap height)


def check_model(
    model_path: str | Path,
    card: ModelCard,
    *,
    measure_stride: bool = False,
    label: str | None = None,
) -> CheckReport:
    """Run ``model_path`` once on zeros and check every output against ``card``.

    Raises :class:`~skyscan.errors.ModelError` naming the file and the first mismatch:
    a missing input or output name, a wrong layout, a fixed batch size, a class count
    that differs from the card's, or a CenterNet stride that differs from the card's
    (unless ``measure_stride``: the report then carries the measured stride for the card).
    Messages name ``label`` (default: the path), e.g. the file a model was converted from.
    """
    ort = require("onnxruntime", None)
    file = Path(model_path)
    path = Path(label) if label is not None else file
    try:
        sess = ort.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"{path}: cannot load ONNX model ({exc})") from exc
    inputs = {i.name: i for i in sess.get_inputs()}
    if card.input_name not in inputs:
        raise ModelError(
            f"{path}: card input {card.input_name!r} is not an input of the model "
            f"(inputs: {sorted(inputs)})"
        )
    _check_input(path, inputs[card.input_name], card)
    h, w = card.input_size
    x = np.zeros((CHECK_BATCH, 3, h, w), np.float32)
    names = [o.name for o in sess.get_outputs()]
    try:
        values = sess.run(names, {card.input_name: x})
    except Exception as exc:
        raise ModelError(
            f"{path}: the model fails on a batch of {CHECK_BATCH} zero chips of shape "
            f"{tuple(x.shape)} (float32 NCHW, the card's input): {exc}"
        ) from exc
    shapes = {n: tuple(int(d) for d in np.shape(v)) for n, v in zip(names, values, strict=True)}
    stride = _check_outputs(path, shapes, card, measure_stride)
    logger.info("%s matches its card: outputs %s", path, shapes)
    return CheckReport(card.input_name, shapes, stride)


def _check_input(path: Path, inp: onnxruntime.NodeArg, card: ModelCard) -> None:
    """Rank 4, float, three channels first and, where fixed, the card's size."""
    shape = list(inp.shape)
    if len(shape) != 4:
        raise ModelError(f"{path}: input {inp.name!r} must be 4-D NCHW (got shape {shape})")
    if "float" not in str(inp.type) or "16" in str(inp.type):
        raise ModelError(f"{path}: input {inp.name!r} must be float32 (got {inp.type})")
    h, w = card.input_size
    if shape[1] != 3:
        hint = (
            "; it looks channels-last (NHWC): convert from the source framework with "
            "skyscan convert, which puts a transpose in front"
            if shape[3] == 3
            else ""
        )
        raise ModelError(
            f"{path}: input {inp.name!r} must be NCHW with 3 channels (got shape {shape}){hint}"
        )
    for axis, want, what in ((2, h, "height"), (3, w, "width")):
        if isinstance(shape[axis], int) and shape[axis] != want:
            raise ModelError(
                f"{path}: input {what} is fixed at {shape[axis]} but the card says {want} "
                f"(input size {card.input_size})"
            )
    if isinstance(shape[0], int) and shape[0] != CHECK_BATCH:
        raise ModelError(
            f"{path}: input batch size is fixed at {shape[0]}; skyscan sends batches of chips, "
            "so export with a dynamic batch axis (torch.onnx.export(..., dynamic_axes={...}))"
        )


def _need(path: Path, shapes: dict[str, tuple[int, ...]], card: ModelCard) -> list[tuple[int, ...]]:
    want = output_names(card.output_format)
    if card.output_format == "chip_classifier" and len(shapes) == 1:
        return list(shapes.values())  # the decoder reads the only output whatever its name
    missing = [n for n in want if n not in shapes]
    if missing:
        raise ModelError(
            f"{path}: card format {card.output_format!r} needs outputs {list(want)}, the model "
            f"has {sorted(shapes)} (missing {missing}); name the outputs with "
            "skyscan convert --output-names"
        )
    return [shapes[n] for n in want]


def _check_outputs(
    path: Path, shapes: dict[str, tuple[int, ...]], card: ModelCard, measure_stride: bool
) -> int | None:
    n, c = CHECK_BATCH, len(card.classes)
    got = _need(path, shapes, card)
    fmt = card.output_format

    def fail(what: str) -> ModelError:
        return ModelError(
            f"{path}: card format {fmt!r} with {c} classes {card.class_names}: {what}"
        )

    if fmt == "chip_classifier":
        if got[0] != (n, c):
            raise fail(f"output must be (batch, {c}) = {(n, c)} (got {got[0]})")
        return None
    if fmt == "boxes":
        boxes, scores, labels = got
        if len(boxes) != 3 or boxes[0] != n or boxes[2] != 4:
            raise fail(f"'boxes' must be (batch, K, 4) (got {boxes})")
        if scores != boxes[:2] or labels != boxes[:2]:
            raise fail(
                f"'scores' and 'labels' must be (batch, K) = {boxes[:2]} (got {scores}, {labels})"
            )
        return None
    heat, wh, off = got
    if len(heat) != 4 or heat[0] != n or heat[1] != c:
        raise fail(
            f"'heatmap' must be (batch, {c}, h, w) (got {heat}); the class count must match the card"
        )
    for name, shape in (("wh", wh), ("offset", off)):
        if shape != (n, 2, *heat[2:]):
            raise fail(f"{name!r} must be {(n, 2, *heat[2:])} like the heatmap (got {shape})")
    h, w = card.input_size
    if h % heat[2] or w % heat[3] or h // heat[2] != w // heat[3]:
        raise fail(f"heatmap {heat[2:]} is not the input {card.input_size} divided by one stride")
    stride = h // heat[2]
    if stride != card.stride and not measure_stride:
        raise fail(
            f"measured stride {stride} (input {h} / heatmap {heat[2]}) but the card says {card.stride}"
        )
    return stride
