"""The per-image pipeline as pure-ish functions that any engine can run.

    ImageRef ──plan_units──► WorkUnit(s) ──detect_units──► raw detections (per unit or run of units)
                                      all units of an image ──finalize_image──► detection rows

A large image is split into several work units (ranges of chip windows), so that an
engine can spread one scene over many tasks; merging across chips happens once per
image in :func:`finalize_image`, after all its units are done. Engines adapt these
functions; they never re-implement them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby
from typing import TypeVar

import numpy as np
import pyarrow as pa
import shapely

from skyscan import arrow_arrays
from skyscan.chips import (
    MAX_OVERLAP,
    axis_offsets,
    chip_boxes_to_image,
    chip_size_in_source,
    chip_stride,
    fitted_chip_side,
    interior_edges,
    plan_chips,
)
from skyscan.detectors import Detector, DetectorRecipe, ModelCard, StagedDetector
from skyscan.detectors.merge import merge_detections, touches_interior_edge
from skyscan.errors import InputError
from skyscan.geo.aoi import AreaOfInterest, inside, touching
from skyscan.io.mosaic import row_image_ids, row_tiles, window_groups
from skyscan.io.reader import ImageReader, ReadOptions
from skyscan.io.remote import display_path
from skyscan.schema import DETECTION_SCHEMA, METADATA_PREFIX, XVIEW_TYPE_IDS
from skyscan.types import ChipDetections, ChipWindow, ImageRef

logger = logging.getLogger(__name__)
T = TypeVar("T")

RAW_SCHEMA = pa.schema(
    [
        pa.field("image_id", pa.string()),
        pa.field("unit_index", pa.int32()),
        pa.field("px_xmin", pa.float64()),
        pa.field("px_ymin", pa.float64()),
        pa.field("px_xmax", pa.float64()),
        pa.field("px_ymax", pa.float64()),
        pa.field("score", pa.float32()),
        pa.field("class_id", pa.int32()),
        pa.field("cut", pa.bool_()),
        pa.field(
            "class_scores", pa.list_(pa.float32())
        ),  # every class's score; [] when the model gives none
        pa.field("chip_col_off", pa.int32()),
        pa.field("chip_row_off", pa.int32()),
        pa.field("chip_width", pa.int32()),
        pa.field("chip_height", pa.int32()),
    ]
)
# Merge order of raw rows: top to bottom, left to right, then the higher score first,
# so the merge keeps the same boxes whichever order the units arrived in.
MERGE_ORDER = (
    "px_ymin",
    "px_xmin",
    "px_ymax",
    "px_xmax",
    "class_id",
    "score",
    "chip_row_off",
    "chip_col_off",
)


DEFAULT_BATCH_PIXELS = 16 * 256 * 256
# The overlap of a model whose card declares no longest object (``max_object_m``).
FALLBACK_OVERLAP = 0.2
TRUNCATED_MODEL_PX = 2.0  # a box this close to the image border is flagged ``truncated``


@dataclass(frozen=True)
class DetectOptions:
    """Everything that decides what a detection run produces (validated, picklable)."""

    recipe: DetectorRecipe = field(default_factory=DetectorRecipe)
    read: ReadOptions = field(default_factory=ReadOptions)
    # fraction of a chip shared with its neighbour; None: the card's longest object
    # (max_object_m at its GSD) over the chip, or FALLBACK_OVERLAP if it declares none
    overlap: float | None = None
    # chip side in model pixels; None: the card's default (ModelCard.chip_size), or one chip
    # fitted to a small image (fitted_window) when that runs fewer pixels. Only models
    # whose card has 'input.size_multiple' (fully convolutional) take other sizes.
    chip_size: int | None = None
    # chips read, normalised and decoded together (the ONNX backend still runs the model
    # one chip per call); None: about 1 MP of chips (16 of 256 px)
    batch_size: int | None = None
    # model pixels of padding the chips at an image's edges reach past it; None: the card's
    # input.edge_pad (what the model was trained to see there)
    edge_pad: int | None = None
    # model pixels from the border within which detections come from strips flush with it
    # (when the chips carry an edge pad; 0: no strips); None: BORDER_BAND
    border_band: int | None = None
    chips_per_unit: int = 64  # a work unit (one engine task) holds at most this many chips
    containment: float = 0.5  # a cut box this much inside another box is the same object
    # Merge overlapping boxes of one class only; by default one object is one row whatever
    # classes its views were given (the best class wins, ``class_scores`` keeps the rest).
    class_aware_merge: bool = False
    # Refuse images outside the model card's validated range (an error row each) instead
    # of processing them with ``in_validated_range`` false.
    strict_range: bool = False
    # Refuse images coarser than model GSD x this: upsampling invents no vehicles, and a
    # 300 m Landsat scene would otherwise become millions of one-pixel chips.
    max_upsample: float = 4.0
    # only chips that touch this area are read, only detections centred in it are kept
    aoi: AreaOfInterest | None = None

    def __post_init__(self) -> None:
        if self.overlap is not None and not 0.0 <= self.overlap <= MAX_OVERLAP:
            raise InputError(f"'overlap' must be in [0, {MAX_OVERLAP}] (got {self.overlap})")
        if self.batch_size is not None and self.batch_size < 1:
            raise InputError(f"'batch_size' must be >= 1 (got {self.batch_size})")
        if self.edge_pad is not None and self.edge_pad < 0:
            raise InputError(f"'edge_pad' must be >= 0 model pixels (got {self.edge_pad})")
        if self.border_band is not None and not 0 <= self.border_band < BORDER_STRIP:
            raise InputError(
                f"'border_band' must be in [0, {BORDER_STRIP}) model pixels (got {self.border_band})"
            )
        if self.chip_size is not None and self.chip_size < 1:
            raise InputError(f"'chip_size' must be >= 1 model pixel (got {self.chip_size})")
        if self.chips_per_unit < 1:
            raise InputError(f"'chips_per_unit' must be >= 1 (got {self.chips_per_unit})")
        if not self.max_upsample >= 1.0:
            raise InputError(f"'max_upsample' must be >= 1 (got {self.max_upsample})")
        if not 0.0 < self.containment <= 1.0:
            raise InputError(f"'containment' must be in (0, 1] (got {self.containment})")

    def check_against(self, card: ModelCard) -> None:
        """Refuse options this model cannot run (:class:`InputError`), before any image is
        opened: a chip size the card does not take, an edge pad not smaller than the chip."""
        self.edge_pad_for(card)

    def edge_pad_for(self, card: ModelCard) -> int:
        """The edge pad a run of ``card``'s model uses, in model pixels (0 for a chip
        classifier, whose chips tile the image); :class:`InputError` if not smaller than
        the chip."""
        if card.output_format == "chip_classifier":
            card.chip_size(self.chip_size)
            return 0
        out_size = card.chip_size(self.chip_size)
        pad = card.edge_pad if self.edge_pad is None else self.edge_pad
        if pad >= out_size:
            raise InputError(f"'edge_pad' must be less than the {out_size} px chip (got {pad})")
        return pad

    def border_band_for(self, card: ModelCard) -> int:
        """The border band a run of ``card``'s model uses, in model pixels: 0 unless its
        chips carry an edge pad and the model takes strips (any size)."""
        if self.edge_pad_for(card) == 0 or card.size_multiple is None:
            return 0
        return BORDER_BAND if self.border_band is None else self.border_band

    def overlap_for(self, card: ModelCard) -> float:
        """The chip overlap (fraction of a chip) a run of ``card``'s model uses: the option
        if given; else the card's longest object over the chip (at most
        :data:`~skyscan.chips.MAX_OVERLAP`), so the object lies whole in some chip and no
        more is run twice; :data:`FALLBACK_OVERLAP` for a card that declares no
        ``max_object_m``; 0 for a chip classifier, whose chips tile the image."""
        if card.output_format == "chip_classifier":
            return 0.0
        if self.overlap is not None:
            return self.overlap
        px = card.overlap_px
        if px is None:
            return FALLBACK_OVERLAP
        return min(MAX_OVERLAP, px / card.chip_size(self.chip_size))

    def fits_chips_for(self, card: ModelCard) -> bool:
        """Whether each image's chips are fitted under the chip size (:func:`chip_plan`):
        by default, for a detector that takes any size."""
        return (
            self.chip_size is None and card.size_multiple is not None and card.task == "detection"
        )

    def chips_per_batch(self, chip_size: int) -> int:
        """Chips per batch for chips of ``chip_size`` model pixels: ``batch_size`` if given,
        else as many as make about one megapixel (16 at 256 px, 1 at 1024 px). A batch
        shares the reader's, the normalisation's and the decoder's per-call costs; the
        model itself runs ``OnnxDetector.chips_per_run`` chips per call."""
        if self.batch_size is not None:
            return self.batch_size
        return max(1, DEFAULT_BATCH_PIXELS // (chip_size * chip_size))


@dataclass(frozen=True)
class WorkUnit:
    """A range of chip windows of one image: the unit of work an engine schedules."""

    image: ImageRef
    windows: tuple[ChipWindow, ...]
    unit_index: int
    n_units: int


ChipBatch = Sequence[tuple[WorkUnit, ChipWindow]]  # one batch's chips, each with its unit


def plan_units(ref: ImageRef, card: ModelCard, options: DetectOptions) -> list[WorkUnit]:
    """Chip an image at the model's GSD and group the chips into work units.

    With ``options.aoi``, only chips that touch the area; none (``[]``) when the image
    misses it."""
    out_size = card.chip_size(options.chip_size)
    if ref.gsd is not None and card.gsd is not None and ref.gsd > card.gsd * options.max_upsample:
        raise InputError(
            f"{ref.path}: image GSD {ref.gsd:.3g} m is too coarse for model {card.model_id} "
            f"(trained at {card.gsd:.3g} m; at most {options.max_upsample:g}x upsampling): "
            "vehicles are not resolved at this resolution"
        )
    if card.validated is not None:
        in_range, why = card.validated.check(ref)
        if not in_range and options.strict_range:
            raise InputError(
                f"{ref.path}: outside the validated range of model {card.model_id}: {why}; "
                "refused under --strict-range"
            )
        if not in_range:
            logger.warning(
                "%s: %s, outside the validated range of model %s: detections are flagged "
                "in_validated_range=%s",
                ref.path,
                why,
                card.model_id,
                "null" if in_range is None else "false",
                extra={"skyscan_kind": "outside_validated_range"},
            )
    out_size, overlap = chip_plan(ref, card, options)
    chip_src = chip_size_in_source(out_size, ref.gsd, card.gsd)
    pad = options.edge_pad_for(card)
    margin = round(pad * chip_src / out_size)
    windows = plan_chips(
        ref.width,
        ref.height,
        chip_src=chip_src,
        out_size=out_size,
        overlap=overlap,
        margin=min(margin, chip_src - 1),
    )
    fitted = fitted_window(ref, card, options.chip_size, pad)
    if fitted is not None and model_pixels([fitted]) <= model_pixels(windows):
        # one chip fitted to the whole image runs fewer model pixels (or as many, when the
        # grid is one chip too: then this one, centred as it always was)
        windows = [fitted]
    one_chip = windows == [fitted]
    if options.border_band_for(card):
        # one strip a side where one chip runs the image; else pieces at the chips' offsets
        piece = max(ref.width, ref.height) if one_chip else chip_src
        windows += border_strips(ref, card, piece, out_size, overlap)
    if options.aoi is not None:
        # the same plan, less the chips away from the area: kept chips are where they
        # would be without it, so detections inside the area are the same
        keep = touching(options.aoi.in_pixels(ref), windows)
        windows = [w for w, k in zip(windows, keep, strict=True) if k]
        if not windows:
            return []  # the image misses the area: nothing to read
    # a mosaic's chips go to units by the tile they start in (one group otherwise)
    step = options.chips_per_unit
    chunks = [
        group[i : i + step]
        for group in window_groups(ref, windows)
        for i in range(0, len(group), step)
    ]
    return [WorkUnit(ref, tuple(chunk), i, len(chunks)) for i, chunk in enumerate(chunks)]


def chip_plan(ref: ImageRef, card: ModelCard, options: DetectOptions) -> tuple[int, float]:
    """The chip side (model pixels) and overlap (fraction of a chip) for ``ref``.

    A requested ``chip_size`` is used as it is. By default, for a model that takes any
    size, the card's chip side is a cap: the image, with its edge pads, takes the square
    chips from half the cap to the cap that run the fewest model pixels, each fitted to
    share it evenly while still overlapping by the card's longest object
    (:func:`~skyscan.chips.fitted_chip_side`; a 10,000 px scene: 11 × 11 chips, as many as
    a fixed 1,024 px needs, each 984 px: docs/results/chip_plans.json).
    """
    out_size = card.chip_size(options.chip_size)
    overlap = options.overlap_for(card)
    overlap_px = overlap * out_size
    multiple = card.size_multiple if options.fits_chips_for(card) else None
    # an overlap of half a chip (the most there is) leaves no smaller chip to fit: the grid
    if multiple is None or overlap >= MAX_OVERLAP:
        return out_size, overlap
    to_model = model_scale(ref, card)
    pad = options.edge_pad_for(card)
    side = fitted_chip_side(
        ref.width * to_model + 2 * pad,
        ref.height * to_model + 2 * pad,
        out_size,
        overlap_px,
        multiple,
    )
    return side, min(MAX_OVERLAP, overlap_px / side)


def fitted_window(
    ref: ImageRef, card: ModelCard, chip_size: int | None, pad: int
) -> ChipWindow | None:
    """One chip over a whole small image, if ``card`` fits one to it
    (:meth:`~skyscan.detectors.card.ModelCard.fits_one_chip`).

    With an edge pad: a square of the longest side plus ``pad`` model pixels each way, the
    image centred (a chip cut close to a short image's long sides scored cars lower: KIT
    frames, 668 x 196 model px, car recall 0.967 in 736 x 264 chips, 0.978 in squares:
    scripts/chip_shape_trial.py).
    Without one: the image itself, resampled to whole multiples, so that its borders are
    the chip's and a vehicle they cut has no black beside it (the model finds those: on
    crops of held-out frames, recall of cut vehicles 0.71, against 0.50 with black on two
    sides). docs/performance.md, *One chip per small image*."""
    to_model = model_scale(ref, card)
    width, height = ref.width * to_model, ref.height * to_model
    if not card.fits_one_chip(chip_size, max(width, height)):
        return None
    if pad == 0:
        out_w, out_h = card.whole_multiple(width), card.whole_multiple(height)
        return ChipWindow(0, 0, ref.width, ref.height, out_w, out_h)
    side = card.whole_multiple(max(width, height) + 2 * pad)
    src = chip_size_in_source(side, ref.gsd, card.gsd)
    return ChipWindow((ref.width - src) // 2, (ref.height - src) // 2, src, src, side, side)


# Model pixels deep a border strip reaches into the image: the band plus a car's length
# and the context the network needs around it.
BORDER_STRIP = 64
# Model pixels from an image's border within which detections come from the strips
# (docs/model.md, Borders: 8 kept the border's vehicles at street precision within 0.004
# of the padded chips').
BORDER_BAND = 8


def border_strips(
    ref: ImageRef, card: ModelCard, chip_src: int, out_size: int, overlap: float
) -> list[ChipWindow]:
    """Chips along each border of the image, flush with it and :data:`BORDER_STRIP` model
    pixels deep, for the vehicles the border cuts (an edge pad's black makes the model
    drop them). Along a side, pieces ``chip_src`` source pixels long (``out_size`` model
    pixels) at the chip plan's offsets; a side no longer than that is one strip its own
    length. An image no deeper than a strip has one strip across it, not two."""
    to_model = model_scale(ref, card)

    def along(length: int) -> tuple[list[int], int, int]:
        """Offsets, source length and model length of the strips along a side."""
        if length <= chip_src:
            return [0], length, card.whole_multiple(length * to_model)
        return axis_offsets(length, chip_src, chip_stride(chip_src, overlap)), chip_src, out_size

    def depth(length: int) -> tuple[list[int], int, int]:
        """Offsets (near side, far side), source depth and model depth across a side."""
        deep = chip_size_in_source(BORDER_STRIP, ref.gsd, card.gsd)
        if length <= deep:
            return [0], length, card.whole_multiple(length * to_model)
        return [0, length - deep], deep, BORDER_STRIP

    cols, piece_w, out_w = along(ref.width)
    rows, piece_h, out_h = along(ref.height)
    tops, deep_h, deep_out_h = depth(ref.height)
    lefts, deep_w, deep_out_w = depth(ref.width)
    return [
        *(
            ChipWindow(col, row, piece_w, deep_h, out_w, deep_out_h, border_only=True)
            for row in tops
            for col in cols
        ),
        *(
            ChipWindow(col, row, deep_w, piece_h, deep_out_w, out_h, border_only=True)
            for col in lefts
            for row in rows
        ),
    ]


def model_scale(ref: ImageRef, card: ModelCard) -> float:
    """Model pixels per image pixel along a side: the image's GSD over the model's (1 when
    either is unknown, and the image runs at its own pixels)."""
    return ref.gsd / card.gsd if ref.gsd and card.gsd else 1.0


def model_pixels(windows: Iterable[ChipWindow]) -> int:
    """Pixels the model runs on for these chips."""
    return sum(w.out_width * w.out_height for w in windows)


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def batch_size_for(units: Sequence[WorkUnit], options: DetectOptions) -> int:
    """Chips per batch for some units of one image: ``options.chips_per_batch`` at the
    size of their chips in model pixels."""
    return options.chips_per_batch(units[0].windows[0].out_width)


def chip_batches(units: Sequence[WorkUnit], batch_size: int) -> list[ChipBatch]:
    """The chips of some units of one image in model batches, in reading order.

    Batches may span units; each chip keeps its own unit. A batch holds chips of one size
    (border strips are another shape than the chips).
    """
    chips = [(u, w) for u in units for w in u.windows]
    runs = groupby(chips, key=lambda chip: (chip[1].out_width, chip[1].out_height))
    return [batch for _, run in runs for batch in _batches(list(run), batch_size)]


def detect_units(
    units: Sequence[WorkUnit],
    detector: Detector,
    options: DetectOptions,
    *,
    overlap: bool | None = None,
) -> pa.Table:
    """Detect in every chip of some units of one image, as one stream of batches."""
    if not units:
        return arrow_arrays.empty_table(RAW_SCHEMA)
    return detect_batches(
        units[0].image,
        chip_batches(units, batch_size_for(units, options)),
        detector,
        options,
        overlap=overlap,
    )


def detect_batches(
    ref: ImageRef,
    batches: Iterable[ChipBatch],
    detector: Detector,
    options: DetectOptions,
    *,
    overlap: bool | None = None,
) -> pa.Table:
    """Detect in batches of chips of one image; boxes come back in image pixels (not yet merged).

    ``batches`` is consumed lazily, so it may be a lane's share of work that other lanes
    also draw from. One reader serves all the batches (GDAL's block cache keeps the tiles
    that neighbouring chips share). With ``overlap`` the work around the model runs beside
    it: one thread reads and prepares the next batch (GDAL releases the GIL while it
    decodes) and one finishes the previous batch (decode, NMS, image coordinates) while
    the model runs on the current one. Without it every stage runs in turn on the calling
    thread: right for a local-engine lane or a Spark task that holds one core, where
    extra threads only compete with the model. By default (``None``) the stages overlap
    unless the recipe asks for a one-thread session.
    """
    if overlap is None:
        overlap = options.recipe.threads != 1
    stream = iter(batches)
    batch = next(stream, None)
    if batch is None:  # nothing left to do: do not even open the image
        return arrow_arrays.empty_table(RAW_SCHEMA)
    cols: dict[str, list[np.ndarray]] = {
        name: [] for name in RAW_SCHEMA.names if name != "image_id"
    }
    stages = _stages(detector)
    band = options.border_band_for(detector.card)
    with ImageReader(ref) as reader:

        def load(chips: ChipBatch) -> object:
            return stages.prepare(reader.read_chips([w for _, w in chips]))

        def finish(chips: ChipBatch, outputs: object) -> None:
            _append_batch(cols, ref, chips, stages.finish(outputs), band)

        if not overlap:
            while batch is not None:
                loaded = load(batch)
                upcoming = next(stream, None)
                if upcoming is not None:  # a remote image's next tiles arrive while the model runs
                    reader.prefetch([w for _, w in upcoming])
                finish(batch, stages.infer(loaded))
                batch = upcoming
        else:
            with ThreadPoolExecutor(1) as loader, ThreadPoolExecutor(1) as finisher:
                pending = loader.submit(load, batch)
                finishing: Future[None] | None = None
                while batch is not None:
                    inputs = pending.result()
                    upcoming = next(stream, None)
                    if upcoming is not None:  # (reading overlaps the model already)
                        pending = loader.submit(load, upcoming)
                    outputs = stages.infer(inputs)
                    if finishing is not None:
                        finishing.result()  # in order, and at most one batch waiting
                    finishing = finisher.submit(finish, batch, outputs)
                    batch = upcoming
                if finishing is not None:
                    finishing.result()
    if not cols["score"]:
        return arrow_arrays.empty_table(RAW_SCHEMA)
    columns = {
        name: arrow_arrays.array(np.concatenate(parts), RAW_SCHEMA.field(name).type)
        for name, parts in cols.items()
        if name != "class_scores"
    }
    columns["class_scores"] = arrow_arrays.float_lists(np.concatenate(cols["class_scores"]))
    # every row is of one image: a repeated string, not an object array of copies
    columns["image_id"] = arrow_arrays.repeat(ref.image_id, len(columns["score"]), pa.string())
    return pa.table([columns[name] for name in RAW_SCHEMA.names], schema=RAW_SCHEMA)


@dataclass(frozen=True)
class _Stages:
    prepare: Callable[[np.ndarray], object]
    infer: Callable[[object], object]
    finish: Callable[[object], list[ChipDetections]]


def _stages(detector: Detector) -> _Stages:
    """The detector's stages; a plain :class:`Detector` is all ``infer``."""
    if isinstance(detector, StagedDetector):
        return _Stages(detector.prepare, detector.infer, detector.finish)
    return _Stages(lambda chips: chips, detector.detect_batch, lambda found: found)  # type: ignore[arg-type,return-value]


