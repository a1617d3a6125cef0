"""Model cards: the small JSON file beside every model that says how to run it.

A card lives next to the model as ``<model>.json`` (``vehicles.onnx`` → ``vehicles.json``)::

    {
      "name": "vehicles", "version": "1.0", "task": "detection",
      "framework": "onnx",
      "classes": [{"name": "car", "xview_type_id": 18}, {"name": "truck", "xview_type_id": 23},
                  {"name": "bus", "xview_type_id": 19}],
      "input": {"name": "images", "size": [256, 256], "channels": 3,
                "mean": [0.0, 0.0, 0.0], "std": [255.0, 255.0, 255.0]},
      "gsd": 0.25,
      "output": {"format": "centernet", "stride": 4},
      "score_threshold": 0.3, "nms_iou": 0.5, "max_object_m": 18.0,
      "training": {...}, "metrics": {...}
    }

``max_object_m`` is the longest object the model finds, in metres (18 for a bus): a run's
chips overlap by that much at the model's GSD by default, so every such object lies whole
in at least one chip and no more pixels than that are run twice.

Input pixels are fed as float32 NCHW RGB, ``(pixel - mean) / std`` per channel.
Output formats (see :mod:`skyscan.detectors.decode`):

``centernet``
    outputs ``heatmap`` (N, C, h, w) sigmoid scores, ``wh`` (N, 2, h, w) box width/height
    in input pixels, ``offset`` (N, 2, h, w) sub-cell centre offset in cells;
    ``stride`` = input size / h; ``box_scale`` = ``[longer, shorter]`` factors for each
    box's longer and shorter side, fitted on labelled data (``skyscan set-box-scale``;
    default ``[1, 1]``): the shipped model draws each box's shorter side about 12 % too
    long, on its training images as on held-out ones (docs/model.md, *Box size*).
``boxes``
    outputs ``boxes`` (N, K, 4) xyxy input pixels, ``scores`` (N, K), ``labels`` (N, K);
    rows with score 0 are padding.
``chip_classifier``
    output ``probs`` (N, C): one label per chip (the original pipeline's chip classifiers);
    a detection covers the whole chip. A class named ``background`` is never reported.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from skyscan.detectors.validated import ValidatedRange
from skyscan.errors import InputError, ModelError
from skyscan.jsonfile import load_json_file
from skyscan.types import JsonObject

OUTPUT_FORMATS = ("centernet", "boxes", "chip_classifier")
# a box-size correction outside this range is a wrong fit, not a model's bias
MIN_BOX_SCALE, MAX_BOX_SCALE = 0.5, 2.0
TASKS = ("detection", "chip_classification")


# The largest chip side a model that takes any size is run at: a chip is one array in
# memory (8192^2 RGB is 192 MiB as uint8 and 768 MiB as float32 model input).
MAX_CHIP_SIZE = 8192
# The largest chip side a model that takes any size runs at by default (the pipeline fits
# each image's chips under it: pipeline.chip_plan): larger chips recompute less overlap,
# and on this project's 2-core machine a model pixel costs the same in 512 and 1024 px
# chips (docs/performance.md, "Defaults chosen from the object").
THROUGHPUT_CHIP_SIZE = 1024
# The longest image side (model pixels) run as one chip fitted to the whole image by
# default: a 1024 px tile runs as one 1088 px chip with its edge pads (1.2 MP) instead of
# four of 584 px (1.4 MP), when that runs fewer model pixels.
MAX_FITTED_IMAGE_SIZE = 1024


@dataclass(frozen=True)
class ClassSpec:
    name: str
    xview_type_id: int | None = None


@dataclass(frozen=True)
class ModelCard:
    """Validated contents of a model card."""

    name: str
    classes: tuple[ClassSpec, ...]
    input_size: tuple[int, int]  # (height, width) in model pixels
    # A fully convolutional model takes any chip whose sides are multiples of this
    # (``input.size_multiple``; ``input_size`` is then its native size): bigger chips mean
    # less overlap to recompute. ``None``: ``input_size`` only.
    size_multiple: int | None = None
    # Model pixels of black beyond an image's edge that the model expects to see there
    # (``input.edge_pad``): a network trained on chips padded past image borders, where
    # labels leave out the vehicles cut by the border, tells those apart only when the
    # pipeline shows it the same padding. 0: chips stay inside the image.
    edge_pad: int = 0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (255.0, 255.0, 255.0)
    input_name: str = "images"
    gsd: float | None = None  # metres per pixel the model was trained at
    output_format: str = "boxes"
    stride: int = 4
    # ``output.box_scale``: (longer side, shorter side) factors of centernet boxes
    box_scale: tuple[float, float] = (1.0, 1.0)
    score_threshold: float = 0.3
    nms_iou: float = 0.5
    version: str = "0"
    task: str = "detection"
    framework: str = "onnx"
    # The imagery the model's figures were measured on (``validated``); None: undeclared.
    validated: ValidatedRange | None = None
    # The longest object the model finds, metres: the default chip overlap (None: undeclared).
    max_object_m: float | None = None
    extra: JsonObject = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        if not self.classes:
            raise ModelError(f"model card {self.name!r}: 'classes' must not be empty")
        if self.output_format not in OUTPUT_FORMATS:
            raise ModelError(
                f"model card {self.name!r}: 'output.format' must be one of {OUTPUT_FORMATS} "
                f"(got {self.output_format!r})"
            )
        if self.task not in TASKS:
            raise ModelError(
                f"model card {self.name!r}: 'task' must be one of {TASKS} (got {self.task!r})"
            )
        if min(self.input_size) <= 0:
            raise ModelError(
                f"model card {self.name!r}: 'input.size' must be positive (got {self.input_size})"
            )
        if self.size_multiple is not None:
            if (
                self.size_multiple <= 0
                or self.input_size[0] % self.size_multiple
                or self.input_size[0] != self.input_size[1]
            ):
                raise ModelError(
                    f"model card {self.name!r}: 'input.size_multiple' must be positive and divide a square "
                    f"'input.size' (got {self.size_multiple} for {self.input_size})"
                )
            if self.output_format == "chip_classifier":
                raise ModelError(
                    f"model card {self.name!r}: a chip classifier takes one chip size ('input.size_multiple' is for detectors)"
                )
        if not 0 <= self.edge_pad < min(self.input_size):
            raise ModelError(
                f"model card {self.name!r}: 'input.edge_pad' must be in [0, {min(self.input_size)}) model pixels "
                f"(got {self.edge_pad})"
            )
        if self.gsd is not None and not self.gsd > 0:
            raise ModelError(f"model card {self.name!r}: 'gsd' must be > 0 metres (got {self.gsd})")
        if self.max_object_m is not None and not (
            math.isfinite(self.max_object_m) and self.max_object_m > 0
        ):
            raise ModelError(
                f"model card {self.name!r}: 'max_object_m' must be > 0 metres (got {self.max_object_m})"
            )
        if not all(MIN_BOX_SCALE <= f <= MAX_BOX_SCALE for f in self.box_scale):
            raise ModelError(
                f"model card {self.name!r}: 'output.box_scale' factors must be in "
                f"[{MIN_BOX_SCALE}, {MAX_BOX_SCALE}] (got {list(self.box_scale)})"
            )
        if not 0.0 <= self.score_threshold <= 1.0:
            raise ModelError(
                f"model card {self.name!r}: 'score_threshold' must be in [0, 1] (got {self.score_threshold})"
            )

    def chip_size(self, requested: int | None) -> int:
        """The chip side in model pixels for a run asking for ``requested``. ``None``: the
        default, the native input size, or for a model that takes any size the multiple of
        ``size_multiple`` nearest above :data:`THROUGHPUT_CHIP_SIZE` (never below native)."""
        native = self.input_size[0]
        if requested is None and self.size_multiple is not None:
            m = self.size_multiple
            return max(native, -(-THROUGHPUT_CHIP_SIZE // m) * m)
        if requested is None or requested == native:
            return native
        if self.size_multiple is None:
            raise InputError(
                f"model {self.model_id} takes {self.input_size[0]}x{self.input_size[1]} px chips only "
                f"(its card has no 'input.size_multiple'); got a chip size of {requested}"
            )
        if requested > MAX_CHIP_SIZE:
            raise InputError(
                f"model {self.model_id}: chip size must be at most {MAX_CHIP_SIZE} px (got {requested}): "
                "one chip is read, held and run whole"
            )
        if requested < self.size_multiple or requested % self.size_multiple:
            raise InputError(
                f"model {self.model_id}: chip size must be a positive multiple of {self.size_multiple} px "
                f"(got {requested})"
            )
        return requested

    def fits_one_chip(self, requested: int | None, longest_px: float) -> bool:
        """Whether an image whose longest side is ``longest_px`` model pixels may run as one
        chip fitted to it: not when the run asked for a chip size, the model takes one
        size only, or the image is longer than :data:`MAX_FITTED_IMAGE_SIZE`."""
        if requested is not None or self.size_multiple is None or self.task != "detection":
            return False
        return round(longest_px, 6) <= MAX_FITTED_IMAGE_SIZE  # round: float noise

    def whole_multiple(self, px: float) -> int:
        """``px`` model pixels rounded up to a whole multiple of ``size_multiple`` (at least
        one); :class:`InputError` for a model that takes one size only."""
        if self.size_multiple is None:
            raise InputError(f"model {self.model_id} takes one chip size only")
        m = self.size_multiple
        return max(m, math.ceil(round(px, 6) / m) * m)  # round: no extra multiple for float noise

    @property
    def overlap_px(self) -> int | None:
        """Model pixels the longest object spans at the model's GSD (``max_object_m / gsd``,
        rounded up): the default overlap of neighbouring chips. ``None`` when the card does
        not declare both."""
        if self.max_object_m is None or self.gsd is None:
            return None
        return math.ceil(self.max_object_m / self.gsd - 1e-9)

    @property
    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    @property
    def model_id(self) -> str:
        return f"{self.name}@{self.version}"

    @classmethod
    def from_dict(cls, data: JsonObject, source: str = "<dict>") -> ModelCard:
        try:
            inp = data.get("input", {})
            out = data.get("output", {})
            classes = tuple(
                ClassSpec(
                    str(c["name"]),
                    None if c.get("xview_type_id") is None else int(c["xview_type_id"]),
                )
                if isinstance(c, dict)
                else ClassSpec(str(c))
                for c in data["classes"]
            )
            size = inp.get("size", [256, 256])
            known = {
                "name",
                "classes",
                "input",
                "gsd",
                "output",
                "score_threshold",
                "nms_iou",
                "version",
                "task",
                "framework",
                "validated",
                "max_object_m",
            }
            return cls(
                name=str(data.get("name", Path(source).stem)),
                classes=classes,
                input_size=(int(size[0]), int(size[1])),
                size_multiple=None
                if inp.get("size_multiple") is None
                else int(inp["size_multiple"]),
                edge_pad=int(inp.get("edge_pad", 0)),
                mean=tuple(float(v) for v in inp.get("mean", (0.0, 0.0, 0.0))),  # type: ignore[arg-type]
                std=tuple(float(v) for v in inp.get("std", (255.0, 255.0, 255.0))),  # type: ignore[arg-type]
                input_name=str(inp.get("name", "images")),
                gsd=None if data.get("gsd") is None else float(data["gsd"]),
                output_format=str(out.get("format", "boxes")),
                stride=int(out.get("stride", 4)),
                box_scale=_pair(out.get("box_scale", (1.0, 1.0)), "output.box_scale"),
                score_threshold=float(data.get("score_threshold", 0.3)),
                nms_iou=float(data.get("nms_iou", 0.5)),
                version=str(data.get("version", "0")),
                task=str(data.get("task", "detection")),
                framework=str(data.get("framework", "onnx")),
                validated=None
                if data.get("validated") is None
                else ValidatedRange.from_dict(data["validated"]),
                max_object_m=None
                if data.get("max_object_m") is None
                else float(data["max_object_m"]),
                extra={k: v for k, v in data.items() if k not in known},
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            if isinstance(exc, ModelError):
                raise
            raise ModelError(f"{source}: invalid model card ({type(exc).__name__}: {exc})") from exc

    def to_dict(self) -> JsonObject:
        return {
            "name": self.name,
            "version": self.version,
            "task": self.task,
            "framework": self.framework,
            "classes": [{"name": c.name, "xview_type_id": c.xview_type_id} for c in self.classes],
            "input": {
                "name": self.input_name,
                "size": list(self.input_size),
                "channels": 3,
                "mean": list(self.mean),
                "std": list(self.std),
                **({"size_multiple": self.size_multiple} if self.size_multiple else {}),
                **({"edge_pad": self.edge_pad} if self.edge_pad else {}),
            },
            "gsd": self.gsd,
            "output": {
                "format": self.output_format,
                "stride": self.stride,
                **({"box_scale": list(self.box_scale)} if self.box_scale != (1.0, 1.0) else {}),
            },
            "score_threshold": self.score_threshold,
            "nms_iou": self.nms_iou,
            **({"max_object_m": self.max_object_m} if self.max_object_m is not None else {}),
            **({"validated": self.validated.to_dict()} if self.validated else {}),
            **self.extra,
        }


def _pair(value: object, key: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"'{key}' must be a list of two numbers (got {value!r})")
    return float(value[0]), float(value[1])


def card_path_for(model_path: str | Path) -> Path:
    """The card that belongs to a model file: same name, ``.json`` suffix."""
    return Path(model_path).with_suffix(".json")


def load_card(model_path: str | Path) -> ModelCard:
    """Load and validate the card beside ``model_path``; a missing card is an error."""
    path = card_path_for(model_path)
    if not path.is_file():
        raise ModelError(
            f"{model_path}: no model card found (expected {path}); every model needs a card "
            "naming its classes, input size, GSD, normalisation and output format"
        )
    data = load_json_file(path, "model card (JSON)", ModelError)
    if not isinstance(data, dict):
        raise ModelError(f"{path}: model card must be a JSON object")
    return ModelCard.from_dict(data, source=str(path))


def rewrite_card(model_path: str | Path, edit: Callable[[JsonObject], None]) -> ModelCard:
    """Load the card beside ``model_path``, let ``edit`` change its JSON, check and save it."""
    data = load_card(model_path).to_dict()
    edit(data)
    card = ModelCard.from_dict(data, source=str(model_path))
    save_card(card, model_path)
    return card


def save_card(card: ModelCard, model_path: str | Path) -> Path:
    path = card_path_for(model_path)
    path.write_text(json.dumps(card.to_dict(), indent=2) + "\n", encoding="utf-8")
    return path
