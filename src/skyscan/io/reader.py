"""Open images as :class:`ImageRef` (headers only) and read RGB chips through windows.

Georeferencing is resolved by :func:`skyscan.io.georef.resolve_georef` (GeoTIFF tags,
``.aux.xml``, world files, ``.prj``, XML sidecars, ``ReadOptions.crs``); an image with
none is processed in pixel space (with ``ReadOptions.gsd`` as its GSD if given) unless
``require_georef`` is set.

Bands: colour interpretation picks R, G, B; one or two bands (grey, grey+alpha) read as
``(1, 1, 1)``; alpha bands are masks, never colours; a paletted band is expanded through
its colour table (nearest-neighbour resampling; transparent entries are masked). Four or more bands without a colour
interpretation (multispectral such as SpaceNet's PS-RGBNIR) read bands ``(1, 2, 3)``:
the common R, G, B, NIR order. ``ReadOptions.rgb_bands`` overrides the choice (e.g.
``(5, 3, 2)`` for WorldView-2/3 8-band).

Non-uint8 data is mapped linearly to 0..255 with one ``value_range`` per image (the 2nd
and 98th percentile of the R, G, B bands together, so colours keep their balance), from
a decimated read of at most ``SAMPLE_SIZE`` pixels on a side (GDAL uses overviews when
present). Every chip of an image is therefore scaled alike.

A ``rasterio`` dataset is not thread-safe: use one :class:`ImageReader` per thread.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.enums import ColorInterp, MaskFlags, Resampling
from rasterio.io import DatasetReader
from rasterio.windows import Window

from skyscan.errors import (
    ImageReadError,
    ImageTooLargeError,
    InputError,
    RemoteReadError,
    SkyscanError,
    ignore_missing_georef_warning,
)
from skyscan.geo.crs import gsd_metres, normalize_crs
from skyscan.io import georef, metadata, mosaic, remote, sidecar
from skyscan.io.prefetch import TilePrefetcher
from skyscan.io.sidecar import XmlMapping
from skyscan.types import ChipWindow, ImageRef, JsonObject

log = logging.getLogger(__name__)

SAMPLE_SIZE = 1024  # longest side of the decimated read that estimates value_range
RESAMPLING: dict[str, Resampling] = {
    "nearest": Resampling.nearest,
    "bilinear": Resampling.bilinear,
    "cubic": Resampling.cubic,
    "average": Resampling.average,
    "lanczos": Resampling.lanczos,
}


@dataclass(frozen=True)
class ReadOptions:
    """How images are opened; validated at construction.

    ``crs``: CRS for world files without ``.prj`` and sidecars without a CRS.
    ``gsd``: metres per pixel for images without georeferencing.
    ``require_georef``: raise :class:`GeoreferenceError` instead of using pixel space.
    ``sidecar_mapping``: XPaths for vendor XML sidecars.
    ``metadata_table``: CSV/Parquet keyed by ``image_id`` or ``filename``.
    ``max_pixels``: images with more pixels (width × height) raise ``ImageTooLargeError``.
    ``rgb_bands``: 1-based band indexes to read as R, G, B (overrides the automatic choice).
    ``percentiles``: the robust range used to scale non-uint8 data to 0..255.
    """

    crs: str | None = None
    gsd: float | None = None
    require_georef: bool = False
    sidecar_mapping: XmlMapping | None = None
    metadata_table: str | None = None
    max_pixels: int = 2_000_000_000
    rgb_bands: tuple[int, int, int] | None = None
    percentiles: tuple[float, float] = (2.0, 98.0)

    def __post_init__(self) -> None:
        if self.crs is not None:
            object.__setattr__(self, "crs", normalize_crs(self.crs, source="'crs' option"))
        if self.gsd is not None:
            low, high = georef.GSD_RANGE_M
            if not (
                isinstance(self.gsd, int | float)
                and math.isfinite(self.gsd)
                and low <= self.gsd <= high
            ):
                raise InputError(
                    f"'gsd' must be a number of metres per pixel between {low:g} and {high:g} "
                    f"(got {self.gsd!r})"
                )
        if not isinstance(self.max_pixels, int) or self.max_pixels <= 0:
            raise InputError(f"'max_pixels' must be a positive integer (got {self.max_pixels!r})")
        if self.rgb_bands is not None:
            bands = tuple(self.rgb_bands)
            if len(bands) != 3 or not all(isinstance(b, int) and b >= 1 for b in bands):
                raise InputError(
                    f"'rgb_bands' must be three 1-based band indexes (got {self.rgb_bands!r})"
                )
            object.__setattr__(self, "rgb_bands", bands)
        lo, hi = self.percentiles
        if not 0 <= lo < hi <= 100:
            raise InputError(
                f"'percentiles' must satisfy 0 <= low < high <= 100 (got {self.percentiles!r})"
            )
        if self.metadata_table is not None:
            metadata.load_table(self.metadata_table)  # fail now, once, not once per image


# ---------------------------------------------------------------------------- opening


def _reason(exc: BaseException) -> str:
    """The most specific message in an exception chain.

    rasterio reports a failed read as "Read failed. See previous exception for details."
    and chains GDAL's own error (e.g. "TIFFReadEncodedTile() failed"), which is the one a
    user can act on.
    """
    seen: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 5:
        text = str(current).strip()
        if text and "previous exception" not in text and not any(text in m for m in seen):
            seen.append(text)
        current = current.__cause__ or current.__context__
    return "; ".join(seen) or type(exc).__name__


def _wrap(path: str, action: str, exc: BaseException) -> ImageReadError:
    reason = _reason(exc)
    if remote.is_remote(path):
        explained, transient = remote.explain(path, reason)
        detail = f"{explained} ({reason})" if explained else reason
        return RemoteReadError(
            remote.redact(f"{path}: cannot {action}: {detail}"), transient=transient
        )
    return ImageReadError(f"{path}: cannot {action}: {reason}")


def _check_file(path: str) -> None:
    if remote.is_remote(path):
        return  # GDAL's open says whether it exists (404, 403...), in one request
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot open: {exc.strerror}") from exc
    if not os.path.isfile(path):
        raise ImageReadError(f"{path}: not a regular file")
    if size == 0:
        raise ImageReadError(f"{path}: file is empty (0 bytes)")


@functools.lru_cache(maxsize=1024)
def _remote_aux_exists(path: str) -> bool:
    """Whether a remote image has a GDAL ``.aux.xml`` (one request per image and process,
    not one per open: every lane opens the image again)."""
    return remote.exists(remote.sibling(path, remote.name_of(path) + ".aux.xml"))


def _open_dataset(path: str) -> DatasetReader:
    env = remote.gdal_env(path)
    if remote.is_remote(path) and _remote_aux_exists(path):
        env["GDAL_DISABLE_READDIR_ON_OPEN"] = "YES"  # let GDAL probe for (and read) it
    try:
        ignore_missing_georef_warning()  # a plain PNG/JPEG has no transform: a state, not news
        with rasterio.Env(**env):
            ds = rasterio.open(remote.gdal_path(path))
    except Exception as exc:
        if remote.is_remote(path) and not remote.explain(path, _reason(exc))[0]:
            _check_not_cut(path)  # no HTTP status or cut named: "not recognized", say
        raise _wrap(path, "open as an image", exc) from exc
    if (
        remote.is_remote(path)
        and ds.driver == "GTiff"
        and (ds.crs is None or ds.transform.is_identity)
    ):
        try:
            _check_not_cut(path)
        except RemoteReadError:
            ds.close()
            raise
    return ds


def _check_not_cut(path: str) -> None:
    """A remote open that failed, or a GeoTIFF without its georeferencing, may be a
    connection cut inside the header: then it is a transient error, not the file's state."""
    if not remote.head_is_complete(path):
        raise RemoteReadError(
            remote.redact(
                f"{path}: cannot open as an image: {remote.CUT_OFF} (its header did not arrive in full)"
            ),
            transient=True,
        )


