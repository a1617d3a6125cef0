"""Int8 post-training quantization of an exported model (ONNX Runtime, static QDQ).

Calibration chips come from *training* images (never the validation place), resampled to
the model GSD exactly as the pipeline feeds them. The quantized model gets its own card
(``<name>-int8``) recording how it was made; whether to ship it is decided by its
measured AP (see ``scripts/train_vehicles.sh``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt

from skyscan.detectors.card import ModelCard, load_card, save_card
from skyscan.errors import InputError

log = logging.getLogger(__name__)


def calibration_chips(
    pixels: list[npt.NDArray[np.uint8]], size: int, n: int, seed: int = 0
) -> npt.NDArray[np.uint8]:
    """``n`` random (size, size) RGB crops from images already at the model GSD."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, size, size, 3), np.uint8)
    for k in range(n):
        img = pixels[int(rng.integers(len(pixels)))]
        h, w = img.shape[:2]
        y = int(rng.integers(0, max(1, h - size + 1)))
        x = int(rng.integers(0, max(1, w - size + 1)))
        crop = img[y : y + size, x : x + size]
        out[k, : crop.shape[0], : crop.shape[1]] = crop
    return out


def head_nodes(model_path: str | Path) -> list[str]:
    """Nodes that produce the outputs, from the last convolutions on: kept in float.

    The heads are a tiny share of the compute and their outputs (sigmoid scores, exp
    sizes) are where int8 rounding hurts most directly.
    """
    import onnx

    graph = onnx.load(str(model_path)).graph
    producers = {o: n for n in graph.node for o in n.output}
    keep: list[str] = []
    stack = [o.name for o in graph.output]
    while stack:
        node = producers.get(stack.pop())
        if node is None or node.name in keep:
            continue
        keep.append(node.name)
        if node.op_type != "Conv":  # stop at the head convolutions
            stack.extend(node.input)
    return keep


def stem_nodes(model_path: str | Path) -> list[str]:
    """Nodes from the model input up to its first convolution: kept in float.

    The first convolution sees raw pixels at full resolution; quantizing it cost the
    shipped model 0.015 car AP and most of its bus AP on KIT seqC, keeping it in float
    ~0.002 car AP (docs/model.md, *int8 variant*), for a few % of the multiply-adds.
    """
    import onnx

    graph = onnx.load(str(model_path)).graph
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    keep: list[str] = []
    stack = [i.name for i in graph.input]
    while stack:
        for node in consumers.get(stack.pop(), []):
            if node.name in keep:
                continue
            keep.append(node.name)
            if node.op_type != "Conv":  # stop at the first convolution
                stack.extend(node.output)
    return keep


# --calibration names → onnxruntime's CalibrationMethod members
CALIBRATIONS = {"minmax": "MinMax", "percentile": "Percentile", "entropy": "Entropy"}


def quantize_int8(
    src: str | Path,
    dst: str | Path,
    chips: npt.NDArray[np.uint8],
    name: str | None = None,
    *,
    calibration: str = "minmax",
    float_stem: bool = True,
    symmetric_activations: bool = False,
) -> ModelCard:
    """Write an int8 (QDQ, per-channel weights) copy of ``src`` and its card to ``dst``;
    the first convolution (unless ``float_stem`` is off) and the output heads stay float
    (:func:`stem_nodes`, :func:`head_nodes`). ``calibration`` and ``symmetric_activations``
    (int8 instead of uint8) are the alternatives docs/model.md compares."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    if calibration not in CALIBRATIONS:
        raise InputError(
            f"'calibration' must be one of {sorted(CALIBRATIONS)} (got {calibration!r})"
        )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    card = load_card(src)
    mean = np.asarray(card.mean, np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(card.std, np.float32).reshape(1, 3, 1, 1)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(range(0, len(chips), 8))

        def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
            i = next(self.batches, None)
            if i is None:
                return None
            x = (chips[i : i + 8].transpose(0, 3, 1, 2).astype(np.float32) - mean) / std
            return {card.input_name: x}

    dst = Path(dst)
    pre = dst.with_suffix(".pre.onnx")
    quant_pre_process(str(src), str(pre))
    stem = stem_nodes(pre) if float_stem else []
    excluded = stem + [n for n in head_nodes(pre) if n not in stem]
    method = getattr(CalibrationMethod, CALIBRATIONS[calibration])
    extra: dict[str, float | bool] = (
        {"CalibPercentile": 99.99} if calibration == "percentile" else {}
    )
    if symmetric_activations:
        extra["ActivationSymmetric"] = True
    activations = QuantType.QInt8 if symmetric_activations else QuantType.QUInt8
    try:
        quantize_static(
            str(pre),
            str(dst),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=activations,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=excluded,
            calibrate_method=method,
            extra_options=extra,
        )
    finally:
        pre.unlink(missing_ok=True)
    data = card.to_dict()
    data["name"] = name or f"{card.name}-int8"
    kind = "int8" if symmetric_activations else "uint8"
    data["quantization"] = {
        "method": f"onnxruntime quantize_static QDQ, per-channel int8 weights, {kind} activations",
        "calibration": calibration,
        "calibration_chips": len(chips),
        "calibration_source": "training images",
        "float_nodes": excluded,
        "from": Path(src).name,
    }
    qcard = ModelCard.from_dict(data, source=str(dst))
    save_card(qcard, dst)
    log.info("int8 model %s", dst)
    return qcard


def quantize_from_spec(
    model: str | Path,
    spec_path: str | Path,
    dst: str | Path,
    n_chips: int = 256,
    *,
    calibration: str = "minmax",
    float_stem: bool = True,
    symmetric_activations: bool = False,
) -> ModelCard:
    """Quantize ``model`` with calibration chips from the training sources of a dataset spec
    (what ``skyscan quantize`` runs); the options are :func:`quantize_int8`'s."""
    from skyscan.labels import ClassMapping
    from skyscan.train.data import load_images, load_spec

    card = load_card(model)
    if card.gsd is None:
        raise InputError(f"{model}: card has no 'gsd'; cannot resample calibration images")
    spec = load_spec(spec_path)
    images, _ = load_images(spec.train, ClassMapping.for_targets(tuple(card.class_names)), card.gsd)
    chips = calibration_chips([im.pixels for im in images], card.input_size[0], n_chips)
    return quantize_int8(
        model,
        dst,
        chips,
        calibration=calibration,
        float_stem=float_stem,
        symmetric_activations=symmetric_activations,
    )
