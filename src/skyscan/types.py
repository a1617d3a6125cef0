"""Small frozen value objects that flow through the pipeline.

Anything that holds coordinates also holds its CRS (``crs`` is ``None`` only for an
image with no georeferencing, which is an explicit state, see ``georef_source``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

# An affine transform in GDAL order is (c, a, b, f, d, e); skyscan uses the
# ``affine``/rasterio order (a, b, c, d, e, f): x = a*col + b*row + c, y = d*col + e*row + f.
AffineTuple = tuple[float, float, float, float, float, float]
BBox = tuple[float, float, float, float]  # (minx, miny, maxx, maxy)
# A JSON object as read or about to be written (reports, manifests, cards, STAC documents,
# the map's data, attributes joined to images): its values are whatever the JSON holds.
JsonObject: TypeAlias = dict[str, Any]

GEOREF_SOURCES = ("geotiff", "worldfile", "aux.xml", "sidecar", "user", "stac", "none")


@dataclass(frozen=True)
class ImageRef:
    """One input image, described but not read.

    ``transform`` maps pixel (col, row) corners to ``crs`` coordinates. ``gsd`` is the
    ground sample distance in metres per pixel (``None`` when unknown). ``metadata``
    holds joined attributes (sidecar XML, metadata table) that travel into every
    detection row.
    """

    image_id: str
    path: str
    width: int
    height: int
    count: int
    dtype: str
    crs: str | None = None  # WKT or "EPSG:n"; None means no georeferencing
    transform: AffineTuple | None = None
    gsd: float | None = None
    georef_source: str = "none"
    nodata: float | None = None
    # 1-based band indexes read as R, G, B ((1, 1, 1) for panchromatic).
    rgb_bands: tuple[int, int, int] = (1, 2, 3)
    # Source value range mapped linearly to 0..255 for non-uint8 data (None: use as is).
    value_range: tuple[float, float] | None = None
    metadata: JsonObject = field(default_factory=dict, hash=False, compare=False)
    # a mosaic's tiles (in its VRT's order): each one's id and attributes from the
    # metadata table, when it names them (a STAC mosaic: the items)
    tile_metadata: tuple[tuple[str, JsonObject], ...] = field(default=(), hash=False, compare=False)

    def __post_init__(self) -> None:
        from skyscan.errors import InputError

        if self.width <= 0 or self.height <= 0:
            raise InputError(
                f"{self.path}: image size must be positive (got {self.width}x{self.height})"
            )
        if self.georef_source not in GEOREF_SOURCES:
            raise InputError(
                f"'georef_source' must be one of {GEOREF_SOURCES} (got {self.georef_source!r})"
            )
        if (self.crs is None) != (self.transform is None):
            raise InputError(
                f"{self.path}: a transform needs a CRS and a CRS needs a transform "
                f"(got crs={self.crs!r}, transform={self.transform!r})"
            )
        if self.gsd is not None and not self.gsd > 0:
            raise InputError(f"{self.path}: 'gsd' must be > 0 metres (got {self.gsd})")

    @property
    def is_georeferenced(self) -> bool:
        return self.crs is not None

    @property
    def metadata_keys(self) -> list[str]:
        """The attributes its rows carry as ``meta_*`` columns (a mosaic's tiles' too)."""
        return sorted(set(self.metadata).union(*(attrs for _, attrs in self.tile_metadata)))


@dataclass(frozen=True)
class ChipWindow:
    """A window of an image, in source pixels, and the size it is resampled to.

    ``col_off``/``row_off``/``width``/``height`` are in source pixels (may extend past the
    image edge; the reader pads). ``out_width``/``out_height`` are the model input pixels.
    Scale from model pixels back to source pixels is ``width / out_width``.
    ``border_only``: a strip flush with the image's border, run for the vehicles the border
    cuts: only its detections near the border are kept (``DetectOptions.border_band``).
    """

    col_off: int
    row_off: int
    width: int
    height: int
    out_width: int
    out_height: int
    border_only: bool = False

    @property
    def scale_x(self) -> float:
        return self.width / self.out_width

    @property
    def scale_y(self) -> float:
        return self.height / self.out_height


@dataclass(frozen=True)
class ChipDetections:
    """Detections in one chip, in the chip's model-input pixel coordinates.

    ``boxes`` is (K, 4) float xyxy, ``scores`` (K,) float, ``labels`` (K,) int class
    indices into the model card's class list. ``class_scores`` (K, C), when the model
    gives them, holds every class's score at each detection (CenterNet: the heatmap of
    each class at the peak), so a merge across classes keeps what the runners-up scored.
    """

    boxes: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int64]
    class_scores: npt.NDArray[np.float32] | None = None

    def __post_init__(self) -> None:
        n = len(self.scores)
        if self.boxes.shape != (n, 4) or self.labels.shape != (n,):
            raise ValueError(
                f"ChipDetections arrays disagree: boxes {self.boxes.shape}, "
                f"scores {self.scores.shape}, labels {self.labels.shape}"
            )
        if self.class_scores is not None and (
            self.class_scores.ndim != 2 or len(self.class_scores) != n
        ):
            raise ValueError(
                f"ChipDetections 'class_scores' must be ({n}, C) (got {self.class_scores.shape})"
            )

    def take(self, keep: npt.NDArray[np.intp]) -> ChipDetections:
        """The detections at indices ``keep``, in that order."""
        scores = None if self.class_scores is None else self.class_scores[keep]
        return ChipDetections(self.boxes[keep], self.scores[keep], self.labels[keep], scores)

    @classmethod
    def empty(cls) -> ChipDetections:
        return cls(
            np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0,), np.int64)
        )

    def __len__(self) -> int:
        return len(self.scores)