def _append_batch(
    cols: dict[str, list[np.ndarray]],
    ref: ImageRef,
    chips: ChipBatch,
    found: Sequence[ChipDetections],
    band: int = 0,
) -> None:
    """Chip-pixel boxes of a batch → image pixels, in one pass over all its boxes.

    Boxes centred in the padding past the image edge are dropped; ``cut`` marks boxes
    near an interior chip edge (``merge.touches_interior_edge``). With a ``band`` (model
    pixels), boxes within it of the image's border come from border strips only and the
    others from the chips only.
    """
    counts = np.array([len(d) for d in found], np.intp)
    if not counts.any():
        return
    chip = np.repeat(np.arange(len(chips)), counts)
    boxes = np.concatenate([np.asarray(d.boxes, np.float64).reshape(-1, 4) for d in found])
    windows = [w for _, w in chips]

    def per_box(values: Sequence[float | int | bool], dtype: type) -> np.ndarray:
        return np.asarray(values, dtype)[chip]

    col_off, row_off = (
        per_box([w.col_off for w in windows], np.int32),
        per_box([w.row_off for w in windows], np.int32),
    )
    out_w, out_h = (
        per_box([w.out_width for w in windows], np.float64),
        per_box([w.out_height for w in windows], np.float64),
    )
    edges = np.array([interior_edges(w, ref.width, ref.height) for w in windows], bool)[chip]
    cut = touches_interior_edge(boxes, out_w, out_h, edges)
    # unclipped: a box centred in the padding past the image edge is dropped, not clipped
    img = np.concatenate(
        [chip_boxes_to_image(d.boxes, w) for d, w in zip(found, windows, strict=True)]
    )
    cx = (img[:, 0] + img[:, 2]) / 2
    cy = (img[:, 1] + img[:, 3]) / 2
    inside = (cx >= 0) & (cx < ref.width) & (cy >= 0) & (cy < ref.height)
    if band:
        strip = np.array([w.border_only for w in windows], bool)[chip]
        scale_x = per_box([w.scale_x for w in windows], np.float64)
        scale_y = per_box([w.scale_y for w in windows], np.float64)
        inside &= strip_owns(img, ref, band, scale_x, scale_y) == strip
    if not inside.any():
        return
    img = img[inside]
    img[:, [0, 2]] = np.clip(img[:, [0, 2]], 0, ref.width)
    img[:, [1, 3]] = np.clip(img[:, [1, 3]], 0, ref.height)
    chip = chip[inside]
    cols["unit_index"].append(np.asarray([u.unit_index for u, _ in chips], np.int32)[chip])
    for k, name in enumerate(("px_xmin", "px_ymin", "px_xmax", "px_ymax")):
        cols[name].append(img[:, k])
    cols["score"].append(np.concatenate([d.scores for d in found]).astype(np.float32)[inside])
    cols["class_id"].append(np.concatenate([d.labels for d in found]).astype(np.int32)[inside])
    cols["cut"].append(cut[inside])
    cols["class_scores"].append(_class_scores(found)[inside])
    cols["chip_col_off"].append(col_off[inside])
    cols["chip_row_off"].append(row_off[inside])
    cols["chip_width"].append(np.asarray([w.width for w in windows], np.int32)[chip])
    cols["chip_height"].append(np.asarray([w.height for w in windows], np.int32)[chip])


