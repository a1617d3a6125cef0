"""Detectors: the protocol, model cards, backends, decoding and merging."""

from __future__ import annotations

from functools import lru_cache

from skyscan.detectors.base import Detector, DetectorRecipe, StagedDetector
from skyscan.detectors.card import ClassSpec, ModelCard, load_card, save_card
from skyscan.errors import InputError

__all__ = [
    "ClassSpec",
    "Detector",
    "DetectorRecipe",
    "ModelCard",
    "StagedDetector",
    "get_detector",
    "load_card",
    "recipe_card",
    "save_card",
]


@lru_cache(maxsize=8)
def get_detector(recipe: DetectorRecipe) -> Detector:
    """Build the detector a recipe describes, once per process (cached).

    This is the model factory that engines call on each worker, as Spark's
    ``predict_batch_udf`` does: the recipe travels, the live session does not.
    """
    from skyscan.detectors.registry import resolve_model

    path = resolve_model(recipe.model)
    if recipe.backend == "onnx":
        from skyscan.detectors.onnx_backend import OnnxDetector

        return OnnxDetector(
            path, threads=recipe.threads, score_threshold=recipe.score_threshold, tta=recipe.tta
        )
    raise InputError(f"'backend' must be 'onnx' (got {recipe.backend!r})")


def recipe_card(recipe: DetectorRecipe) -> ModelCard:
    """The card of the model a recipe names, read from disk: no ONNX session is built
    (what a driver, a manifest or a planner needs; ``get_detector`` builds one per recipe)."""
    from skyscan.detectors.registry import resolve_model

    return load_card(resolve_model(recipe.model))
