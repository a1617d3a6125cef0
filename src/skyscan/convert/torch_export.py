"""PyTorch → ONNX: load a TorchScript file or a pickled ``nn.Module`` and export it.

The exported graph takes the card's input (float32 NCHW, dynamic batch) and returns the
card format's outputs by name (:data:`skyscan.convert.spec.OUTPUT_NAMES`). A thin
wrapper adapts the source model: it picks the outputs from a tuple or dict, can append a
softmax (for classifiers that return logits) and can adapt channels-last models (Keras).

Security: a pickled module (``torch.save(model)``) runs arbitrary code when loaded, so
it is only loaded with ``trust_pickle=True``, for files you trust. TorchScript files
(``torch.jit.save``) and plain weights are loaded without unpickling code.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from skyscan.convert.spec import output_names
from skyscan.detectors.card import ModelCard
from skyscan.errors import InputError, ModelError, require

logger = logging.getLogger(__name__)

OPSET = 17


def load_torch_module(path: str | Path, *, trust_pickle: bool = False) -> Any:
    """A TorchScript file, or (with ``trust_pickle``) a whole pickled ``nn.Module``.

    A file that holds only weights (a ``state_dict``) cannot be converted: the
    architecture is code that the file does not contain; the error says how to save a
    convertible file.
    """
    torch: Any = require("torch", "train")
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: PyTorch model file not found")
    try:
        return torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # not TorchScript: fall through to the pickle formats
        logger.debug("%s is not TorchScript (%s)", path, exc)
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        if not trust_pickle:
            raise ModelError(
                f"{path}: not a TorchScript file; it may be a pickled nn.Module, which runs "
                "code when loaded: if you trust the file, pass --trust-pickle "
                f"(trust_pickle=True); or save it as TorchScript with "
                f"torch.jit.script(model).save(...) ({type(exc).__name__})"
            ) from exc
        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=False)
        except Exception as exc2:
            raise ModelError(f"{path}: cannot load as a PyTorch model ({exc2})") from exc2
    if isinstance(obj, torch.nn.Module):
        return obj
    if isinstance(obj, dict):
        raise ModelError(
            f"{path}: holds only weights (a state_dict with {len(obj)} entries), not a model; "
            "save the whole model with torch.jit.script(model).save(path) (preferred) or "
            "torch.save(model, path)"
        )
    raise ModelError(f"{path}: expected an nn.Module or TorchScript file (got {type(obj).__name__})")


def make_wrapper(
    model: Any,
    output_format: str,
    *,
    softmax: bool = False,
    channels_last: bool = False,
) -> Any:
    """An ``nn.Module`` computing ``model`` with the card's input layout and outputs."""
    torch: Any = require("torch", "train")
    names = output_names(output_format)
    if softmax and output_format != "chip_classifier":
        raise InputError(f"'softmax' applies to the chip_classifier format only (got {output_format!r})")

    class CardWrapper(torch.nn.Module):  # type: ignore[misc,name-defined]
        """NCHW float in → the format's outputs, in the format's order."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: Any) -> Any:
            if channels_last:
                x = x.permute(0, 2, 3, 1)
            out = self.model(x)
            if isinstance(out, dict):
                missing = [n for n in names if n not in out]
                if missing:
                    raise ModelError(
                        f"model returns a dict with keys {sorted(out)}; format "
                        f"{output_format!r} needs {list(names)}"
                    )
                outs = [out[n] for n in names]
            elif isinstance(out, list | tuple):
                outs = list(out)
            else:
                outs = [out]
            if len(outs) != len(names):
                raise ModelError(
                    f"model returns {len(outs)} outputs; format {output_format!r} needs "
                    f"{len(names)} in this order: {list(names)}"
                )
            if softmax:
                outs[0] = torch.softmax(outs[0], dim=-1)
            if channels_last:
                outs = [o.permute(0, 3, 1, 2) if o.dim() == 4 else o for o in outs]
            return tuple(outs)

    return CardWrapper().eval()


def export_torch(
    model: Any,
    target: str | Path,
    card: ModelCard,
    *,
    softmax: bool = False,
    channels_last: bool = False,
) -> Path:
    """Export ``model`` (an ``nn.Module``) to ``target`` as the card describes it."""
    torch: Any = require("torch", "train")
    wrapper = make_wrapper(model, card.output_format, softmax=softmax, channels_last=channels_last)
    names = list(output_names(card.output_format))
    h, w = card.input_size
    x = torch.zeros(1, 3, h, w)
    axes = {n: {0: "batch"} for n in [card.input_name, *names]}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # The TorchScript-based exporter needs no onnxscript and handles ScriptModules;
            # its tracer warnings are about Python control flow, checked by check_model.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper, (x,), str(target), input_names=[card.input_name], output_names=names,
                dynamic_axes=axes, opset_version=OPSET, dynamo=False,
            )
    except ModelError:
        raise
    except Exception as exc:  # tracing errors come in many types
        raise ModelError(
            f"cannot export the model to ONNX with input (1, 3, {h}, {w}) "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    return Path(target)
