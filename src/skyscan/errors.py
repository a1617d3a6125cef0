"""Errors raised by skyscan.

Every error derives from :class:`SkyscanError`, and each specific error also derives
from the matching builtin, so callers can catch either::

    SkyscanError
    ├── InputError(ValueError)           bad argument or option value
    │   ├── CRSError                     missing, unknown or mismatched CRS
    │   └── LabelError                   bad label file (training / evaluation)
    ├── ImageReadError(OSError)          a file cannot be opened or read as an image
    │   ├── ImageTooLargeError           absurd dimensions, refused before reading
    │   └── RemoteReadError              a URL or /vsi path failed (404, 403, 5xx, cut off)
    ├── GeoreferenceError(ValueError)    image has no usable georeferencing
    ├── MetadataError(ValueError)        sidecar XML or metadata table is bad or hostile
    ├── ModelError(RuntimeError)         model file or card missing, or they disagree
    ├── OutputExistsError(FileExistsError)  output exists and neither overwrite nor resume
    ├── OutputError(OSError)             output directory cannot be created or written
    ├── OutputLockedError(BlockingIOError)  another run holds the output directory
    └── MissingDependencyError(ImportError)  an optional extra is not installed
"""

from __future__ import annotations

from types import ModuleType


class SkyscanError(Exception):
    """Root of all skyscan errors."""


class InputError(SkyscanError, ValueError):
    """An argument or option has a value skyscan cannot use."""


class CRSError(InputError):
    """A coordinate reference system is missing, unknown or mismatched."""


class LabelError(InputError):
    """A label file (YOLO, COCO, xView) is malformed or inconsistent with its image."""


class ImageReadError(SkyscanError, OSError):
    """A file cannot be opened or read as a raster image."""


class ImageTooLargeError(ImageReadError):
    """An image declares dimensions beyond the configured limit."""


class RemoteReadError(ImageReadError):
    """A remote image (URL or GDAL ``/vsi*/`` path) could not be read.

    ``transient`` is true for failures the next attempt may not meet (server errors after
    GDAL's retries, time-outs, a connection dropped mid-read): ``--resume`` retries those.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class GeoreferenceError(SkyscanError, ValueError):
    """An image has no usable georeferencing where georeferencing is required."""


class MetadataError(SkyscanError, ValueError):
    """A metadata sidecar or table is malformed, hostile or does not match."""


class ModelError(SkyscanError, RuntimeError):
    """A model file or model card is missing, invalid, or they disagree."""


class OutputExistsError(SkyscanError, FileExistsError):
    """An output already exists and neither overwrite nor resume was asked for."""


class OutputError(SkyscanError, OSError):
    """An output directory cannot be created or written (a file in the way, read-only, full)."""


class OutputLockedError(SkyscanError, BlockingIOError):
    """Another live run holds the output directory's lock."""


class MissingDependencyError(SkyscanError, ImportError):
    """An optional dependency is missing; the message names the install command."""


def require(module: str, extra: str | None) -> ModuleType:
    """Import a dependency or raise an error saying how to install it: the extra of
    pyproject.toml that brings it, or (``extra`` None) the package itself, one of
    skyscan's own dependencies that went missing."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on environment
        fix = (
            f"pip install 'skyscan[{extra}]'"
            if extra
            else f"pip install {module} (a dependency of skyscan)"
        )
        raise MissingDependencyError(
            f"{module!r} is needed for this feature; install it with: {fix}"
        ) from exc


# Errors that fail one image, never a run: any exception while opening, planning or
# detecting one input becomes that input's row in the errors table (both engines), even
# one no reader anticipated (a LookupError from an XML codec, say): a hostile file must
# not cost the other inputs. What is not an Exception (KeyboardInterrupt, SystemExit)
# still ends the run, and writing a part is the run's job, not the image's: a failed write
# (a full disk) fails the run, so that --resume redoes that image instead of keeping an error.
IMAGE_ERRORS: tuple[type[BaseException], ...] = (Exception,)
# On a Spark executor, detecting or merging an opened image's units fails the *task* on
# anything else, so Spark retries it (an executor's own trouble is not the image's fault);
# opening and planning an input keep IMAGE_ERRORS there too.
UNIT_ERRORS: tuple[type[BaseException], ...] = (
    SkyscanError,
    OSError,
    ValueError,
    RuntimeError,
    MemoryError,
)


def ignore_missing_georef_warning() -> None:
    """Silence rasterio's warning that an image has no georeferencing, for the whole
    process: for skyscan that is an explicit state (pixel space, ``georef_source`` none).
    Set once rather than with ``warnings.catch_warnings`` around each open, which is not
    thread-safe: lanes open images side by side and the warning leaked past it."""
    import warnings

    warnings.filterwarnings("ignore", message="Dataset has no geotransform, gcps, or rpcs")
