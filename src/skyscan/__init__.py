"""skyscan: geospatial analytics on overhead imagery with deep learning.

Heavy dependencies (onnxruntime, torch, pyspark, the map) are imported where they are
used, so ``import skyscan`` stays fast.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from skyscan.errors import (
    CRSError,
    GeoreferenceError,
    ImageReadError,
    InputError,
    MetadataError,
    MissingDependencyError,
    ModelError,
    OutputExistsError,
    SkyscanError,
)

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "CRSError",
    "GeoreferenceError",
    "ImageReadError",
    "InputError",
    "MetadataError",
    "MissingDependencyError",
    "ModelError",
    "OutputExistsError",
    "SkyscanError",
    "__version__",
    "detect",
    "inspect",
    "map",
]

if TYPE_CHECKING:  # pragma: no cover
    pass


def detect(*args: Any, **kwargs: Any) -> Any:
    """Detect objects in images; see :func:`skyscan.api.detect`."""
    from skyscan.api import detect as _detect

    return _detect(*args, **kwargs)


def inspect(*args: Any, **kwargs: Any) -> Any:
    """Describe images (size, bands, CRS, GSD, footprint); see :func:`skyscan.api.inspect`."""
    from skyscan.api import inspect as _inspect

    return _inspect(*args, **kwargs)


def map(*args: Any, **kwargs: Any) -> Any:
    """Build an offline HTML map of detections; see :func:`skyscan.viz.make_map`."""
    from skyscan.viz import make_map

    return make_map(*args, **kwargs)
