"""Training data: a dataset spec (JSON), and labelled images loaded at a base GSD.

A spec names the sources of each split; paths are relative to the spec file::

    {"train": [{"images": "kit/images", "labels": "kit/labels", "format": "yolo",
                "classes": "kit/classes.txt", "gsd": 0.13, "list": "kit/splits/seqB.txt"}],
     "val":   [{"images": ..., "gsd": 0.13, "list": "kit/splits/seqC.txt"}]}

``gsd`` (metres per pixel) is required for every source: it is what lets one model see
drone, aerial and satellite imagery at the same scale. ``list`` (optional) is a file of
image names (one a line) inside ``images``; ``map`` (optional) adds class folds.

Partly labelled imagery (orthophotos labelled by hand in windows) adds, per source:
``ignore``, a CSV of regions (``image,xmin,ymin,xmax,ymax`` in pixels, the format of
``skyscan evaluate --ignore-regions``) where the loss is not applied (unverified objects,
outside the labelled window); ``negatives``, a CSV of the same columns naming verified
vehicle-free regions (forest, fields, water, roofs) that training draws hard-negative chips
from and that count as labelled even inside an ignore region; and ``weight``, how much more
often its images and objects are drawn than their area and count alone would give.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from skyscan.errors import ImageReadError, InputError, LabelError
from skyscan.evaluate.ignore import IgnoreRegions, read_ignore_regions
from skyscan.jsonfile import load_json_file
from skyscan.labels import ClassMapping, LabelSet, read_labels
from skyscan.labels.mapping import parse_overrides
from skyscan.labels.read import read_name_list
from skyscan.types import JsonObject

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceSpec:
    """One labelled image source of a split."""

    images: str
    labels: str
    fmt: str
    gsd: float
    classes: str | None = None
    names: tuple[str, ...] | None = None
    overrides: tuple[str, ...] = ()
    allow_missing: bool = False
    ignore: str | None = None
    negatives: str | None = None
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not self.gsd > 0:
            raise InputError(f"source {self.images}: 'gsd' must be > 0 metres (got {self.gsd})")
        if not (self.weight > 0 and np.isfinite(self.weight)):
            raise InputError(
                f"source {self.images}: 'weight' must be a finite number > 0 (got {self.weight})"
            )

    def regions(self) -> tuple[IgnoreRegions | None, IgnoreRegions | None]:
        """The source's ignore and vehicle-free regions (pixels of the original images)."""
        return (
            read_ignore_regions(self.ignore) if self.ignore else None,
            read_ignore_regions(self.negatives) if self.negatives else None,
        )

    def read(self, mapping: ClassMapping) -> LabelSet:
        m = (
            mapping.with_overrides(parse_overrides(list(self.overrides)))
            if self.overrides
            else mapping
        )
        return read_labels(
            self.images,
            self.labels,
            self.fmt,
            classes=self.classes,
            mapping=m,
            names=list(self.names) if self.names is not None else None,
            allow_missing=self.allow_missing,
        )

    def to_dict(self) -> JsonObject:
        out: JsonObject = {
            "images": self.images,
            "labels": self.labels,
            "format": self.fmt,
            "gsd": self.gsd,
        }
        if self.classes:
            out["classes"] = self.classes
        if self.names is not None:
            out["n_images"] = len(self.names)
        for key in ("ignore", "negatives"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.weight != 1.0:
            out["weight"] = self.weight
        return out


@dataclass(frozen=True)
class DataSpec:
    train: tuple[SourceSpec, ...]
    val: tuple[SourceSpec, ...] = ()
    source: str = "<spec>"


def _source_from(entry: JsonObject, base: Path, where: str) -> SourceSpec:
    try:
        images = str(base / entry["images"])
        labels = str(base / entry["labels"])
        fmt = str(entry.get("format", "yolo"))
        gsd = float(entry["gsd"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(
            f"{where}: each source needs 'images', 'labels' and 'gsd' ({type(exc).__name__}: {exc})"
        ) from exc
    names = tuple(read_name_list(base / entry["list"])) if entry.get("list") else None
    return SourceSpec(
        images=images,
        labels=labels,
        fmt=fmt,
        gsd=gsd,
        classes=str(base / entry["classes"]) if entry.get("classes") else None,
        names=names,
        overrides=tuple(entry.get("map", ())),
        allow_missing=bool(entry.get("allow_missing", False)),
        ignore=str(base / entry["ignore"]) if entry.get("ignore") else None,
        negatives=str(base / entry["negatives"]) if entry.get("negatives") else None,
        weight=_number(entry.get("weight", 1.0), f"{where}: 'weight'"),
    )


def _number(value: Any, what: str) -> float:  # a raw JSON value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number (got {value!r})") from None


def load_spec(path: str | Path) -> DataSpec:
    """Read a dataset spec JSON (see the module docstring)."""
    p = Path(path)
    data = load_json_file(p, "dataset spec", InputError)
    if not isinstance(data, dict) or not data.get("train"):
        raise InputError(f"{p}: dataset spec needs a non-empty 'train' list of sources")
    base = p.resolve().parent
    train = tuple(_source_from(e, base, f"{p} train[{i}]") for i, e in enumerate(data["train"]))
    val = tuple(_source_from(e, base, f"{p} val[{i}]") for i, e in enumerate(data.get("val", [])))
    return DataSpec(train, val, str(p))


@dataclass
class TrainImage:
    """An image resampled to ``gsd`` with its boxes in the resampled pixels."""

    pixels: npt.NDArray[np.uint8]  # (H, W, 3) RGB
    boxes: npt.NDArray[np.float32]  # (N, 4) xyxy
    labels: npt.NDArray[np.int64]
    gsd: float
    path: str
    weight: float = field(default=1.0)
    # xyxy regions in the resampled pixels: where the loss is off, and verified vehicle-free
    ignore: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    negatives: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 4), np.float32))


