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
from typing import TYPE_CHECKING

from skyscan.convert.spec import output_names
from skyscan.detectors.card import ModelCard
from skyscan.errors import ModelError, require

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

OPSET = 17


def load_torch_module(path: str | Path, *, trust_pickle: bool = False) -> torch.nn.Module:
    """A TorchScript file, or (with ``trust_pickle``) a whole pickled ``nn.Module``.

    A file that holds only weights (a ``state_dict``) cannot be converted: the
    architecture is code that the file does not contain; the error says how to save a
    convertible file.
    """
    torch = require("torch", "convert")
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: PyTorch model file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", DeprecationWarning
            )  # jit.load is deprecated, still the loader of .pt TorchScript
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
    raise ModelError(
        f"{path}: expected an nn.Module or TorchScript file (got {type(obj).__name__})"
    )


def make_wrapper(model: torch.nn.Module, output_format: str) -> torch.nn.Module:
    """An ``nn.Module`` returning ``model``'s outputs as a tuple in the format's order.

    A model may return one tensor, a tuple/list, or a dict keyed by the format's output
    names. TorchScript modules are exported as they are (the tracer cannot step into
    them from a Python wrapper), so they must return a tensor or a tuple.
    """
    require("torch", "convert")
    from torch import Tensor, nn

    names = output_names(output_format)

    class CardOutputs(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: Tensor) -> tuple[Tensor, ...]:
            out = self.model(x)
            if isinstance(out, dict):
                missing = [n for n in names if n not in out]
                if missing:
                    raise ModelError(
                        f"the model returns a dict with keys {sorted(out)}; format "
                        f"{output_format!r} needs {list(names)}"
                    )
                return tuple(out[n] for n in names)
            return tuple(out) if isinstance(out, list | tuple) else (out,)

    return CardOutputs().eval()


def export_torch(
    model: torch.nn.Module,
    target: str | Path,
    card: ModelCard,
    *,
    channels_last: bool = False,
    opset: int = OPSET,
) -> Path:
    """Export ``model`` (an ``nn.Module`` or TorchScript module) to ``target``.

    The graph's input is named as the card says and has a dynamic batch axis; its outputs
    get the card format's names in the order the model returns them. A ``channels_last``
    model is traced with an NHWC input; :func:`skyscan.convert.graph.nchw_input` then puts
    the transpose in front.
    """
    torch = require("torch", "convert")
    names = list(output_names(card.output_format))
    is_script = isinstance(model, torch.jit.ScriptModule)
    module = model if is_script else make_wrapper(model, card.output_format)
    if not is_script:
        module.eval()
    h, w = card.input_size
    x = torch.zeros(1, h, w, 3) if channels_last else torch.zeros(1, 3, h, w)
    axes = {n: {0: "batch"} for n in [card.input_name, *names]}
    _check_output_count(module, x, names, card.output_format)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # The TorchScript-based exporter needs no onnxscript and handles ScriptModules;
            # its tracer warnings are about Python control flow, which check_model exercises.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                (x,),
                str(target),
                input_names=[card.input_name],
                output_names=names,
                dynamic_axes=axes,
                opset_version=opset,
                dynamo=False,
            )
    except ModelError:
        raise
    except Exception as exc:  # tracing errors come in many types
        raise ModelError(
            f"cannot export the model to ONNX with input {tuple(x.shape)} "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    return Path(target)


def _check_output_count(
    module: torch.nn.Module, x: torch.Tensor, names: list[str], output_format: str
) -> None:
    """Run the module once so a wrong number of outputs is named before tracing."""
    torch = require("torch", "convert")
    try:
        with torch.no_grad():
            out = module(x)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(
            f"the model fails on a zero input of shape {tuple(x.shape)} ({type(exc).__name__}: {exc})"
        ) from exc
    n = len(out) if isinstance(out, list | tuple) else 1
    if n != len(names):
        raise ModelError(
            f"the model returns {n} output(s); format {output_format!r} needs outputs {names} "
            "in this order"
        )
