"""The local engine: every image in this process, one checkpoint part per image.

The cores are used as *lanes* (:mod:`skyscan.engines.local.lanes`): each lane is a thread that
runs the whole per-batch pipeline in turn (read, prepare, infer with a one-thread ONNX
session, finish), like a Spark task on one core: one-thread sessions side by side run the
model faster than one session with every thread (docs/performance.md). An image's batches are shared by the lanes, each lane reading a contiguous
stretch with its own reader and stealing from the others when done (``SharedBatches``);
an image of at most one batch per lane is read by one lane alone, and small images keep
every lane busy by being in flight together. Images are finished and
written in input order, one part each, so ``--resume`` works exactly as before.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa
import rasterio

from skyscan.detectors import Detector, get_detector
from skyscan.engines.local.lanes import SharedBatches, lanes_for, with_fine_tail
from skyscan.errors import IMAGE_ERRORS
from skyscan.io.reader import open_image
from skyscan.io.remote import display_path, redact
from skyscan.pipeline import (
    DetectOptions,
    batch_size_for,
    chip_batches,
    detect_batches,
    finalize_image,
    plan_units,
)
from skyscan.run_state import OUTSIDE_AOI, PartStore
from skyscan.text import plural
from skyscan.types import ImageRef

logger = logging.getLogger(__name__)

GDAL_CACHE_BYTES = 128 * 2**20


@dataclass
class _InFlight:
    path: str
    ref: ImageRef
    parts: list[Future[pa.Table]]
    opened_s: float
    started: float


def run_local(
    paths: Sequence[str],
    image_ids: dict[str, str],
    options: DetectOptions,
    store: PartStore,
    run_id: str,
    progress: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """Detect in every path not yet done in ``store``; return stage timings in seconds."""
    lanes, options = lanes_for(options)
    detector = get_detector(options.recipe)
    # per-image sums; images are in flight together, so "detect" can exceed the run's wall time
    timings = {"open": 0.0, "detect": 0.0, "write": 0.0}
    logger.info("local engine: %d lanes of %d ONNX thread(s)", lanes, options.recipe.threads)
    # GDAL's block cache defaults to 5% of RAM; each lane's reader keeps its tiles cached,
    # so cap it. Lanes read in their own threads, whose per-batch Env does not re-apply
    # (and flush) this cache size, as a nested Env in one thread would.
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES), ThreadPoolExecutor(lanes) as pool:
        _run(paths, image_ids, options, store, run_id, progress, detector, timings, pool, lanes)
    return timings


def _run(
    paths: Sequence[str],
    image_ids: dict[str, str],
    options: DetectOptions,
    store: PartStore,
    run_id: str,
    progress: Callable[[str], None] | None,
    detector: Detector,
    timings: dict[str, float],
    pool: ThreadPoolExecutor,
    lanes: int,
) -> None:
    queue: deque[_InFlight] = deque()
    for path in paths:
        if store.is_done(path):
            if progress:
                progress(path)
            continue
        t0 = time.perf_counter()
        stage = "read"
        try:
            ref = open_image(path, options.read, image_id=image_ids[path])
            stage = "detect"
            units = plan_units(ref, detector.card, options)
        except IMAGE_ERRORS as exc:
            _failed(store, path, stage, exc, progress)
            continue
        if not units:  # outside the area of interest: its header was all that was read
            logger.info("%s: skipped, %s", display_path(path), OUTSIDE_AOI)
            store.write_skip(path, OUTSIDE_AOI)
            if progress:
                progress(path)
            continue
        t1 = time.perf_counter()
        per_batch = batch_size_for(units, options)
        batches = chip_batches(units, per_batch)
        # An image of at most one batch per lane goes to one lane: sharing it would open it
        # in every lane for a batch each, while other images can fill the other lanes.
        sharing = lanes if len(batches) > lanes else 1
        batches, tail = with_fine_tail(batches, per_batch, sharing)
        shared = SharedBatches(batches, sharing, tail=tail)
        parts = [
            pool.submit(detect_batches, ref, shared.lane(k), detector, options)
            for k in range(sharing)
        ]
        queue.append(_InFlight(path, ref, parts, t1 - t0, t1))
        # keep every lane busy with memory bounded: about one image per lane in flight,
        # and one more waiting so a lane that finishes never waits for the next open
        while (
            sum(not f.done() for item in queue for f in item.parts) > lanes
            or len(queue) > lanes + 1
        ):
            _finish(queue.popleft(), detector, options, store, run_id, progress, timings)
    while queue:
        _finish(queue.popleft(), detector, options, store, run_id, progress, timings)


def _finish(
    item: _InFlight,
    detector: Detector,
    options: DetectOptions,
    store: PartStore,
    run_id: str,
    progress: Callable[[str], None] | None,
    timings: dict[str, float],
) -> None:
    """Wait for an image's parts, merge them and write its part (or its error)."""
    try:
        raw = pa.concat_tables([f.result() for f in item.parts])
        table = finalize_image(item.ref, raw, detector.card, run_id, options)
    except IMAGE_ERRORS as exc:
        for f in item.parts:  # let the other parts of a failed image end first
            f.exception()
        _failed(store, item.path, "detect", exc, progress)
        return
    t2 = time.perf_counter()
    # outside the try: a part that cannot be written (a full disk) fails the run, and
    # --resume redoes this image; an error row would keep it failed for good
    store.write_detections(item.path, table)
    ref = item.ref
    logger.info(
        "%s: %s (%d x %d px, georef %s, GSD %s)",
        display_path(item.path),
        plural(table.num_rows, "detection"),
        ref.width,
        ref.height,
        ref.georef_source,
        f"{ref.gsd:.3g} m" if ref.gsd is not None else "unknown",
    )
    timings["open"] += item.opened_s
    timings["detect"] += t2 - item.started
    timings["write"] += time.perf_counter() - t2
    if progress:
        progress(item.path)


def _failed(
    store: PartStore,
    path: str,
    stage: str,
    exc: BaseException,
    progress: Callable[[str], None] | None,
) -> None:
    logger.warning("%s: %s failed: %s", display_path(path), stage, redact(str(exc)))
    store.write_error(path, stage, exc)
    if progress:
        progress(path)