def strip_owns(
    boxes: np.ndarray, ref: ImageRef, band: int, scale_x: np.ndarray, scale_y: np.ndarray
) -> np.ndarray:
    """Which image-pixel boxes the border strips report, the others the chips: those within
    ``band`` model pixels of the image's border that a strip holds whole. An object longer
    than a strip is deep (a bus across the border) is the chips' even there: the strip
    sees it cut. ``scale_x``/``scale_y``: source pixels per model pixel, per box."""
    x0, y0, x1, y1 = boxes.T
    bx, by = band * scale_x, band * scale_y
    # the strip's depth, less a model pixel: a box reaching its inner edge is cut there
    dx, dy = (BORDER_STRIP - 1) * scale_x, (BORDER_STRIP - 1) * scale_y
    left, right = x0 <= bx, x1 >= ref.width - bx
    top, bottom = y0 <= by, y1 >= ref.height - by
    whole = (
        (~left | (x1 <= dx))
        & (~right | (x0 >= ref.width - dx))
        & (~top | (y1 <= dy))
        & (~bottom | (y0 >= ref.height - dy))
    )
    return (left | right | top | bottom) & whole


def _class_scores(found: Sequence[ChipDetections]) -> np.ndarray:
    """The batch's per-class scores as one (n, C) matrix; (n, 0) when the model gives none."""
    if any(d.class_scores is None for d in found if len(d)):
        return np.zeros((sum(len(d) for d in found), 0), np.float32)
    return np.concatenate([d.class_scores for d in found if len(d) and d.class_scores is not None])


