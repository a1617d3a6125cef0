"""Bring your own model: convert PyTorch, Keras or TensorFlow models to ONNX with a checked card.

>>> from skyscan.convert import build_card, convert          # doctest: +SKIP
>>> card = build_card(name="cars", classes="car", input_size=256, output_format="boxes")
>>> convert("model.pt", card, "cars.onnx")                   # writes cars.onnx + cars.json

Heavy dependencies (torch, keras, onnx, onnxruntime) are imported inside the functions
that need them.
"""

from __future__ import annotations

from skyscan.convert.api import FRAMEWORKS, ConvertResult, check_card, convert, detect_framework
from skyscan.convert.check import CheckReport, check_model
from skyscan.convert.spec import OUTPUT_NAMES, build_card, output_names

__all__ = [
    "FRAMEWORKS",
    "OUTPUT_NAMES",
    "CheckReport",
    "ConvertResult",
    "build_card",
    "check_card",
    "check_model",
    "convert",
    "detect_framework",
    "output_names",
]
