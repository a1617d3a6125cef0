"""Lanes: how the local engine shares the cores and one image's work among them.

A lane is a thread running the whole per-batch pipeline in turn on a one-thread ONNX
session. One image's batches are shared by the lanes through :class:`SharedBatches`:
each lane walks its own contiguous run (its reader decodes each tile once) and, when
its run is done, takes the back half of the largest run left. The lanes so finish an
image together (a fixed split left one core idle at the end of each image),
and only the tiles at a split are decoded twice. The image's last chips come in small
batches (:func:`with_fine_tail`) that the lanes draw from together once every run is
done, so they finish within a small batch of each other.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Generic, TypeVar

from skyscan.pipeline import DetectOptions

T = TypeVar("T")


def lanes_for(options: DetectOptions, cpus: int | None = None) -> tuple[int, DetectOptions]:
    """How many lanes to run, and the options with the ONNX threads each lane uses.

    ``recipe.threads == 0`` (automatic) gives one lane per core with one-thread sessions;
    an explicit ``threads=t`` gives ``cpus // t`` lanes (at least one) of ``t`` threads.
    """
    cpus = cpus or os.cpu_count() or 1
    threads = options.recipe.threads or 1
    lanes = max(1, cpus // threads)
    return lanes, replace(options, recipe=replace(options.recipe, threads=threads))


class SharedBatches(Generic[T]):
    """Items (one image's batches) drawn by ``lanes`` lanes, each from its own contiguous run.

    Lane ``k`` starts on the ``k``-th of ``lanes`` equal runs of all items but the last
    ``tail``. A lane whose run is done steals the back half of the largest run left;
    when no run has any left, the lanes take the ``tail`` items in turn. Every item is
    taken exactly once and each lane reads long contiguous stretches.
    """

    def __init__(self, items: Sequence[T], lanes: int, *, tail: int = 0) -> None:
        if lanes < 1:
            raise ValueError(f"lanes must be >= 1 (got {lanes})")
        if not 0 <= tail <= len(items):
            raise ValueError(f"tail must be between 0 and the {len(items)} items (got {tail})")
        self._items = items
        n = len(items) - tail
        bounds = [round(n * k / lanes) for k in range(lanes + 1)]
        self._runs = [[bounds[k], bounds[k + 1]] for k in range(lanes)]  # [next, end) per lane
        self._tail = [n, len(items)]  # drawn by any lane once every run is done
        self._lock = threading.Lock()

    def take(self, lane: int) -> int | None:
        """The index of the next item for ``lane``, or ``None`` when every item is taken."""
        with self._lock:
            run = self._runs[lane]
            if run[0] >= run[1]:
                victim = max(self._runs, key=lambda r: r[1] - r[0])
                left = victim[1] - victim[0]
                if left <= 0:
                    run = self._tail
                    if run[0] >= run[1]:
                        return None
                    run[0] += 1
                    return run[0] - 1
                # the victim keeps the front half (it is reading there); with one item
                # left the thief takes it, as it would otherwise sit idle
                middle = victim[0] + left // 2
                run[0], run[1] = middle, victim[1]
                victim[1] = middle
            run[0] += 1
            return run[0] - 1

    def lane(self, lane: int) -> Iterator[T]:
        """Lane ``lane``'s items, drawn lazily until none is left."""
        while (index := self.take(lane)) is not None:
            yield self._items[index]


def with_fine_tail(
    batches: Sequence[Sequence[T]], batch_size: int, lanes: int
) -> tuple[list[Sequence[T]], int]:
    """``batches`` with the items of the last ``2 * lanes`` re-cut into batches a quarter
    the size, and how many such fine batches end the list (``SharedBatches``' ``tail``).

    Without them a lane that found nothing left idled while another ran a whole last
    batch (~0.1 s at the default size, once per image). An image of at most ``4 * lanes``
    batches, or a single lane, is left as it is: lanes then have several images in
    flight, and the next image fills a lane that runs out.
    """
    k = 2 * lanes
    if lanes < 2 or len(batches) <= 2 * k:
        return list(batches), 0
    step = max(1, batch_size // 4)
    # each batch re-cut on its own: a batch holds chips of one size
    fine = [batch[i : i + step] for batch in batches[-k:] for i in range(0, len(batch), step)]
    return [*batches[:-k], *fine], len(fine)
