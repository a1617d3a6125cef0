"""skyscan: geospatial analytics on overhead imagery with deep learning.

The public API is what ``__all__`` lists: :func:`detect`, :func:`inspect` and :func:`map`
(the real functions, with their full signatures), the option declarations
:class:`DetectSettings`, :class:`RunSettings` and :class:`StacSettings`, and the exceptions. The modules the API
reference documents (docs/reference: :mod:`skyscan.spark`, :mod:`skyscan.analytics`,
:mod:`skyscan.viz`, :mod:`skyscan.schema`, ...) are public too; every other module is
internal and may change between releases.

Heavy dependencies (onnxruntime, torch, pyspark, the map) are imported where they are
used, so ``import skyscan`` stays fast: the functions load on first access.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:  # pragma: no cover
    from skyscan.api import detect
    from skyscan.api_inspect import inspect
    from skyscan.options import DetectSettings, RunSettings, StacSettings
    from skyscan.viz.build import make_map as map

    __version__: str

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "CRSError",
    "DetectSettings",
    "GeoreferenceError",
    "ImageReadError",
    "InputError",
    "MetadataError",
    "MissingDependencyError",
    "ModelError",
    "OutputExistsError",
    "RunSettings",
    "SkyscanError",
    "StacSettings",
    "__version__",
    "detect",
    "inspect",
    "map",
]

# public name -> (module, attribute), imported on first access
_LAZY = {
    "detect": ("skyscan.api", "detect"),
    "inspect": ("skyscan.api_inspect", "inspect"),
    "map": ("skyscan.viz.build", "make_map"),
    "DetectSettings": ("skyscan.options", "DetectSettings"),
    "RunSettings": ("skyscan.options", "RunSettings"),
    "StacSettings": ("skyscan.options", "StacSettings"),
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(import_module(module), attr)
    elif name == "__version__":
        value = _package_version()
    else:
        raise AttributeError(f"module 'skyscan' has no attribute {name!r}")
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def _package_version() -> str:
    """The installed distribution's version; ``0+unknown`` when skyscan runs from a
    source tree that was never installed. Read on first access: ``importlib.metadata``
    scans the installed distributions, which every command would pay for at start."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("skyscan")
    except PackageNotFoundError:
        return "0+unknown"
