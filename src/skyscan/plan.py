"""What a detection run would read, without reading pixels: ``skyscan plan``.

Each image is opened for its header only and chipped exactly as ``skyscan detect``
would (:func:`skyscan.pipeline.plan_units`, with the area of interest if any), giving an
:class:`ImagePlan`: chips, image and model megapixels, the file's bytes and, for a tiled
GeoTIFF, the bytes of the tiles the chips touch (what a remote run fetches). Plans are
yielded one image at a time and :class:`PlanTotals` only adds them up, so memory does not
grow with the number of images. The time estimate divides the model megapixels by a
rate measured here (:func:`measure_rate`: the model alone on in-memory chips, run as
the local engine's lanes run it), so it is a lower bound on the run's time.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from skyscan.detectors import ModelCard, get_detector, recipe_card
from skyscan.errors import IMAGE_ERRORS
from skyscan.io import remote
from skyscan.io.mosaic import mosaic_inputs, mosaic_tiles, tiles_bytes
from skyscan.io.reader import open_image
from skyscan.io.sources import InputFailure, expand_inputs, unique_image_ids
from skyscan.pipeline import DetectOptions, model_pixels, plan_units
from skyscan.types import ChipWindow, ImageRef, JsonObject

if TYPE_CHECKING:
    from skyscan.io.stac import RasterGrid, StacQuery


GridKey = tuple[int, int, float, int]  # width, height, GSD, bands of a declared grid


@dataclass(frozen=True)
class ImagePlan:
    """What ``skyscan detect`` would do with one image."""

    path: str
    image_id: str
    width: int
    height: int
    chips: int  # 0: outside the area of interest (skipped after its header)
    chip_px: int | None  # side of its chips in model px (border strips aside); None: no chips
    megapixels: float  # the image's own pixels
    model_megapixels: float  # what the model sees: chips x chip pixels (overlap included)
    file_bytes: int | None
    read_bytes: int | None  # bytes of the tiles the chips touch (tiled GeoTIFF), else None

    def to_dict(self) -> JsonObject:
        return asdict(self)


@dataclass
class PlanTotals:
    """Running sums over the plans (constant memory whatever the number of images)."""

    images: int = 0
    skipped: int = 0
    failed: int = 0
    chips: int = 0
    megapixels: float = 0.0
    model_megapixels: float = 0.0
    file_bytes: int = 0
    read_bytes: int = 0
    rate_model_mps: float | None = None
    failures: list[str] = field(default_factory=list)  # the first few failed paths

    def add(self, item: ImagePlan | InputFailure) -> None:
        if isinstance(item, InputFailure):
            self.failed += 1
            if len(self.failures) < 10:
                self.failures.append(remote.display_path(item.path))
            return
        self.images += 1
        self.skipped += item.chips == 0
        self.chips += item.chips
        self.megapixels += item.megapixels
        self.model_megapixels += item.model_megapixels
        self.file_bytes += item.file_bytes or 0
        self.read_bytes += (
            item.read_bytes if item.read_bytes is not None else (item.file_bytes or 0)
        )

    @property
    def estimated_s(self) -> float | None:
        """Model megapixels over the measured rate (a lower bound of the run's time)."""
        return self.model_megapixels / self.rate_model_mps if self.rate_model_mps else None

    def to_dict(self) -> JsonObject:
        out = asdict(self)
        out["estimated_s"] = self.estimated_s
        return out


def file_bytes(path: str) -> int | None:
    """The size of a local or remote file (remote: from GDAL's open of it, no download)."""
    in_tiles = tiles_bytes(path)  # a mosaic: its tiles, not the small VRT
    if in_tiles is not None:
        return in_tiles
    if not remote.is_remote(path):
        try:
            return os.path.getsize(path)
        except OSError:
            return None
    return remote.size(path)


def touched_bytes(ref: ImageRef, windows: Sequence[ChipWindow]) -> int | None:
    """Bytes of the distinct tiles that ``windows`` touch, for a tiled GeoTIFF."""
    import rasterio

    with rasterio.Env(**remote.gdal_env(ref.path)), rasterio.open(remote.gdal_path(ref.path)) as ds:
        if ds.driver != "GTiff":
            return None
        bh, bw = ds.block_shapes[0]
        if bw >= ds.width:
            return None
        rows = (ds.height + bh - 1) // bh
        cols = (ds.width + bw - 1) // bw
        touched = np.zeros((rows, cols), bool)
        for w in windows:
            c0, r0 = max(0, w.col_off) // bw, max(0, w.row_off) // bh
            c1 = (min(ds.width, w.col_off + w.width) - 1) // bw
            r1 = (min(ds.height, w.row_off + w.height) - 1) // bh
            touched[r0 : r1 + 1, c0 : c1 + 1] = True
        spans = set()  # (offset, size): an interleaved tile holds every band, counted once
        for band in sorted(set(ref.rgb_bands)):
            for r, c in zip(*np.nonzero(touched), strict=True):
                offset = ds.get_tag_item(f"BLOCK_OFFSET_{c}_{r}", "TIFF", bidx=band)
                size = ds.get_tag_item(f"BLOCK_SIZE_{c}_{r}", "TIFF", bidx=band)
                spans.add((int(offset or 0), int(size or 0)))
        return sum(size for _, size in spans)


def plan_image(
    ref: ImageRef, card: ModelCard, options: DetectOptions, *, with_bytes: bool = True
) -> ImagePlan:
    """The plan of one opened image."""
    units = plan_units(ref, card, options)
    windows = [w for u in units for w in u.windows]
    sides = [max(w.out_width, w.out_height) for w in windows if not w.border_only]
    return ImagePlan(
        path=remote.display_path(ref.path),
        image_id=ref.image_id,
        width=ref.width,
        height=ref.height,
        chips=len(windows),
        chip_px=max(sides) if sides else None,
        megapixels=ref.width * ref.height / 1e6,
        model_megapixels=model_pixels(windows) / 1e6,
        file_bytes=file_bytes(ref.path) if with_bytes else None,
        read_bytes=None if not with_bytes else (touched_bytes(ref, windows) if windows else 0),
    )


def plan_declared(
    grid: RasterGrid,
    path: str,
    image_id: str,
    card: ModelCard,
    options: DetectOptions,
    same_grid: dict[GridKey, ImagePlan],
) -> ImagePlan:
    """The plan of a STAC item from the grid it declares, unopened: the bytes read are
    the asset's ``file:size`` (its touched tiles are not known without its header).

    Without an area of interest the chips depend on the grid's size and GSD only, and a
    country's tiles share a few of those: ``same_grid`` keeps each one's plan."""
    key = (grid.width, grid.height, grid.gsd, grid.bands) if options.aoi is None else None
    plan = same_grid.get(key) if key else None
    if plan is None:
        plan = plan_image(grid.image_ref(path, image_id), card, options, with_bytes=False)
        if key:
            same_grid[key] = plan
    return replace(
        plan, path=remote.display_path(path), image_id=image_id, file_bytes=grid.file_size
    )


def plan_run(
    inputs: Sequence[str | Path],
    options: DetectOptions,
    *,
    recursive: bool = True,
    sample_ratio: float | None = None,
    seed: int = 0,
    with_bytes: bool = True,
    mosaic: bool = False,
    stac: Sequence[StacQuery] = (),
) -> Iterator[ImagePlan | InputFailure]:
    """The plan of every input, one at a time, in input order (failures included).

    With ``mosaic`` the images that are not VRTs are planned as one mosaic, as
    ``skyscan detect --mosaic`` runs them (its VRT lives in a temporary folder meanwhile).
    ``stac``: STAC queries whose items are planned too (items that miss the area of
    interest are left out unopened, as a run leaves them; with ``mosaic`` their images are
    tiles of it)."""
    card = recipe_card(options.recipe)
    paths, failures = expand_inputs(
        inputs, recursive=recursive, sample_ratio=sample_ratio, seed=seed
    )
    with tempfile.TemporaryDirectory(prefix="skyscan-plan-") as tmp:
        ids = unique_image_ids(paths)
        grids: dict[str, RasterGrid] = {}
        same_grid: dict[GridKey, ImagePlan] = {}
        if stac:
            from skyscan.io.stac import gather

            got = gather(
                paths, failures, ids, stac, options.aoi, sample_ratio=sample_ratio, seed=seed
            )
            paths, failures, ids, grids = got.paths, got.failures, got.image_ids, got.grids
        if mosaic:  # after STAC: the items' images are tiles too
            paths, tile_failures = mosaic_inputs(paths, inputs, tmp)
            failures = [*failures, *tile_failures]
            ids, grids = unique_image_ids(paths), {}
        yield from failures
        for path in paths:
            try:
                grid = grids.get(path)
                if grid is not None:  # the item declares its grid: nothing to open
                    plan = plan_declared(grid, path, ids[path], card, options, same_grid)
                    yield plan
                    continue
                ref = open_image(path, options.read, image_id=ids[path])
                plan = plan_image(ref, card, options, with_bytes=with_bytes)
            except IMAGE_ERRORS as exc:
                yield InputFailure(path, "read", exc)
                continue
            if path.startswith(tmp):  # name the mosaic, not its temporary file
                plan = replace(
                    plan, path=f"{ref.image_id} (mosaic of {len(mosaic_tiles(path))} tiles)"
                )
            yield plan


def measure_rate(options: DetectOptions, seconds: float = 1.5) -> float:
    """Model megapixels per second on in-memory chips, run as the local engine runs it
    (one lane per core, each a one-thread session with its batches)."""
    from skyscan.engines.local.lanes import lanes_for

    lanes, options = lanes_for(options)
    detector = get_detector(options.recipe)
    size = detector.card.chip_size(options.chip_size)
    per_batch = options.chips_per_batch(size)
    chips = np.random.default_rng(0).integers(0, 255, (per_batch, size, size, 3), dtype=np.uint8)
    detector.detect_batch(chips)  # warm up (arena, first-call costs)

    def lane(_: int) -> int:
        done, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            detector.detect_batch(chips)
            done += per_batch
        return done

    t0 = time.perf_counter()
    with ThreadPoolExecutor(lanes) as pool:
        n = sum(pool.map(lane, range(lanes)))
    return n * size * size / 1e6 / (time.perf_counter() - t0)