def finalize_image(
    ref: ImageRef, raw: pa.Table, card: ModelCard, run_id: str, options: DetectOptions
) -> pa.Table:
    """Merge one image's raw detections across chips and georeference them.

    The result is independent of the order of ``raw``'s rows (engines may deliver units
    in any order): rows are sorted before merging and numbered after. The sort and the
    selection run in numpy: ``Table.sort_by``/``take`` would import ``pyarrow.compute``,
    50-75 ms of every fresh command (it builds its docstrings on import).
    """
    columns = {
        name: arrow_arrays.to_numpy(raw.column(name))
        for name in RAW_SCHEMA.names
        if name not in ("image_id", "class_scores")
    }
    columns["class_scores"] = arrow_arrays.float_matrix(raw.column("class_scores"))
    order = np.lexsort(  # the last key sorts first
        [columns[name] if name != "score" else -columns[name] for name in reversed(MERGE_ORDER)]
    )
    ordered = {name: values[order] for name, values in columns.items()}
    keep = merge_detections(
        _boxes(ordered),
        ordered["score"],
        ordered["class_id"],
        cut=ordered["cut"],
        class_aware=options.class_aware_merge,
        iou_threshold=card.nms_iou,
        containment_threshold=options.containment,
    )
    keep = np.sort(np.asarray(keep, np.int64))  # back to the deterministic sorted order
    if options.aoi is not None and len(keep):
        boxes = _boxes(ordered)[keep]
        centred = inside(
            options.aoi.in_pixels(ref),
            (boxes[:, 0] + boxes[:, 2]) / 2,
            (boxes[:, 1] + boxes[:, 3]) / 2,
        )
        keep = keep[centred]
    return detections_table(
        ref, {name: values[keep] for name, values in ordered.items()}, card, run_id
    )


