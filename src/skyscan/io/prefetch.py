"""Read-ahead of a remote GeoTIFF's tiles, so a lane never waits for the network.

A lane reads a batch of chips, then runs the model on it. From a remote image each read
waits a round trip per request (GDAL fetches a window's missing tiles together, then
decodes them). :class:`TilePrefetcher` fetches the raw bytes of the *next* batch's tiles
in a background thread while the model runs, through GDAL's own virtual file system, so
they land in GDAL's HTTP cache (``CPL_VSIL_CURL_CACHE_SIZE``, shared by every handle of
the file in the process) and the lane's windowed read finds them there. Nothing is
decoded twice: only bytes move ahead of time. A fetch that fails is left to the lane's
own read, which reports the error.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import rasterio

from skyscan.io import remote
from skyscan.types import ChipWindow

if TYPE_CHECKING:
    from rasterio.io import DatasetReader

log = logging.getLogger(__name__)

MERGE_GAP = 64 * 1024  # fetch two byte ranges as one when this close
# windows read at most this much smaller than they are come from the full-resolution
# tiles (GDAL takes an overview from a decimation of 2 on)
FULL_RESOLUTION = 1.2


class TilePrefetcher:
    """Fetch the tiles that windows of ``ds`` touch, one batch ahead (see the module)."""

    def __init__(
        self, ds: DatasetReader, path: str, bands: Sequence[int], env: dict[str, str]
    ) -> None:
        self._ds = ds
        self._path = remote.gdal_path(path)
        self._bands = tuple(bands)
        self._env = env
        self._block_h, self._block_w = ds.block_shapes[0]
        self._extent: dict[tuple[int, int], list[tuple[int, int]]] = {}
        self._done: set[tuple[int, int]] = set()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="skyscan-prefetch")
        self._handle: int | None = None
        self._last: Future[None] | None = None

    @staticmethod
    def usable(ds: DatasetReader) -> bool:
        """Tiled: a strip is a whole row of the image, already read in one request."""
        return bool(ds.block_shapes[0][1] < ds.width)

    def _tile_ranges(self, tile: tuple[int, int]) -> list[tuple[int, int]]:
        """``(offset, size)`` of a tile in each band read (one range when interleaved)."""
        found = self._extent.get(tile)
        if found is None:
            row, col = tile
            spans = set()
            for band in self._bands:
                offset = self._ds.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=band)
                size = self._ds.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=band)
                if offset and size and int(size) > 0:
                    spans.add((int(offset), int(size)))
            found = self._extent[tile] = sorted(spans)
        return found

    def ranges(self, windows: Sequence[ChipWindow]) -> list[tuple[int, int]]:
        """Merged ``(start, end)`` byte ranges of the tiles ``windows`` touch that were
        not fetched before."""
        bh, bw = self._block_h, self._block_w
        tiles: set[tuple[int, int]] = set()
        for w in windows:
            if w.width > FULL_RESOLUTION * w.out_width:
                continue  # a decimated read may use an overview, whose tiles are others
            c0, r0 = max(0, w.col_off), max(0, w.row_off)
            c1, r1 = (
                min(self._ds.width, w.col_off + w.width) - 1,
                min(self._ds.height, w.row_off + w.height) - 1,
            )
            if c1 < c0 or r1 < r0:
                continue
            for r in range(r0 // bh, r1 // bh + 1):
                for c in range(c0 // bw, c1 // bw + 1):
                    tiles.add((r, c))
        tiles -= self._done
        self._done |= tiles
        spans = sorted(s for t in tiles for s in self._tile_ranges(t))
        merged: list[tuple[int, int]] = []
        for offset, size in spans:
            if merged and offset - merged[-1][1] <= MERGE_GAP:
                merged[-1] = (merged[-1][0], max(merged[-1][1], offset + size))
            else:
                merged.append((offset, offset + size))
        return merged

    def submit(self, windows: Sequence[ChipWindow]) -> None:
        """Start fetching the tiles of ``windows`` (call from the reading thread)."""
        try:
            ranges = self.ranges(windows)
        except Exception as exc:  # the lane's own read reports what is wrong
            log.debug("%s: no read-ahead: %s", remote.redact(self._path), exc)
            return
        if ranges:
            self._last = self._pool.submit(self._fetch, ranges)

    def _fetch(self, ranges: list[tuple[int, int]]) -> None:
        lib = remote.gdal_lib()
        try:
            with rasterio.Env(**self._env):
                if self._handle is None:
                    handle = lib.VSIFOpenL(self._path.encode(), b"rb")
                    if not handle:
                        return
                    self._handle = int(handle)
                buf = ctypes.create_string_buffer(max(end - start for start, end in ranges))
                for start, end in ranges:
                    lib.VSIFSeekL(self._handle, start, 0)
                    lib.VSIFReadL(buf, 1, end - start, self._handle)
        except Exception as exc:  # pragma: no cover - ctypes calls do not raise
            log.debug("%s: read-ahead failed: %s", remote.redact(self._path), exc)

    def close(self) -> None:
        """Wait for the fetch in flight, then release the handle."""
        self._pool.shutdown(wait=True)
        if self._handle is not None:
            remote.gdal_lib().VSIFCloseL(self._handle)
            self._handle = None
