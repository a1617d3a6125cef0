"""Cut crops and views out of the imagery (windowed reads) and encode them for the page."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from skyscan.io.reader import ImageReader
from skyscan.types import ChipWindow
from skyscan.viz.imagery import encode_data_uri


def read_window(
    reader: ImageReader, col: int, row: int, width: int, height: int, max_out: int
) -> tuple[npt.NDArray[np.uint8], float]:
    """RGB pixels of a window (padded black past the image), at most ``max_out`` px on the
    long side; returns the pixels and the display scale (output px per source px)."""
    scale = min(1.0, max_out / max(width, height))
    out_w, out_h = max(1, round(width * scale)), max(1, round(height * scale))
    window = ChipWindow(col, row, width, height, out_w, out_h)
    return reader.read_chip(window), out_w / width


def jpeg_data_uri(pixels: npt.NDArray[np.uint8], quality: int = 85) -> str:
    """A ``data:image/jpeg`` URI of an RGB ``(h, w, 3)`` array, encoded by GDAL (as the map's imagery)."""
    return encode_data_uri(pixels.transpose(2, 0, 1), "JPEG", "image/jpeg", quality=quality)
