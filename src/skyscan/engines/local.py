"""The local engine: every image in this process, one checkpoint part per image."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import rasterio

from skyscan.detectors import Detector, get_detector
from skyscan.errors import SkyscanError
from skyscan.io.reader import open_image
from skyscan.pipeline import DetectOptions, detect_image
from skyscan.run_state import PartStore

logger = logging.getLogger(__name__)

GDAL_CACHE_BYTES = 128 * 2**20


def run_local(
    paths: Sequence[str],
    image_ids: dict[str, str],
    options: DetectOptions,
    store: PartStore,
    run_id: str,
    progress: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """Detect in every path not yet done in ``store``; return stage timings in seconds."""
    detector = get_detector(options.recipe)
    timings = {"open": 0.0, "detect": 0.0, "write": 0.0}
    # GDAL's block cache defaults to 5% of RAM; one reader per image keeps its tiles
    # cached, so cap it. Chips are read on the prefetch thread, whose own per-chip Env does
    # not re-apply (and flush) this cache size, as a nested Env in one thread would.
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES):
        _run(paths, image_ids, options, store, run_id, progress, detector, timings)
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
) -> None:
    for path in paths:
        if store.is_done(path):
            if progress:
                progress(path)
            continue
        stage = "read"
        try:
            t0 = time.perf_counter()
            ref = open_image(path, options.read, image_id=image_ids[path])
            t1 = time.perf_counter()
            stage = "detect"
            table = detect_image(ref, detector, options, run_id)
            t2 = time.perf_counter()
            stage = "write"
            store.write_detections(path, table)
            logger.info(
                "%s: %d detections (%d x %d px, georef %s, GSD %s)", path, table.num_rows,
                ref.width, ref.height, ref.georef_source,
                f"{ref.gsd:.3g} m" if ref.gsd is not None else "unknown",
            )
            timings["open"] += t1 - t0
            timings["detect"] += t2 - t1
            timings["write"] += time.perf_counter() - t2
        except (SkyscanError, OSError, ValueError, RuntimeError, MemoryError) as exc:
            # One bad input never stops the run: it becomes a row in the errors table.
            logger.warning("%s: %s failed: %s", path, stage, exc)
            store.write_error(path, stage, exc)
        if progress:
            progress(path)
