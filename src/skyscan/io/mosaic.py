"""Seamless mosaics: adjacent tiles of one CRS and GSD detected as one surface.

A mosaic is a GDAL VRT: either one the user gives (any ``.vrt`` input) or one
:func:`build_vrt` writes for a folder or glob of tiles (``skyscan detect --mosaic``). The
pipeline then treats it as one image: chips are planned on the mosaic's grid and may span
tile borders, and boxes are merged once over the whole mosaic, so a vehicle on a seam
is found once and tiles that overlap give no duplicates. The tiles still shape the work
and the rows:

- :func:`window_groups`: chips are grouped by the tile they start in, so a work unit
  (a local lane's stretch, a Spark task) reads one tile and the edges of its neighbours;
- :func:`row_image_ids`: each detection's ``image_id`` is ``MOSAIC/TILE``, the tile its
  centre lies in (the last such source of the VRT: the one whose pixels GDAL shows); a
  metadata table that names the tiles (a STAC mosaic's items) gives each row its tile's
  attributes.

Tiles of different CRS, pixel size, band layout or data type, rotated tiles and tiles off
the mosaic's pixel grid are refused with an :class:`InputError` naming two of the files:
a mosaic is one pixel grid, and resampling tiles onto it would change what is detected.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import defusedxml
import defusedxml.ElementTree as DET
import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.enums import ColorInterp

from skyscan.errors import IMAGE_ERRORS, ImageReadError, InputError
from skyscan.io import remote
from skyscan.io.sources import InputFailure, unique_image_ids
from skyscan.types import ChipWindow, ImageRef

log = logging.getLogger(__name__)

# OUTDIR/mosaics/NAME.vrt: the mosaics a run built (kept: image_path names them)
MOSAIC_DIR = "mosaics"
GRID_TOLERANCE_PX = 0.01  # a tile's origin this close to a mosaic pixel corner is on the grid
_SOURCE_TAGS = ("SimpleSource", "ComplexSource", "AveragedSource", "KernelFilteredSource")
_HEADER_THREADS = 8  # tile headers are read side by side (remote tiles: one request each)


@dataclass(frozen=True)
class Tile:
    """One source of a mosaic and where it lies on the mosaic's grid (pixels)."""

    tile_id: str
    path: str
    col_off: int
    row_off: int
    width: int
    height: int


@dataclass(frozen=True)
class _Header:
    path: str
    width: int
    height: int
    crs: rasterio.crs.CRS | None
    transform: rasterio.Affine
    dtype: str
    colorinterp: tuple[ColorInterp, ...]
    nodata: float | None
    block: tuple[int, int]  # (height, width)


def is_vrt(path: str) -> bool:
    """True for a path GDAL opens as a VRT (by its extension)."""
    return (remote.name_of(path) if remote.is_remote(path) else path).lower().endswith(".vrt")


# ------------------------------------------------------------------------ building


def _header(path: str) -> _Header:
    try:
        with rasterio.Env(**remote.gdal_env(path)), rasterio.open(remote.gdal_path(path)) as ds:
            return _Header(
                path,
                ds.width,
                ds.height,
                ds.crs,
                ds.transform,
                str(ds.dtypes[0]),
                tuple(ds.colorinterp),
                None if ds.nodata is None else float(ds.nodata),
                ds.block_shapes[0],
            )
    except rasterio.errors.RasterioIOError as exc:
        raise ImageReadError(f"{remote.redact(path)}: cannot open as a mosaic tile: {exc}") from exc


def read_headers(paths: Sequence[str]) -> tuple[list[_Header], list[InputFailure]]:
    """The headers of ``paths`` (read side by side); a tile that cannot be opened is a
    ``read`` failure and is left out of the mosaic (a hole where it would be)."""

    def one(path: str) -> _Header | InputFailure:
        try:
            return _header(path)
        except IMAGE_ERRORS as exc:
            return InputFailure(path, "read", exc)

    with ThreadPoolExecutor(_HEADER_THREADS) as pool:
        found = list(pool.map(one, paths))
    return [h for h in found if isinstance(h, _Header)], [
        f for f in found if isinstance(f, InputFailure)
    ]


