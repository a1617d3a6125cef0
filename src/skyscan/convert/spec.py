"""What a converted model must look like: output names per card format, and the card.

Each output format of :mod:`skyscan.detectors.card` fixes the names (and order) of the
model's outputs. Converters name a source model's outputs in this order, and
:func:`build_card` turns command-line style options into a validated
:class:`~skyscan.detectors.card.ModelCard`.
"""

from __future__ import annotations

from collections.abc import Sequence

from skyscan.detectors.card import OUTPUT_FORMATS, ClassSpec, ModelCard
from skyscan.errors import InputError
from skyscan.schema import XVIEW_TYPE_IDS
from skyscan.types import JsonObject

# Output names in the order a source model returns them (a tuple, or a dict with these keys).
OUTPUT_NAMES: dict[str, tuple[str, ...]] = {
    "centernet": ("heatmap", "wh", "offset"),
    "boxes": ("boxes", "scores", "labels"),
    "chip_classifier": ("probs",),
}
INPUT_NAME = "images"


def output_names(output_format: str) -> tuple[str, ...]:
    """The output names a model of ``output_format`` must have, in order."""
    try:
        return OUTPUT_NAMES[output_format]
    except KeyError:
        raise InputError(
            f"'format' must be one of {OUTPUT_FORMATS} (got {output_format!r})"
        ) from None


def parse_classes(text: str | Sequence[str]) -> tuple[ClassSpec, ...]:
    """``"car,truck,bus"`` or ``"car:18,boat:40"`` → class specs.

    A class without an explicit ``:id`` gets its xView type id when it is one of the
    vehicle classes skyscan knows (car 18, bus 19, truck 23), else none.

    >>> [(c.name, c.xview_type_id) for c in parse_classes("background,car,van:17")]
    [('background', None), ('car', 18), ('van', 17)]
    """
    items = [s.strip() for s in (text.split(",") if isinstance(text, str) else text)]
    items = [s for s in items if s]
    if not items:
        raise InputError(f"'classes' must name at least one class (got {text!r})")
    specs = []
    for item in items:
        name, _, type_id = item.partition(":")
        name = name.strip()
        if not name:
            raise InputError(f"'classes': empty class name in {text!r}")
        if type_id.strip():
            try:
                specs.append(ClassSpec(name, int(type_id)))
            except ValueError:
                raise InputError(
                    f"'classes': xView type id of {name!r} must be an integer (got {type_id!r})"
                ) from None
        else:
            specs.append(ClassSpec(name, XVIEW_TYPE_IDS.get(name)))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise InputError(f"'classes' must not repeat a name (got {names})")
    return tuple(specs)


def parse_size(text: str | int | Sequence[int]) -> tuple[int, int]:
    """``256`` or ``"256"`` (square) or ``"256x320"`` (height x width) → (height, width)."""
    if isinstance(text, int):
        values = [text]
    elif isinstance(text, str):
        try:
            values = [int(v) for v in text.lower().replace(",", "x").split("x")]
        except ValueError:
            raise InputError(f"'input_size' must be N or HxW pixels (got {text!r})") from None
    else:
        values = [int(v) for v in text]
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) <= 0:
        raise InputError(f"'input_size' must be N or HxW positive pixels (got {text!r})")
    return values[0], values[1]


def parse_triplet(name: str, text: str | Sequence[float]) -> tuple[float, float, float]:
    """``"0,0,0"`` or one number for all three channels → an RGB triplet."""
    try:
        values = (
            [float(v) for v in text.split(",")]
            if isinstance(text, str)
            else [float(v) for v in text]
        )
    except ValueError:
        raise InputError(
            f"{name!r} must be 1 or 3 comma-separated numbers (got {text!r})"
        ) from None
    if len(values) == 1:
        values = values * 3
    if len(values) != 3:
        raise InputError(f"{name!r} must be 1 or 3 comma-separated numbers (got {text!r})")
    return values[0], values[1], values[2]


def build_card(
    *,
    name: str,
    classes: str | Sequence[str],
    input_size: str | int | Sequence[int],
    output_format: str,
    gsd: float | None = None,
    mean: str | Sequence[float] = (0.0, 0.0, 0.0),
    std: str | Sequence[float] = (255.0, 255.0, 255.0),
    stride: int = 4,
    score_threshold: float = 0.3,
    nms_iou: float = 0.5,
    version: str = "1.0",
    input_name: str = INPUT_NAME,
    extra: JsonObject | None = None,
) -> ModelCard:
    """A validated model card from plain options (the shape of ``skyscan convert``'s)."""
    output_names(output_format)  # validates the format with an InputError
    std_t = parse_triplet("std", std)
    if any(v == 0 for v in std_t):
        raise InputError(f"'std' must not contain 0 (got {std_t})")
    return ModelCard(
        name=name,
        classes=parse_classes(classes),
        input_size=parse_size(input_size),
        mean=parse_triplet("mean", mean),
        std=std_t,
        input_name=input_name,
        gsd=gsd,
        output_format=output_format,
        stride=stride,
        score_threshold=score_threshold,
        nms_iou=nms_iou,
        version=version,
        task="chip_classification" if output_format == "chip_classifier" else "detection",
        framework="onnx",
        extra=extra or {},
    )