def read_rgb(path: str) -> npt.NDArray[np.uint8]:
    """The whole image as uint8 RGB (grayscale is repeated; alpha dropped)."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                arr = src.read()
    except RasterioIOError as exc:
        raise ImageReadError(f"{path}: cannot read image ({exc})") from exc
    if arr.dtype != np.uint8:
        raise ImageReadError(f"{path}: training images must be 8-bit (got {arr.dtype})")
    if arr.shape[0] == 1:
        arr = np.repeat(arr, 3, axis=0)
    return np.ascontiguousarray(arr[:3].transpose(1, 2, 0))


def resample(pixels: npt.NDArray[np.uint8], factor: float) -> npt.NDArray[np.uint8]:
    """Resize by ``factor`` (< 1 shrinks) with an antialiasing filter."""
    from PIL import Image

    h, w = pixels.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    if size == (w, h):
        return pixels
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS))


def load_images(
    sources: tuple[SourceSpec, ...], mapping: ClassMapping, base_gsd: float
) -> tuple[list[TrainImage], LabelSet]:
    """Read every source and resample its images to ``base_gsd`` (never upsampling)."""
    out: list[TrainImage] = []
    total: LabelSet | None = None
    for src in sources:
        labels = src.read(mapping)
        total = labels if total is None else total + labels
        factor = min(1.0, src.gsd / base_gsd)
        ignore, negatives = src.regions()
        for im in labels.images:
            pixels = read_rgb(im.image_path)
            if pixels.shape[:2] != (im.height, im.width):
                raise LabelError(
                    f"{im.image_path}: image is {pixels.shape[1]}x{pixels.shape[0]} but labels say {im.width}x{im.height}"
                )
            small = resample(pixels, factor)
            fy, fx = small.shape[0] / im.height, small.shape[1] / im.width
            scale = np.array([fx, fy, fx, fy])
            boxes = (im.boxes * scale).astype(np.float32)
            out.append(
                TrainImage(
                    small,
                    boxes,
                    im.labels.copy(),
                    src.gsd / factor,
                    im.image_path,
                    src.weight,
                    ignore=_scaled(ignore, im.image_path, scale),
                    negatives=_scaled(negatives, im.image_path, scale),
                )
            )
    if total is None:
        raise InputError("no training sources")
    return out, total


def _scaled(
    regions: IgnoreRegions | None, image_path: str, scale: npt.NDArray[np.float64]
) -> npt.NDArray[np.float32]:
    if regions is None:
        return np.zeros((0, 4), np.float32)
    return (regions.for_image(image_path) * scale).astype(np.float32)