def _check_same(headers: Sequence[_Header]) -> None:
    """Refuse tiles that do not share one CRS, pixel size, band layout and data type."""
    first = headers[0]
    a, e = first.transform.a, first.transform.e
    for h in headers:
        t = h.transform
        what = None
        if h.crs is None:
            what = "has no CRS"
        elif t.b != 0 or t.d != 0:
            what = "is rotated (a mosaic needs north-up tiles)"
        elif h.crs != first.crs:
            what = (
                f"has CRS {h.crs.to_string()}, not {first.crs.to_string() if first.crs else None}"
            )
        elif not (math.isclose(t.a, a, rel_tol=1e-6) and math.isclose(t.e, e, rel_tol=1e-6)):
            what = f"has pixels of {t.a:g} x {-t.e:g}, not {a:g} x {-e:g}"
        elif len(h.colorinterp) != len(first.colorinterp) or h.dtype != first.dtype:
            what = f"has {len(h.colorinterp)} bands of {h.dtype}, not {len(first.colorinterp)} of {first.dtype}"
        elif ColorInterp.palette in h.colorinterp:
            what = "is paletted (a mosaic of paletted tiles is not supported: expand them to RGB)"
        if what:
            raise InputError(
                f"{remote.redact(h.path)}: cannot join the mosaic of {remote.redact(first.path)}: it {what}; "
                "a mosaic takes tiles of one CRS and GSD (run the other tiles as a mosaic of their own)"
            )


def layout(headers: Sequence[_Header]) -> tuple[rasterio.Affine, int, int, list[tuple[int, int]]]:
    """The mosaic's transform and size, and each tile's (col, row) offset on its grid."""
    if not headers:
        raise InputError("a mosaic needs at least one tile")
    _check_same(headers)
    a, e = headers[0].transform.a, headers[0].transform.e
    x0 = min(h.transform.c for h in headers)
    y0 = max(h.transform.f for h in headers)
    offsets: list[tuple[int, int]] = []
    for h in headers:
        col, row = (h.transform.c - x0) / a, (h.transform.f - y0) / e
        if abs(col - round(col)) > GRID_TOLERANCE_PX or abs(row - round(row)) > GRID_TOLERANCE_PX:
            raise InputError(
                f"{remote.redact(h.path)}: off the mosaic's pixel grid by ({col - round(col):+.3f}, "
                f"{row - round(row):+.3f}) px (the grid of {remote.redact(headers[0].path)}; tiles of a "
                "mosaic share one grid: resample it first)"
            )
        offsets.append((round(col), round(row)))
    width = max(c + h.width for (c, _), h in zip(offsets, headers, strict=True))
    height = max(r + h.height for (_, r), h in zip(offsets, headers, strict=True))
    return rasterio.Affine(a, 0.0, x0, 0.0, e, y0), width, height, offsets


def vrt_xml(headers: Sequence[_Header]) -> str:
    """A VRT of ``headers`` as one surface, tiles in the given order (later ones on top)."""
    transform, width, height, offsets = layout(headers)
    first = headers[0]
    root = ET.Element("VRTDataset", rasterXSize=str(width), rasterYSize=str(height))
    assert first.crs is not None  # _check_same
    ET.SubElement(root, "SRS", dataAxisToSRSAxisMapping="1,2").text = first.crs.to_wkt()
    ET.SubElement(root, "GeoTransform").text = ", ".join(
        repr(v) for v in (transform.c, transform.a, 0.0, transform.f, 0.0, transform.e)
    )
    gdal_type = _GDAL_TYPES.get(first.dtype)
    if gdal_type is None:
        raise InputError(f"{first.path}: data type {first.dtype} is not supported in a mosaic")
    for band, interp in enumerate(first.colorinterp, start=1):
        node = ET.SubElement(root, "VRTRasterBand", dataType=gdal_type, band=str(band))
        if first.nodata is not None:
            ET.SubElement(node, "NoDataValue").text = repr(first.nodata)
        ET.SubElement(node, "ColorInterp").text = interp.name.capitalize()
        for h, (col, row) in zip(headers, offsets, strict=True):
            source = ET.SubElement(
                node, "ComplexSource" if h.nodata is not None else "SimpleSource"
            )
            ET.SubElement(source, "SourceFilename", relativeToVRT="0").text = remote.gdal_path(
                h.path
            )
            ET.SubElement(source, "SourceBand").text = str(band)
            ET.SubElement(
                source,
                "SourceProperties",
                RasterXSize=str(h.width),
                RasterYSize=str(h.height),
                DataType=gdal_type,
                BlockXSize=str(h.block[1]),
                BlockYSize=str(h.block[0]),
            )
            ET.SubElement(
                source, "SrcRect", xOff="0", yOff="0", xSize=str(h.width), ySize=str(h.height)
            )
            ET.SubElement(
                source,
                "DstRect",
                xOff=str(col),
                yOff=str(row),
                xSize=str(h.width),
                ySize=str(h.height),
            )
            if h.nodata is not None:
                ET.SubElement(source, "NODATA").text = repr(h.nodata)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


