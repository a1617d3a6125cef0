"""Georeferencing of an image: where its transform and CRS come from, and their checks.

Resolved in this order (the first that applies wins; :func:`resolve_georef`):

1. what GDAL reads itself: GeoTIFF tags (``"geotiff"``), a GDAL ``.aux.xml`` holding a
   geotransform or SRS (``"aux.xml"``), a world file ``.jgw/.pgw/.tfw/.wld``
   (``"worldfile"``); ground control points become a best-fit affine transform;
2. an XML sidecar (``"sidecar"``, see :mod:`skyscan.io.sidecar`).

A transform without a CRS takes the CRS from a ``.prj`` beside the image, else from the
user's ``crs`` (the source is then ``"user"``: the CRS is the user's claim), else it is
a :class:`CRSError`: skyscan never guesses a CRS. An image with no georeferencing at
all is in pixel space (``"none"``) unless georeferencing is required.

Transforms are in rasterio/affine order ``(a, b, c, d, e, f)``: ``x = a*col + b*row + c``,
``y = d*col + e*row + f``, for pixel *corners* (``(0, 0)`` is the top-left corner of the
top-left pixel); the arithmetic on them lives in :mod:`skyscan.geo`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rasterio.transform import from_gcps

from skyscan.errors import CRSError, GeoreferenceError
from skyscan.geo.crs import normalize_crs
from skyscan.io import remote, sidecar
from skyscan.types import AffineTuple

if TYPE_CHECKING:
    from rasterio.io import DatasetReader

log = logging.getLogger(__name__)

WORLD_FILE_SUFFIXES: dict[str, tuple[str, ...]] = {
    ".tif": (".tfw", ".tifw", ".wld"),
    ".tiff": (".tfw", ".tiffw", ".wld"),
    ".jpg": (".jgw", ".jpgw", ".wld"),
    ".jpeg": (".jgw", ".jpegw", ".wld"),
    ".png": (".pgw", ".pngw", ".wld"),
}


# Ground sample distances that make physical sense for imagery from above, in metres per
# pixel: a millimetre (a close-range drone) to ten kilometres (a coarse global mosaic).
# A GSD outside them is a typo or a broken transform, and would chip an image into
# nothing or into billions of windows.
GSD_RANGE_M = (1e-3, 1e4)


def check_gsd(gsd: float, *, source: str) -> float:
    """Return ``gsd`` when it is a finite number of metres per pixel in :data:`GSD_RANGE_M`."""
    low, high = GSD_RANGE_M
    if not (isinstance(gsd, int | float) and math.isfinite(gsd) and low <= gsd <= high):
        raise GeoreferenceError(
            f"{source}: GSD must be between {low:g} and {high:g} metres per pixel (got {gsd!r})"
        )
    return float(gsd)


def world_file_for(image_path: str | Path) -> str | Path | None:
    """The world file beside ``image_path`` (``.pgw``, ``.jgw``, ``.tfw``, ``.wld``...), if any.

    Beside a remote image each name is probed with one request (lower case only).
    """
    if remote.is_remote(image_path):
        return _remote_sibling(str(image_path), WORLD_FILE_SUFFIXES)
    p = Path(image_path)
    suffixes = WORLD_FILE_SUFFIXES.get(p.suffix.lower(), (".wld",))
    for suffix in suffixes:
        for candidate in (p.with_suffix(suffix), p.with_suffix(suffix.upper())):
            if candidate.is_file():
                return candidate
    return None


def _remote_sibling(path: str, table: dict[str, tuple[str, ...]] | None) -> str | None:
    """The first existing sidecar of a remote image: world files (``table``) or ``.prj``."""
    name = remote.name_of(path)
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    if table is None:
        names = [stem + ".prj", name + ".prj"]
    else:
        names = [stem + s for s in table.get("." + ext.lower(), (".wld",))]
    return next((c for c in (remote.sibling(path, n) for n in names) if remote.exists(c)), None)


def read_text(path: str | Path) -> str:
    """A small text sidecar (world file, ``.prj``), local or remote."""
    if remote.is_remote(path):
        return remote.read_bytes(str(path)).decode("utf-8", errors="replace")
    return Path(path).read_text(encoding="utf-8", errors="replace")


def prj_for(image_path: str | Path) -> str | Path | None:
    """The ``.prj`` beside ``image_path`` (``scene.prj`` or ``scene.png.prj``), if any."""
    if remote.is_remote(image_path):
        return _remote_sibling(str(image_path), None)
    p = Path(image_path)
    for candidate in (p.with_suffix(".prj"), p.with_name(p.name + ".prj"), p.with_suffix(".PRJ")):
        if candidate.is_file():
            return candidate
    return None


def read_world_file(path: str | Path) -> AffineTuple:
    """Read a six-line world file (A, D, B, E, C, F; C/F = centre of the top-left pixel).

    Returns the corner-based transform ``(a, b, c, d, e, f)``.
    """
    try:
        values = [float(line) for line in read_text(path).split()]
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise GeoreferenceError(f"{path}: not a world file (six numbers expected): {exc}") from exc
    if len(values) != 6:
        raise GeoreferenceError(f"{path}: a world file holds six numbers (got {len(values)})")
    a, d, b, e, cx, cy = values
    # Shift from the centre of the top-left pixel to its outer corner.
    return (a, b, cx - a / 2 - b / 2, d, e, cy - d / 2 - e / 2)


def check_transform(transform: AffineTuple, *, source: str) -> None:
    """Refuse NaN/inf or degenerate transforms (a broken world file or tag)."""
    if not all(math.isfinite(v) for v in transform):
        raise GeoreferenceError(f"{source}: transform has non-finite values {transform}")
    a, b, _, d, e, _ = transform
    if a * e - b * d == 0:
        raise GeoreferenceError(f"{source}: transform {transform} is degenerate (zero pixel area)")


# ---------------------------------------------------------------------------- resolution


def _aux_has_georef(aux_path: str) -> bool:
    """True when a GDAL ``.aux.xml`` carries a geotransform or SRS (not just statistics)."""
    root = sidecar.parse_xml(aux_path)
    return root.find("GeoTransform") is not None or root.find("SRS") is not None


def _same_transform(t1: AffineTuple, t2: AffineTuple) -> bool:
    return all(math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9) for x, y in zip(t1, t2, strict=True))


@dataclass(frozen=True)
class Georef:
    """Where an image sits: its CRS and transform (both ``None`` in pixel space) and
    where they came from (``"geotiff"``, ``"aux.xml"``, ``"worldfile"``, ``"sidecar"``,
    ``"user"`` or ``"none"``)."""

    crs: str | None
    transform: AffineTuple | None
    source: str


def _gdal_georef(ds: DatasetReader, path: str, crs: str | None) -> Georef | None:
    """Georeferencing GDAL found itself, with its source; ``None`` when there is none."""
    transform: AffineTuple | None = None
    crs_obj = ds.crs
    if not ds.transform.is_identity:
        transform = tuple(ds.transform)[:6]
    else:
        gcps, gcp_crs = ds.gcps
        if gcps:
            transform = tuple(from_gcps(gcps))[:6]
            crs_obj = crs_obj or gcp_crs
            log.info("%s: affine transform fitted to %d ground control points", path, len(gcps))
    if transform is None:
        return None
    check_transform(transform, source=path)
    files = [str(f) for f in ds.files]
    aux = next((f for f in files if f.lower().endswith(".aux.xml")), None)
    # A GeoTIFF's own tags win over a world file in GDAL: same numbers, tags' credit (and
    # no probe for a world file beside it, which costs a request per name when remote).
    tags_win = ds.driver == "GTiff" and crs_obj is not None
    world = None if tags_win else world_file_for(path)
    if aux is not None and _aux_has_georef(aux):
        source = "aux.xml"
    elif world is not None and _same_transform(transform, read_world_file(world)):
        source = "worldfile"
    else:
        source = "geotiff"
    if crs_obj is not None:
        wkt = crs_obj.to_wkt()
        if not wkt:
            raise CRSError(f"{path}: georeferenced ({source}) but its CRS is empty")
        return Georef(normalize_crs(wkt, source=f"{path} ({source} CRS)"), transform, source)
    return _external_crs(path, crs, transform, source)


def _external_crs(path: str, crs: str | None, transform: AffineTuple, source: str) -> Georef:
    """A transform without its own CRS takes the ``.prj`` beside the image, else ``--crs``."""
    prj = prj_for(path)
    if prj is not None:
        text = read_text(prj)
        return Georef(normalize_crs(text, source=str(prj)), transform, source)
    if crs is not None:
        return Georef(crs, transform, "user")
    raise CRSError(
        f"{path}: has a transform ({source}) but no CRS (no .prj beside it); "
        f"pass the CRS with --crs / ReadOptions(crs=...)"
    )


def resolve_georef(
    ds: DatasetReader,
    path: str,
    side: sidecar.SidecarInfo | None,
    *,
    crs: str | None,
    require_georef: bool,
) -> Georef:
    """The georeferencing of the open rasterio dataset ``ds`` of ``path`` (see the module
    docstring for the order); ``side`` is its XML sidecar, read already, if any. ``crs``
    is the user's CRS for a transform without one; ``require_georef`` refuses pixel space."""
    found = _gdal_georef(ds, path, crs)
    if found is not None:
        return found
    world = world_file_for(path)
    if world is not None:
        # GDAL silently ignores a world file it cannot parse; the user put it there to
        # georeference the image, so working in pixel space instead would hide the mistake.
        transform = read_world_file(world)  # names the file when malformed
        check_transform(transform, source=str(world))
        return _external_crs(path, crs, transform, "worldfile")
    if side is not None and side.transform is not None:
        check_transform(side.transform, source=side.path)
        if side.crs is not None:
            return Georef(side.crs, side.transform, "sidecar")
        if crs is not None:
            return Georef(crs, side.transform, "user")
        raise CRSError(
            f"{side.path}: sidecar gives a position but no CRS; pass --crs / ReadOptions(crs=...)"
        )
    if require_georef:
        raise GeoreferenceError(
            f"{path}: no georeferencing (no GeoTIFF tags, world file, .aux.xml or XML sidecar) "
            f"and georeferencing is required"
        )
    return Georef(None, None, "none")
