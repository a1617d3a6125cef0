"""Bring your own model: convert a PyTorch model to ONNX and check it against its card.

Accepted PyTorch files: TorchScript (``torch.jit.save``; safe to load) or, with
``allow_pickle=True``, a whole pickled ``nn.Module`` (``torch.save(model)``; loading a
pickle runs code from the file, so only for files you trust). The user's model card
says what the outputs mean; :func:`check_against_card` runs the exported model once and
refuses outputs that do not match the card's format, so a mismatch is found at convert
time, not as silent garbage at detect time.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from skyscan.detectors.card import ModelCard, load_card, save_card
from skyscan.errors import InputError, ModelError

log = logging.getLogger(__name__)

_EXPECTED = {
    "centernet": ("heatmap", "wh", "offset"),
    "boxes": ("boxes", "scores", "labels"),
    "chip_classifier": ("probs",),
}


def check_against_card(model_path: str | Path, card: ModelCard) -> dict[str, tuple[int, ...]]:
    """Run ``model_path`` on a batch of 2 zero chips; raise :class:`ModelError` if its
    input or outputs disagree with ``card``. Returns the output shapes."""
    import onnxruntime as ort

    try:
        sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises untyped errors
        raise ModelError(f"{model_path}: cannot load ONNX model ({exc})") from exc
    inputs = [i.name for i in sess.get_inputs()]
    if card.input_name not in inputs:
        raise ModelError(f"{model_path}: card input {card.input_name!r} is not a model input (inputs: {inputs})")
    h, w = card.input_size
    try:
        outs = sess.run(None, {card.input_name: np.zeros((2, 3, h, w), np.float32)})
    except Exception as exc:
        raise ModelError(f"{model_path}: model does not run on the card's input (2, 3, {h}, {w}) ({exc})") from exc
    shapes = {o.name: tuple(v.shape) for o, v in zip(sess.get_outputs(), outs, strict=True)}
    want = _EXPECTED[card.output_format]
    missing = [n for n in want if n not in shapes]
    if missing and not (card.output_format == "chip_classifier" and len(shapes) == 1):
        raise ModelError(
            f"{model_path}: card format {card.output_format!r} needs outputs {list(want)}, "
            f"model has {sorted(shapes)}"
        )
    c = len(card.classes)
    fmt = card.output_format
    if fmt == "centernet":
        hm = shapes["heatmap"]
        if len(hm) != 4 or hm[1] != c or shapes["wh"][1:2] != (2,) or shapes["offset"][1:2] != (2,):
            raise ModelError(f"{model_path}: centernet outputs {shapes} do not match {c} card classes "
                             "(heatmap (N, C, h, w), wh and offset (N, 2, h, w))")
        if h // hm[2] != card.stride:
            raise ModelError(f"{model_path}: heatmap stride {h // hm[2]} but card says stride {card.stride}")
    elif fmt == "boxes":
        if len(shapes["boxes"]) != 3 or shapes["boxes"][-1] != 4:
            raise ModelError(f"{model_path}: 'boxes' must be (N, K, 4) (got {shapes['boxes']})")
    else:
        (probs,) = [shapes.get("probs", next(iter(shapes.values())))]
        if probs != (2, c):
            raise ModelError(f"{model_path}: classifier output {probs} does not match (N, {c}) card classes")
    return shapes


def load_torch_module(path: str | Path, allow_pickle: bool = False) -> Any:
    """A TorchScript file, or a pickled ``nn.Module`` when ``allow_pickle``."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such model file")
    try:
        return torch.jit.load(str(path), map_location="cpu").eval()
    except (RuntimeError, ValueError) as exc:
        if not allow_pickle:
            raise ModelError(
                f"{path}: not a TorchScript file ({exc.__class__.__name__}); save it with torch.jit.script/trace + "
                "torch.jit.save, or pass --allow-pickle for a torch.save(model) file you trust"
            ) from exc
    obj = torch.load(str(path), map_location="cpu", weights_only=False)
    if not isinstance(obj, torch.nn.Module):
        raise ModelError(f"{path}: the pickle holds a {type(obj).__name__}, not an nn.Module (a state_dict "
                         "needs its model class: export a TorchScript file instead)")
    return obj.eval()


def convert_pytorch(
    src: str | Path, dst: str | Path, card: ModelCard, *, allow_pickle: bool = False, opset: int = 17
) -> Path:
    """Export a PyTorch model to ONNX (dynamic batch), check it against ``card``, write the card."""
    import torch

    module = load_torch_module(src, allow_pickle)
    h, w = card.input_size
    names = list(_EXPECTED[card.output_format])
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        probe = module(torch.zeros(1, 3, h, w))
    n_out = len(probe) if isinstance(probe, (tuple, list)) else 1
    if n_out != len(names):
        raise ModelError(f"{src}: model returns {n_out} output(s) but card format {card.output_format!r} "
                         f"needs {len(names)} ({names})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, (torch.zeros(1, 3, h, w),), str(dst), input_names=[card.input_name], output_names=names,
            dynamic_axes={card.input_name: {0: "batch"}, **{n: {0: "batch"} for n in names}},
            opset_version=opset, dynamo=False,
        )
    check_against_card(dst, card)
    save_card(card, dst)
    log.info("converted %s -> %s", src, dst)
    return dst


def card_from_file(path: str | Path) -> ModelCard:
    """Read a card JSON given directly (not necessarily beside a model)."""
    import json

    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{p}: cannot read model card ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{p}: model card must be a JSON object")
    return ModelCard.from_dict(data, source=str(p))


def check_model(model_path: str | Path) -> dict[str, tuple[int, ...]]:
    """Check an ONNX model against the card beside it."""
    return check_against_card(model_path, load_card(model_path))
