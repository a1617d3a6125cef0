"""TensorFlow SavedModel → ONNX with ``tf2onnx`` (optional; untested in skyscan's CI).

TensorFlow and tf2onnx are large and not skyscan dependencies: this path runs only when
both are installed (``pip install tensorflow tf2onnx``). tf2onnx runs as its own process
(``python -m tf2onnx.convert``); its channels-last graph is then given an NCHW input by
:func:`skyscan.convert.graph.nchw_input`, like every other channels-last model.
"""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys
from pathlib import Path

from skyscan.errors import MissingDependencyError, ModelError

logger = logging.getLogger(__name__)

OPSET = 17
INSTALL = "pip install tensorflow tf2onnx"


def is_saved_model(path: str | Path) -> bool:
    """A SavedModel is a directory holding ``saved_model.pb``."""
    return (Path(path) / "saved_model.pb").is_file()


def saved_model_to_onnx(source: str | Path, target: str | Path) -> Path:
    """Convert a SavedModel directory to a (channels-last) ONNX file at ``target``."""
    missing = [m for m in ("tensorflow", "tf2onnx") if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingDependencyError(
            f"{source}: converting a TensorFlow SavedModel needs {' and '.join(missing)}, which "
            f"skyscan does not install; install them with: {INSTALL} "
            "(or export the model to ONNX yourself and pass the .onnx to skyscan convert)"
        )
    cmd = [
        sys.executable,
        "-m",
        "tf2onnx.convert",
        "--saved-model",
        str(source),
        "--output",
        str(target),
        "--opset",
        str(OPSET),
    ]
    logger.info("running %s", " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not Path(target).is_file():
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise ModelError(f"{source}: tf2onnx failed (exit {proc.returncode}): {tail}")
    return Path(target)