def choose_rgb_bands(
    colorinterp: tuple[ColorInterp, ...], override: tuple[int, int, int] | None = None
) -> tuple[int, int, int]:
    """1-based band indexes to read as R, G, B (see the module docstring for the rules)."""
    count = len(colorinterp)
    if override is not None:
        if max(override) > count:
            raise InputError(f"'rgb_bands' {override} exceeds the image's {count} bands")
        return override
    where = {ci: i + 1 for i, ci in reversed(list(enumerate(colorinterp)))}
    if all(c in where for c in (ColorInterp.red, ColorInterp.green, ColorInterp.blue)):
        return (where[ColorInterp.red], where[ColorInterp.green], where[ColorInterp.blue])
    colour = [i + 1 for i, ci in enumerate(colorinterp) if ci != ColorInterp.alpha] or [1]
    if len(colour) < 3:
        return (colour[0], colour[0], colour[0])
    return (colour[0], colour[1], colour[2])


def _palette_lut(
    ds: DatasetReader, rgb_bands: tuple[int, int, int]
) -> npt.NDArray[np.uint8] | None:
    """RGBA lookup table of a single paletted band (PNG/GIF-style colour maps), else None."""
    band = rgb_bands[0]
    if len(set(rgb_bands)) != 1 or ds.colorinterp[band - 1] != ColorInterp.palette:
        return None
    try:
        cmap = ds.colormap(band)
    except ValueError:  # "NULL color table": marked palette but without a table
        return None
    size = 256 if ds.dtypes[band - 1] == "uint8" else 65536
    lut = np.zeros((size, 4), np.uint8)
    for index, colour in cmap.items():
        if 0 <= index < size:
            lut[index] = colour[:4] if len(colour) >= 4 else (*colour[:3], 255)
    return lut