_GDAL_TYPES = {
    "uint8": "Byte",
    "int8": "Int8",
    "uint16": "UInt16",
    "int16": "Int16",
    "uint32": "UInt32",
    "int32": "Int32",
    "float32": "Float32",
    "float64": "Float64",
}


def build_vrt(paths: Sequence[str], dest: str | Path) -> tuple[Path, list[InputFailure]]:
    """Write the VRT of the tiles ``paths`` to ``dest`` (sorted by path, so the same
    tiles always give the same file); return it and the tiles that could not be opened."""
    headers, failures = read_headers(sorted(paths))
    if not headers:
        raise InputError(f"{dest}: no tile of the mosaic could be opened ({len(failures)} failed)")
    dest = Path(dest)
    text = vrt_xml(headers)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # a resumed run keeps its file
    if not dest.is_file() or dest.read_text(encoding="utf-8") != text:
        tmp = dest.with_name(f".{dest.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, dest)
    log.info("%s: mosaic of %d tiles", dest, len(headers))
    return dest, failures


def mosaic_name(inputs: Sequence[str | Path]) -> str:
    """The name of the mosaic of ``inputs`` (VRTs aside): the folder's name for one folder
    (or the folder a glob searches), else ``mosaic``."""
    if len(inputs) == 1:
        text = os.fspath(inputs[0])
        base = text.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0]
        folder = base if os.path.isdir(text) or base != text else os.path.dirname(text)
        name = Path(os.path.abspath(folder)).name
        if name:
            return name
    return "mosaic"


def mosaic_inputs(
    paths: Sequence[str], inputs: Sequence[str | Path], folder: str | Path
) -> tuple[list[str], list[InputFailure]]:
    """``paths`` with every image that is not a VRT joined into one mosaic written in
    ``folder`` (VRTs are mosaics already and pass as they are)."""
    tiles = [p for p in paths if not is_vrt(p)]
    out = [p for p in paths if is_vrt(p)]
    if not tiles:
        return out, []
    name = mosaic_name([i for i in inputs if not is_vrt(os.fspath(i))])
    vrt, failures = build_vrt(tiles, Path(folder) / f"{name}.vrt")
    return sorted([*out, str(vrt)]), failures


# ------------------------------------------------------------------------ reading


