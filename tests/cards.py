"""A small model card for tests of chip planning: one class, any size in multiples of 8."""

from __future__ import annotations

from skyscan.detectors.card import ClassSpec, ModelCard


def centernet_card(**kw: object) -> ModelCard:
    """A 64 px CenterNet card at 0.25 m taking any multiple of 8; ``kw`` overrides fields."""
    base: dict[str, object] = {
        "name": "m",
        "classes": (ClassSpec("car", 18),),
        "input_size": (64, 64),
        "size_multiple": 8,
        "gsd": 0.25,
        "output_format": "centernet",
    }
    return ModelCard(**{**base, **kw})  # type: ignore[arg-type]
