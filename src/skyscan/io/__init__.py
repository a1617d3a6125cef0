"""Ingest: input paths -> :class:`~skyscan.types.ImageRef` -> windowed RGB chip reads.

- :mod:`~skyscan.io.sources`: files, directories and globs to image paths (with sampling);
- :mod:`~skyscan.io.reader`: ``open_image`` (headers, georeferencing) and ``ImageReader``;
- :mod:`~skyscan.io.georef`: CRS, world files, GSD in metres, footprints;
- :mod:`~skyscan.io.sidecar`: XML metadata sidecars (FGDC, vendor XPath mappings);
- :mod:`~skyscan.io.metadata`: CSV/Parquet tables of per-image attributes.
"""

from __future__ import annotations

from skyscan.io.reader import ImageReader, ReadOptions, open_image
from skyscan.io.sidecar import XmlMapping
from skyscan.io.sources import (
    IMAGE_EXTENSIONS,
    InputFailure,
    expand_inputs,
    unique_image_ids,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageReader",
    "InputFailure",
    "ReadOptions",
    "XmlMapping",
    "expand_inputs",
    "open_image",
    "unique_image_ids",
]