def detections_table(
    ref: ImageRef, kept: dict[str, np.ndarray], card: ModelCard, run_id: str
) -> pa.Table:
    """Build contract rows (``schema.DETECTION_SCHEMA`` + ``meta_*``) from merged boxes
    (``kept``: numpy columns of ``RAW_SCHEMA``)."""
    n = len(kept["score"])
    boxes = _boxes(kept)
    which_tile = row_tiles(ref, boxes)
    image_ids = row_image_ids(ref, which_tile)  # a mosaic's rows name the tile they lie in
    class_id = kept["class_id"].astype(np.int32)
    names = np.array(card.class_names, dtype=object)
    xview = [
        card.classes[i].xview_type_id or XVIEW_TYPE_IDS.get(card.classes[i].name)
        for i in range(len(card.classes))
    ]
    cols: dict[str, object] = {
        "run_id": run_id,
        "image_id": image_ids,
        "image_path": display_path(ref.path),  # no query string or credentials in outputs
        "detection_id": [
            f"{image_ids if isinstance(image_ids, str) else image_ids[i]}:{i:06d}" for i in range(n)
        ],
        "class_name": names[class_id].tolist(),
        "class_id": class_id,
        "xview_type_id": [xview[i] for i in class_id],
        "score": kept["score"],
        "class_scores": _class_score_lists(kept["class_scores"], n),
        "truncated": _truncated(boxes, ref, card),
        "in_validated_range": card.validated.check(ref)[0] if card.validated is not None else None,
        "px_xmin": boxes[:, 0],
        "px_ymin": boxes[:, 1],
        "px_xmax": boxes[:, 2],
        "px_ymax": boxes[:, 3],
        "chip_col_off": kept["chip_col_off"],
        "chip_row_off": kept["chip_row_off"],
        "chip_width": kept["chip_width"],
        "chip_height": kept["chip_height"],
        "georeferenced": ref.is_georeferenced,
        "georef_source": ref.georef_source,
        "model_id": card.model_id,
        "gsd_m": ref.gsd,
        "src_crs": ref.crs,
    }
    if ref.is_georeferenced and n:
        from skyscan.geo.footprints import footprints

        assert ref.transform is not None and ref.crs is not None
        fp = footprints(boxes, ref.transform, ref.crs)
        cols.update(
            lon=fp.lon,
            lat=fp.lat,
            src_x=fp.src_x,
            src_y=fp.src_y,
            area_m2=fp.area_m2,
            geometry=shapely.to_wkb(fp.polygons_wgs84),
            centroid=shapely.to_wkb(fp.centroids_wgs84),
        )
    else:
        area = (
            (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) * ref.gsd**2
            if ref.gsd
            else [None] * n
        )
        cols.update(
            lon=None, lat=None, src_x=None, src_y=None, area_m2=area, geometry=None, centroid=None
        )
    arrays = [_column(cols[f.name], n, f.type) for f in DETECTION_SCHEMA]
    table = pa.Table.from_arrays(arrays, schema=DETECTION_SCHEMA)
    for key, values in _metadata_columns(ref, which_tile, n).items():
        table = table.append_column(pa.field(METADATA_PREFIX + key, pa.string()), values)
    return table


