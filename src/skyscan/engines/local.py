"""The local engine: every image in this process, one checkpoint part per image.

The cores are used as *lanes*: each lane is a thread that runs the whole per-batch
pipeline in turn (read, prepare, infer with a one-thread ONNX session, finish), like a
Spark task on one core. On this project's 2-core machine two one-thread sessions side by
side run the model ~30 % faster than one two-thread session (medians 20.7 against 15.9
MP/s: ``ceiling_ways_model_mps`` of ``python benchmarks/bench_detect.py --size 10000``).
A large image is split into one contiguous run of work units per lane (a lane
keeps its own reader, so only the tiles at the split are decoded twice); small images keep
every lane busy by being in flight together. Images are finished and written in input
order, one part each, so ``--resume`` works exactly as before.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

import pyarrow as pa
import rasterio

from skyscan.detectors import Detector, get_detector
from skyscan.errors import IMAGE_ERRORS
from skyscan.io.reader import open_image
from skyscan.pipeline import DetectOptions, WorkUnit, detect_units, finalize_image, plan_units
from skyscan.run_state import PartStore
from skyscan.types import ImageRef

logger = logging.getLogger(__name__)

GDAL_CACHE_BYTES = 128 * 2**20


def lanes_for(options: DetectOptions, cpus: int | None = None) -> tuple[int, DetectOptions]:
    """How many lanes to run, and the options with the ONNX threads each lane uses.

    ``recipe.threads == 0`` (automatic) gives one lane per core with one-thread sessions;
    an explicit ``threads=t`` gives ``cpus // t`` lanes (at least one) of ``t`` threads.
    """
    cpus = cpus or os.cpu_count() or 1
    threads = options.recipe.threads or 1
    lanes = max(1, cpus // threads)
    return lanes, replace(options, recipe=replace(options.recipe, threads=threads))


def split_units(units: Sequence[WorkUnit], parts: int) -> list[list[WorkUnit]]:
    """``units`` in at most ``parts`` contiguous runs of near-equal chip counts."""
    total = sum(len(u.windows) for u in units)
    runs: list[list[WorkUnit]] = [[]]
    done = 0
    for unit in units:
        # start a new run when this unit lies mostly past the current run's share
        if runs[-1] and len(runs) < parts and done + len(unit.windows) / 2 > total * len(runs) / parts:
            runs.append([])
        runs[-1].append(unit)
        done += len(unit.windows)
    return runs


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
        t1 = time.perf_counter()
        parts = [pool.submit(detect_units, run, detector, options) for run in split_units(units, lanes)]
        queue.append(_InFlight(path, ref, parts, t1 - t0, t1))
        # keep about one image per lane in flight: every lane busy, memory bounded
        while sum(not f.done() for item in queue for f in item.parts) >= 2 * lanes or len(queue) > lanes:
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
    stage = "detect"
    try:
        raw = pa.concat_tables([f.result() for f in item.parts])
        table = finalize_image(item.ref, raw, detector.card, run_id, options)
        t2 = time.perf_counter()
        stage = "write"
        store.write_detections(item.path, table)
        ref = item.ref
        logger.info(
            "%s: %d detections (%d x %d px, georef %s, GSD %s)", item.path, table.num_rows,
            ref.width, ref.height, ref.georef_source,
            f"{ref.gsd:.3g} m" if ref.gsd is not None else "unknown",
        )
        timings["open"] += item.opened_s
        timings["detect"] += t2 - item.started
        timings["write"] += time.perf_counter() - t2
    except IMAGE_ERRORS as exc:
        for f in item.parts:  # let the other parts of a failed image end first
            f.exception()
        _failed(store, item.path, stage, exc, None)
    if progress:
        progress(item.path)


def _failed(
    store: PartStore, path: str, stage: str, exc: BaseException, progress: Callable[[str], None] | None
) -> None:
    logger.warning("%s: %s failed: %s", path, stage, exc)
    store.write_error(path, stage, exc)
    if progress:
        progress(path)