def mosaic_tiles(path: str) -> tuple[Tile, ...]:
    """The tiles of a VRT (its first band's sources with their destination rectangles);
    ``()`` for anything else, or a VRT without plain sources (a warped VRT)."""
    if not is_vrt(path) or remote.is_remote(path):
        return ()
    try:
        stat = os.stat(path)
    except OSError:
        return ()
    return _tiles(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _tiles(path: str, _mtime_ns: int, _size: int) -> tuple[Tile, ...]:
    # safely (no entities, no external references), and no size limit: VRTs of many tiles are big
    try:
        root = DET.parse(
            path, forbid_dtd=False, forbid_entities=True, forbid_external=True
        ).getroot()
    except (defusedxml.DefusedXmlException, ET.ParseError, ValueError) as exc:
        raise ImageReadError(f"{path}: unreadable VRT ({type(exc).__name__}: {exc})") from exc
    band = root.find("VRTRasterBand") if root is not None else None
    if band is None:
        return ()
    found: list[tuple[str, int, int, int, int]] = []
    for source in band:
        if source.tag not in _SOURCE_TAGS:
            continue
        name, dst = source.find("SourceFilename"), source.find("DstRect")
        if name is None or not name.text or dst is None:
            continue
        file = name.text.strip()
        if name.get("relativeToVRT", "0") == "1":
            file = os.path.join(os.path.dirname(path), file)
        try:
            rect = [round(float(dst.get(k, "nan"))) for k in ("xOff", "yOff", "xSize", "ySize")]
        except ValueError:
            continue  # a DstRect GDAL would refuse: no tile to name
        found.append((file, *rect))  # type: ignore[arg-type]
    ids = unique_image_ids(sorted({f for f, *_ in found}))
    return tuple(Tile(ids[f], f, c, r, w, h) for f, c, r, w, h in found)


def tile_index(tiles: Sequence[Tile], x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.intp]:
    """For each mosaic pixel position (x, y), the last tile containing it (GDAL draws the
    VRT's sources in order: the last one's pixels are shown), or -1 in a hole."""
    xs, ys = np.asarray(x, np.float64), np.asarray(y, np.float64)
    out = np.full(xs.shape, -1, np.intp)
    for k, t in enumerate(tiles):
        inside = (
            (xs >= t.col_off)
            & (xs < t.col_off + t.width)
            & (ys >= t.row_off)
            & (ys < t.row_off + t.height)
        )
        out[inside] = k
    return out


def window_groups(ref: ImageRef, windows: Sequence[ChipWindow]) -> list[list[ChipWindow]]:
    """``windows`` grouped by the tile they start in (their top-left corner, or the
    first pixel inside the mosaic for chips padded past its edge), tiles in reading
    order; one group for an image that is not a mosaic."""
    tiles = mosaic_tiles(ref.path)
    if len(tiles) < 2 or not windows:
        return [list(windows)]
    cols = np.clip([w.col_off for w in windows], 0, ref.width - 1)
    rows = np.clip([w.row_off for w in windows], 0, ref.height - 1)
    which = tile_index(tiles, cols, rows)
    # a tile's row in reading order; chips starting in a hole go with the tile before them
    order = sorted(range(len(tiles)), key=lambda k: (tiles[k].row_off, tiles[k].col_off))
    rank = np.empty(len(tiles) + 1, np.intp)
    rank[np.asarray(order, np.intp)] = np.arange(len(tiles))
    rank[-1] = len(tiles)  # holes (index -1) last
    key = rank[which]
    groups: dict[int, list[ChipWindow]] = {}
    for k, w in zip(key.tolist(), windows, strict=True):
        groups.setdefault(k, []).append(w)
    return [groups[k] for k in sorted(groups)]


def row_tiles(ref: ImageRef, boxes: npt.NDArray[np.float64]) -> npt.NDArray[np.intp] | None:
    """Each box's tile (the one its centre lies in; -1 in a hole), for a mosaic of several
    tiles; ``None`` for any other image."""
    tiles = mosaic_tiles(ref.path)
    if len(tiles) < 2:
        return None
    return tile_index(tiles, (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2)


def row_image_ids(ref: ImageRef, which: npt.NDArray[np.intp] | None) -> str | list[str]:
    """Each box's ``image_id`` (``which``: :func:`row_tiles`): ``MOSAIC/TILE`` for the
    tile its centre lies in, the tile named as the metadata table names it (a STAC
    mosaic: the item's id); the image's own id otherwise (and in a hole)."""
    if which is None:
        return ref.image_id
    tile_ids = (
        [name for name, _ in ref.tile_metadata]
        if ref.tile_metadata
        else [t.tile_id for t in mosaic_tiles(ref.path)]
    )
    names = [f"{ref.image_id}/{t}" for t in tile_ids] + [ref.image_id]
    return [names[k] for k in which.tolist()]


def largest_tile(path: str) -> tuple[int, int] | None:
    """(width, height) of a mosaic's largest tile, ``None`` when not a mosaic."""
    tiles = mosaic_tiles(path)
    if not tiles:
        return None
    big = max(tiles, key=lambda t: t.width * t.height)
    return big.width, big.height


def tiles_bytes(path: str) -> int | None:
    """The bytes of a mosaic's tiles (local files), ``None`` when not a mosaic."""
    tiles = mosaic_tiles(path)
    if not tiles:
        return None
    total = 0
    for f in {t.path for t in tiles}:
        try:
            total += os.path.getsize(f)
        except OSError:
            return None
    return total