def _metadata_columns(ref: ImageRef, which_tile: np.ndarray | None, n: int) -> dict[str, pa.Array]:
    """The ``meta_*`` values by attribute: the image's attributes in every row, or, for a
    mosaic whose tiles the metadata table names, each row its tile's (over the mosaic's
    own; a row in a hole keeps the mosaic's)."""

    def text(value: object) -> str | None:
        return None if value is None else str(value)

    if not ref.tile_metadata or which_tile is None:
        return {
            key: arrow_arrays.repeat(text(value), n, pa.string())
            for key, value in sorted(ref.metadata.items())
        }
    per_tile = [{**ref.metadata, **attrs} for _, attrs in ref.tile_metadata] + [ref.metadata]
    rows = [per_tile[k] for k in which_tile.tolist()]
    return {
        key: pa.array([text(r.get(key)) for r in rows], pa.string()) for key in ref.metadata_keys
    }


def _class_score_lists(matrix: np.ndarray, n: int) -> pa.Array:
    """Per-class scores as list rows; null rows when the model gives none."""
    if matrix.size == 0:
        return pa.nulls(n, pa.list_(pa.float32()))
    return arrow_arrays.float_lists(matrix)


def _truncated(boxes: np.ndarray, ref: ImageRef, card: ModelCard) -> np.ndarray:
    """Boxes within two model pixels of the image's border (source pixels scaled by the
    GSD ratio): the model's box edges are that precise, and clipping puts a box that ran
    past the border on it."""
    scale = card.gsd / ref.gsd if card.gsd and ref.gsd else 1.0
    tol = TRUNCATED_MODEL_PX * scale
    return (
        (boxes[:, 0] <= tol)
        | (boxes[:, 1] <= tol)
        | (boxes[:, 2] >= ref.width - tol)
        | (boxes[:, 3] >= ref.height - tol)
    )


def _column(values: object, n: int, type_: pa.DataType) -> pa.Array | pa.ChunkedArray:
    """One contract column: a per-image constant (a scalar or None) repeated ``n`` times,
    or one value per row."""
    if values is None or np.isscalar(values):
        return arrow_arrays.repeat(values, n, type_)
    return arrow_arrays.array(values, type_)


def _boxes(columns: dict[str, np.ndarray]) -> np.ndarray:
    """(n, 4) float64 xyxy image-pixel boxes of raw or merged columns."""
    return np.stack(
        [columns[c].astype(np.float64) for c in ("px_xmin", "px_ymin", "px_xmax", "px_ymax")],
        axis=1,
    ).reshape(-1, 4)


def detect_image(
    ref: ImageRef, detector: Detector, options: DetectOptions, run_id: str
) -> pa.Table:
    """All stages for one image in this process: plan, detect every unit, finalize."""
    raw = detect_units(plan_units(ref, detector.card, options), detector, options)
    return finalize_image(ref, raw, detector.card, run_id, options)
