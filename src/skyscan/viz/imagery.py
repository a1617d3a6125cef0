"""Source imagery as map overlays: decimated, reprojected to Web Mercator, embedded.

An image is never read whole: one decimated read (``out_shape``, which lets GDAL use
overviews) gives at most ``max_size`` pixels on the long side. The small array is warped
to EPSG:3857, the map's own projection, so that Leaflet's ``L.imageOverlay`` (which
stretches an image linearly between two corners in the map's projection) puts every
pixel where it belongs. The result is embedded as a WebP (or PNG) ``data:`` URI with
transparency outside the footprint and over nodata.
"""

from __future__ import annotations

import base64
import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from affine import Affine

from skyscan.errors import GeoreferenceError, ImageReadError, InputError

log = logging.getLogger(__name__)

TOTAL_PIXEL_BUDGET = 12_000_000  # source pixels over all overlays, before encoding


@dataclass(frozen=True)
class Overlay:
    """One embedded image: its name, lat/lon corners and the encoded picture."""

    name: str
    path: str
    south: float
    west: float
    north: float
    east: float
    data_uri: str
    width: int
    height: int

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "path": self.path,
            "url": self.data_uri,
            "bounds": [[self.south, self.west], [self.north, self.east]],
        }


def _stretch(
    bands: npt.NDArray[np.floating], valid: npt.NDArray[np.bool_]
) -> npt.NDArray[np.uint8]:
    """Linear 2–98 % stretch of each band over valid pixels, to uint8."""
    out = np.zeros(bands.shape, np.uint8)
    for i, band in enumerate(bands):
        values = band[valid]
        if values.size == 0:
            continue
        lo, hi = np.percentile(values, [2, 98])
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        out[i] = np.clip((band - lo) * scale, 0, 255).astype(np.uint8)
    return out


def _encode(rgba: npt.NDArray[np.uint8]) -> str:
    """Encode a (4, h, w) RGBA array as a data URI (WebP when GDAL has it, else PNG)."""
    import rasterio

    with rasterio.Env() as env:
        webp = "WEBP" in env.drivers()
    if webp:
        return encode_data_uri(rgba, "WEBP", "image/webp", quality=85)
    return encode_data_uri(rgba, "PNG", "image/png")