def _needs_mask(ds: DatasetReader, bands: tuple[int, ...]) -> bool:
    return any(MaskFlags.all_valid not in ds.mask_flag_enums[b - 1] for b in bands)


def _value_range(
    ds: DatasetReader, path: str, bands: tuple[int, ...], percentiles: tuple[float, float]
) -> tuple[float, float]:
    """Robust range of the bands from a decimated read (never the full image)."""
    scale = max(1.0, max(ds.width, ds.height) / SAMPLE_SIZE)
    shape = (len(bands), max(1, round(ds.height / scale)), max(1, round(ds.width / scale)))
    try:
        with rasterio.Env(**remote.gdal_env(path)):
            sample = ds.read(
                indexes=list(bands), out_shape=shape, masked=True, resampling=Resampling.nearest
            )
    except Exception as exc:
        raise _wrap(path, "read a decimated sample", exc) from exc
    values = np.ma.compressed(sample).astype(np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        log.warning("%s: no valid pixels in the decimated sample; value range set to 0..1", path)
        return (0.0, 1.0)
    lo, hi = (float(v) for v in np.percentile(values, percentiles))
    if hi <= lo:
        hi = lo + 1.0
    return (lo, hi)


def _joined_metadata(
    path: str, image_id: str, side: sidecar.SidecarInfo | None, options: ReadOptions
) -> tuple[str, JsonObject]:
    attrs: JsonObject = dict(side.attributes) if side is not None else {}
    if side is not None and side.image_id:
        image_id = side.image_id
    if options.metadata_table is not None:
        row = metadata.lookup(options.metadata_table, image_id, path)
        table_id = row.pop("image_id", None)
        if table_id:
            image_id = str(table_id)
        if not row and not table_id:
            log.debug("%s: no row for %r in %s", path, image_id, options.metadata_table)
        attrs.update(row)  # the table is explicit user input: it wins over the sidecar
    return image_id, attrs


def _tile_metadata(path: str, options: ReadOptions) -> tuple[tuple[str, JsonObject], ...]:
    """Each tile's id and attributes from the metadata table, for a mosaic of several
    tiles some of which the table names (by id, path or file name); else ``()``."""
    tiles = mosaic.mosaic_tiles(path)
    if options.metadata_table is None or len(tiles) < 2:
        return ()
    found = []
    for tile in tiles:
        row = metadata.lookup(options.metadata_table, tile.tile_id, tile.path)
        found.append((str(row.pop("image_id", None) or tile.tile_id), row))
    return tuple(found) if any(attrs for _, attrs in found) else ()


def _warn_untiled(ds: DatasetReader, path: str) -> None:
    """Warn when a remote image is not tiled: each chip then fetches whole rows of it."""
    block_h, block_w = ds.block_shapes[0]
    if block_w >= ds.width and ds.width > 1024:
        log.warning(
            "%s: not tiled (strips of %d x %d px): every chip fetches whole image rows, "
            "up to %.0fx the bytes of its window; convert it to a cloud-optimized GeoTIFF "
            "(gdal_translate -of COG) to read it in windows",
            remote.redact(path),
            block_w,
            block_h,
            ds.width / 256,
        )


def open_image(
    path: str | os.PathLike[str],
    options: ReadOptions = ReadOptions(),
    *,
    image_id: str | None = None,
) -> ImageRef:
    """Describe an image without reading its pixels (only a small sample for non-uint8).

    ``image_id`` defaults to the file stem (see :func:`skyscan.io.sources.unique_image_ids`
    for ids that stay unique across folders); a sidecar ``image_id`` XPath or a table's
    ``image_id`` column overrides it.

    Raises :class:`ImageReadError` (missing, empty, corrupt, not an image),
    :class:`ImageTooLargeError`, :class:`CRSError`, :class:`GeoreferenceError`,
    :class:`MetadataError` (hostile or bad sidecar/table); each names the file.
    """
    path = os.fspath(path)
    _check_file(path)
    aux = None if remote.is_remote(path) else sidecar.find_aux_xml(path)
    if aux is not None:
        # GDAL reads it on open with or without a transform in it: refuse a hostile or
        # unreadable one first, beside any image (MetadataError naming the file)
        sidecar.parse_xml(aux)
    ds = _open_dataset(path)
    with ds:
        width, height, count = int(ds.width), int(ds.height), int(ds.count)
        # a mosaic is read in windows of its tiles: the limit is each tile's
        tile = mosaic.largest_tile(path)
        w, h = tile or (width, height)
        if w * h > options.max_pixels:
            raise ImageTooLargeError(
                f"{path}: {'a tile of ' if tile else ''}{w} x {h} = {w * h} pixels exceeds the limit of "
                f"{options.max_pixels} (ReadOptions.max_pixels)"
            )
        if remote.is_remote(path):
            _warn_untiled(ds, path)
        xml = sidecar.find_sidecar(path)
        side = (
            sidecar.read_sidecar(
                xml, width, height, options.sidecar_mapping, default_gsd=options.gsd
            )
            if xml is not None
            else None
        )
        geo = georef.resolve_georef(
            ds, path, side, crs=options.crs, require_georef=options.require_georef
        )
        gsd = (
            georef.check_gsd(
                gsd_metres(geo.transform, geo.crs, width, height),
                source=f"transform {geo.transform}",
            )
            if geo.transform is not None and geo.crs is not None
            else options.gsd
        )
        rgb = choose_rgb_bands(tuple(ds.colorinterp), options.rgb_bands)
        dtype = str(ds.dtypes[rgb[0] - 1])
        bands = tuple(sorted(set(rgb)))
        value_range = (
            None if dtype == "uint8" else _value_range(ds, path, bands, options.percentiles)
        )
        nodata = None if ds.nodata is None else float(ds.nodata)
    default_id = Path(remote.name_of(path)).stem if remote.is_remote(path) else Path(path).stem
    final_id, attrs = _joined_metadata(path, image_id or default_id, side, options)
    tile_metadata = _tile_metadata(path, options)
    return ImageRef(
        image_id=final_id,
        path=path,
        width=width,
        height=height,
        count=count,
        dtype=dtype,
        crs=geo.crs,
        transform=geo.transform,
        gsd=gsd,
        georef_source=geo.source,
        nodata=nodata,
        rgb_bands=rgb,
        value_range=value_range,
        metadata=attrs,
        tile_metadata=tile_metadata,
    )


# ---------------------------------------------------------------------------- reading


def to_uint8(
    data: npt.NDArray[Any], value_range: tuple[float, float] | None
) -> npt.NDArray[np.uint8]:
    """Map ``value_range`` linearly onto 0..255 (clipped); uint8 without a range passes."""
    if value_range is None:
        if data.dtype == np.uint8:
            return data
        return np.clip(data, 0, 255).astype(np.uint8)
    lo, hi = value_range
    scaled = (data.astype(np.float32) - np.float32(lo)) * np.float32(255.0 / (hi - lo))
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(scaled + 0.5, 0, 255).astype(np.uint8)


def _edges(off: int, size: int, out: int, limit: int) -> tuple[int, int, float, float] | None:
    """Output pixel range [o0, o1) inside the image and its exact source span [s0, s1).

    One axis of a window ``off..off+size`` resampled to ``out`` pixels, clipped to the
    image ``0..limit``: output pixel ``o`` covers source ``off + o*size/out``.
    """
    c0, c1 = max(0, off), min(limit, off + size)
    if c1 <= c0:
        return None
    o0 = max(0, min(out, round((c0 - off) * out / size)))
    o1 = max(0, min(out, round((c1 - off) * out / size)))
    if o1 <= o0:
        return None
    s0 = max(0.0, off + o0 * size / out)
    s1 = min(float(limit), off + o1 * size / out)
    return o0, o1, s0, s1


class ImageReader:
    """Keeps one image open for many windowed chip reads (use as a context manager).

    >>> with ImageReader(ref) as reader:                        # doctest: +SKIP
    ...     chip = reader.read_chip(ChipWindow(0, 0, 512, 512, 256, 256))
    """

    def __init__(self, ref: ImageRef) -> None:
        self.ref = ref
        self._env = remote.gdal_env(ref.path)
        self._ds = _open_dataset(ref.path)
        if (self._ds.width, self._ds.height) != (ref.width, ref.height):
            self._ds.close()
            raise ImageReadError(
                f"{ref.path}: size changed since it was opened "
                f"({ref.width}x{ref.height} then, {self._ds.width}x{self._ds.height} now)"
            )
        self._bands = tuple(sorted(set(ref.rgb_bands)))
        self._prefetcher = (
            TilePrefetcher(self._ds, ref.path, self._bands, self._env)
            if remote.is_remote(ref.path) and TilePrefetcher.usable(self._ds)
            else None
        )
        self._take = [self._bands.index(b) for b in ref.rgb_bands]
        self._mask = _needs_mask(self._ds, self._bands)
        self._lut = _palette_lut(self._ds, ref.rgb_bands)
        # R, G, B are bands 1, 2, 3 in order, uint8, unmasked: read without any conversion
        self._direct = (
            ref.rgb_bands == (1, 2, 3)
            and ref.value_range is None
            and ref.dtype == "uint8"
            and not self._mask
            and self._lut is None
        )

    def __enter__(self) -> ImageReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._prefetcher is not None:
            self._prefetcher.close()
        self._ds.close()

    def prefetch(self, windows: Sequence[ChipWindow]) -> None:
        """Start fetching what ``windows`` will need, in the background (remote tiled
        images; a no-op otherwise): call it with the next batch before running the model
        on this one."""
        if self._prefetcher is not None:
            self._prefetcher.submit(windows)

    def read_chip(self, window: ChipWindow, resampling: str = "bilinear") -> npt.NDArray[np.uint8]:
        """RGB uint8 ``(out_height, out_width, 3)`` for ``window``, resampled in one GDAL read.

        Parts of the window outside the image, nodata and alpha-masked pixels are 0.
        """
        return self.read_chips([window], resampling)[0]

    def read_chips(
        self, windows: Sequence[ChipWindow], resampling: str = "bilinear"
    ) -> npt.NDArray[np.uint8]:
        """``read_chip`` for several windows of one size: ``(n, out_height, out_width, 3)``.

        The result is a channels-last *view* of a channels-first array: GDAL delivers bands
        one plane at a time, and models take planes (NCHW), so the pixels are never
        interleaved and de-interleaved again; ``chips.transpose(0, 3, 1, 2)`` is contiguous.
        The GDAL environment is entered once for all windows, not per chip.
        """
        if not windows:
            raise InputError(f"{self.ref.path}: no windows to read")
        method = RESAMPLING.get(resampling)
        if method is None:
            raise InputError(
                f"'resampling' must be one of {sorted(RESAMPLING)} (got {resampling!r})"
            )
        sizes = {(w.out_height, w.out_width) for w in windows}
        if len(sizes) > 1:
            raise InputError(
                f"{self.ref.path}: windows read together must share one output size (got {sorted(sizes)})"
            )
        # Each chip is written straight into its planes of the batch: no per-chip copies.
        # Not zeroed here: ``_read_into`` zeroes only the chips that reach past the image.
        planes = np.empty((len(windows), 3, windows[0].out_height, windows[0].out_width), np.uint8)
        with rasterio.Env(**self._env):
            for out, window in zip(planes, windows, strict=True):
                self._read_into(out, window, method)
        return planes.transpose(0, 2, 3, 1)

    def _read_into(
        self, out: npt.NDArray[np.uint8], window: ChipWindow, method: Resampling
    ) -> None:
        """Fill ``out`` (``(3, out_height, out_width)``, any content) with the chip of ``window``."""
        if min(window.width, window.height, window.out_width, window.out_height) <= 0:
            raise InputError(f"{self.ref.path}: window sizes must be positive (got {window})")
        cols = _edges(window.col_off, window.width, window.out_width, self.ref.width)
        rows = _edges(window.row_off, window.height, window.out_height, self.ref.height)
        if cols is None or rows is None:
            out.fill(0)
            return
        oc0, oc1, sc0, sc1 = cols
        or0, or1, sr0, sr1 = rows
        src = Window(sc0, sr0, sc1 - sc0, sr1 - sr0)
        shape = (or1 - or0, oc1 - oc0)
        target = out[:, or0:or1, oc0:oc1]
        if target.shape != out.shape:
            out.fill(0)  # the chip reaches past the image: its padding is 0
        if self._direct and target.flags.c_contiguous:
            # plain uint8 RGB, chip fully inside: GDAL decodes straight into the batch
            try:
                self._ds.read(indexes=list(self._bands), window=src, out=target, resampling=method)
            except Exception as exc:
                raise _wrap(self.ref.path, f"read window {window}", exc) from exc
            return
        if self._lut is not None:
            method = Resampling.nearest  # palette indexes cannot be interpolated
        try:
            data = self._ds.read(
                indexes=list(self._bands),
                window=src,
                out_shape=(len(self._bands), *shape),
                resampling=method,
            )
            valid = (
                self._ds.read_masks(
                    indexes=list(self._bands), window=src, out_shape=(len(self._bands), *shape)
                ).min(axis=0)
                > 0
                if self._mask
                else None
            )
        except SkyscanError:
            raise
        except Exception as exc:
            raise _wrap(self.ref.path, f"read window {window}", exc) from exc
        if self._lut is not None:
            rgba = self._lut[data[0]]
            for channel in range(3):
                target[channel] = rgba[..., channel]
            transparent = rgba[..., 3] == 0
            valid = ~transparent if valid is None else valid & ~transparent
        else:
            pixels = to_uint8(data, self.ref.value_range)
            for channel, band in enumerate(self._take):
                target[channel] = pixels[band]
        if valid is not None:
            target[:, ~valid] = 0
