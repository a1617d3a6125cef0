"""Keras 3 → ONNX through Keras's PyTorch backend (no TensorFlow needed).

On the ``torch`` backend a Keras model *is* a ``torch.nn.Module``, so it is exported like
a PyTorch model (:mod:`skyscan.convert.torch_export`). Keras image models are usually
channels-last (input ``(None, H, W, 3)``): they are traced with an NHWC input, and
:func:`skyscan.convert.graph.nchw_input` then puts a transpose in front of the graph
(and turns 4-D CenterNet heads back to NCHW).

Keras reads its backend once, from ``KERAS_BACKEND``, when it is first imported; this
module sets it to ``torch`` if it is unset and Keras is not imported yet, and refuses to
work with any other backend.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from skyscan.errors import MissingDependencyError, ModelError, require

if TYPE_CHECKING:
    import keras


def import_keras_torch() -> ModuleType:
    """Import Keras on the torch backend, or explain why that is not possible."""
    wanted = os.environ.get("KERAS_BACKEND")
    if "keras" not in sys.modules and wanted in (None, "", "torch"):
        os.environ["KERAS_BACKEND"] = "torch"  # read once by keras at import time
    keras = require("keras", "keras")
    backend = keras.backend.backend()
    if backend != "torch":
        raise MissingDependencyError(
            f"Keras is running on the {backend!r} backend; skyscan converts Keras models on the "
            "'torch' backend: run with KERAS_BACKEND=torch (set before Keras is imported)"
        )
    return keras


def load_keras_model(path: str | Path) -> keras.Model:
    """Load a ``.keras`` (or legacy ``.h5``) model with Keras's safe mode on."""
    keras = import_keras_torch()
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: Keras model file not found")
    try:
        return keras.saving.load_model(str(path), compile=False)
    except Exception as exc:  # keras raises ValueError, TypeError, OSError, ...
        raise ModelError(
            f"{path}: cannot load the Keras model ({type(exc).__name__}: {exc})"
        ) from exc


def is_channels_last(model: keras.Model, source: str | Path) -> bool:
    """Whether the model's image input is (None, H, W, 3) rather than (None, 3, H, W)."""
    shapes = [tuple(t.shape) for t in getattr(model, "inputs", None) or []]
    if len(shapes) != 1 or len(shapes[0]) != 4:
        raise ModelError(f"{source}: expected one 4-D image input (got input shapes {shapes})")
    shape = shapes[0]
    if shape[-1] == 3:
        return True
    if shape[1] == 3:
        return False
    raise ModelError(f"{source}: the image input must have 3 channels, first or last (got {shape})")