def encode_data_uri(bands: npt.NDArray[np.uint8], driver: str, mime: str, **options: object) -> str:
    """A ``data:`` URI of a ``(bands, h, w)`` uint8 array encoded by GDAL's ``driver``. The
    picture has no georeferencing on purpose: the page positions it."""
    import rasterio
    from rasterio.io import MemoryFile

    from skyscan.errors import ignore_missing_georef_warning

    ignore_missing_georef_warning()
    profile = {
        "driver": driver,
        "width": bands.shape[2],
        "height": bands.shape[1],
        "count": bands.shape[0],
        "dtype": "uint8",
    }
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), MemoryFile() as memfile:
        with memfile.open(**profile, **options) as dst:
            dst.write(np.ascontiguousarray(bands))
        data = memfile.read()
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def render_overlay(path: str | Path, max_size: int = 1024) -> Overlay:
    """Read ``path`` decimated to ``max_size`` pixels, warp it to EPSG:3857 and encode it.

    Raises :class:`ImageReadError` when the file cannot be read and
    :class:`GeoreferenceError` when it has no CRS or transform.
    """
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.errors import NotGeoreferencedWarning, RasterioError
    from rasterio.warp import calculate_default_transform, reproject, transform_bounds

    if max_size < 16:
        raise InputError(f"'max_size' must be >= 16 pixels (got {max_size})")
    path = str(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # checked just below
            src = rasterio.open(path)
        with src:
            if src.crs is None or src.transform == Affine.identity():
                raise GeoreferenceError(
                    f"{path}: image has no CRS/transform; cannot place it on the map"
                )
            factor = max(1.0, max(src.width, src.height) / max_size)
            out_w = max(1, math.ceil(src.width / factor))
            out_h = max(1, math.ceil(src.height / factor))
            band_idx = [1, 2, 3] if src.count >= 3 else [1, 1, 1]
            bands = src.read(band_idx, out_shape=(3, out_h, out_w), resampling=Resampling.average)
            mask = src.dataset_mask(out_shape=(out_h, out_w), resampling=Resampling.nearest) > 0
            transform = src.transform @ Affine.scale(src.width / out_w, src.height / out_h)
            src_crs = src.crs
    except RasterioError as exc:
        raise ImageReadError(f"{path}: cannot read image ({exc})") from exc

    rgb = bands if bands.dtype == np.uint8 else _stretch(bands.astype(np.float64), mask)
    alpha = np.where(mask, 255, 0).astype(np.uint8)
    src_rgba = np.concatenate([rgb, alpha[None]], axis=0)
    with warnings.catch_warnings():
        # rasterio's own from_bounds multiplies affines with `*`, which affine 2.4 marks as
        # pending deprecation: nothing a caller can change
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        dst_transform, dst_w, dst_h = calculate_default_transform(
            src_crs, "EPSG:3857", out_w, out_h, *_bounds(transform, out_w, out_h)
        )
    dst = np.zeros((4, int(dst_h), int(dst_w)), np.uint8)
    reproject(
        src_rgba,
        dst,
        src_transform=transform,
        src_crs=src_crs,
        dst_transform=dst_transform,
        dst_crs="EPSG:3857",
        resampling=Resampling.bilinear,
        src_nodata=None,
        dst_nodata=0,
    )
    x0, y1 = dst_transform @ (0, 0)
    x1, y0 = dst_transform @ (dst_w, dst_h)
    west, south, east, north = transform_bounds("EPSG:3857", "EPSG:4326", x0, y0, x1, y1)
    return Overlay(
        name=Path(path).name,
        path=path,
        south=south,
        west=west,
        north=north,
        east=east,
        data_uri=_encode(dst),
        width=int(dst_w),
        height=int(dst_h),
    )


def _bounds(transform: Affine, width: int, height: int) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of a possibly rotated grid."""
    corners = [transform @ (c, r) for c in (0, width) for r in (0, height)]
    xs = [c[0] for c in corners]
    ys = [c[1] for c in corners]
    return min(xs), min(ys), max(xs), max(ys)


def load_overlays(
    paths: Sequence[str | Path], max_size: int = 1024
) -> tuple[list[Overlay], list[str]]:
    """Render every image of ``paths`` (files, directories, globs); return overlays and notes.

    An image that cannot be read or placed becomes a note, never an exception: the map
    shows everything else. ``max_size`` shrinks with many images so that all overlays
    together stay within :data:`TOTAL_PIXEL_BUDGET` pixels.
    """
    from skyscan.io.sources import expand_inputs

    if isinstance(paths, str | Path):
        paths = [paths]
    files, failures = expand_inputs(list(paths))
    notes = [f"Imagery not shown: {f.error}" for f in failures]
    if files:
        per_image = int(math.sqrt(TOTAL_PIXEL_BUDGET / len(files)))
        max_size = max(64, min(max_size, per_image))
    overlays: list[Overlay] = []
    unplaced: list[str] = []
    for file in files:
        try:
            overlays.append(render_overlay(file, max_size=max_size))
        except GeoreferenceError:
            unplaced.append(file)
        except ImageReadError as exc:
            notes.append(f"Imagery not shown: {exc}")
        except Exception as exc:  # a broken file must not take the whole map down
            notes.append(f"Imagery not shown: {file}: {type(exc).__name__}: {exc}")
    if unplaced:
        shown = ", ".join(Path(f).name for f in unplaced[:3])
        more = f" and {len(unplaced) - 3} more" if len(unplaced) > 3 else ""
        notes.append(
            f"Imagery not shown: {len(unplaced)} image(s) have no CRS/transform "
            f"(pixel space only), so they cannot be placed: {shown}{more}."
        )
    for note in notes:
        log.warning(note)
    return overlays, notes
