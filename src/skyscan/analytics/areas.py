"""Areas of interest and zones: read from GeoJSON, GeoParquet, shapefile, GeoPackage or
WKT; checked and repaired, with every repair reported.

Checks, in order: a CRS is known (never guessed; WKT has none, so it must be given), the
set is not empty, no row is null or empty, geometry types are polygonal (or, for
distance joins, any single kind), and invalid polygons are repaired with
``shapely.make_valid`` — the repaired rows are named in the notes.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import shapely

from skyscan.analytics.frames import note, require_crs
from skyscan.errors import CRSError, InputError

if TYPE_CHECKING:
    import geopandas as gpd

logger = logging.getLogger(__name__)

PARQUET_SUFFIXES = (".parquet", ".geoparquet")
FILE_SUFFIXES = (".geojson", ".json", ".shp", ".gpkg", ".fgb", ".zip")
POLYGONAL = ("Polygon", "MultiPolygon")
_WKT_START = re.compile(
    r"^\s*(SRID=\d+;\s*)?(MULTI)?(POLYGON|POINT|LINESTRING)|^\s*GEOMETRYCOLLECTION", re.IGNORECASE
)
_MAX_LISTED = 5


@dataclass(frozen=True)
class Areas:
    """Checked areas: a GeoDataFrame with a CRS, and what was done to it."""

    frame: gpd.GeoDataFrame
    notes: tuple[str, ...]
    source: str

    @property
    def geometries(self) -> npt.NDArray[np.object_]:
        return np.asarray(self.frame.geometry.values, dtype=object)


def is_wkt(text: str) -> bool:
    """True when ``text`` looks like WKT (or EWKT) rather than a path."""
    return bool(_WKT_START.match(text))


def read_areas(
    source: str | Path,
    *,
    crs: str | None = None,
    layer: str | None = None,
    polygons_only: bool = True,
    crs_flag: str = "zones-crs",
) -> Areas:
    """Read areas from a file or a WKT string and check them (see module docstring).

    ``crs`` declares the CRS of data that has none (WKT, a shapefile without .prj); it
    never overrides a CRS the file declares (a disagreement is a :class:`CRSError`).
    ``crs_flag`` names the CLI option that sets it, for error messages.
    """
    import geopandas as gpd

    text = str(source)
    path = Path(text)
    if isinstance(source, str) and is_wkt(text):
        srid = re.match(r"^\s*SRID=(\d+);", text, re.IGNORECASE)
        wkt = text.split(";", 1)[1] if srid else text
        declared = f"EPSG:{srid.group(1)}" if srid else None
        try:
            geom = shapely.from_wkt(wkt)
        except shapely.errors.GEOSException as exc:
            raise InputError(f"areas: cannot parse WKT {text[:60]!r}: {exc}") from None
        frame = gpd.GeoDataFrame(geometry=[geom], crs=declared)
        return prepare_areas(
            frame, source="WKT area", crs=crs, polygons_only=polygons_only, crs_flag=crs_flag
        )
    if not path.exists():
        raise InputError(
            f"areas {text!r}: no such file, and not WKT (expected a path to .geojson, "
            f".parquet, .shp, .gpkg or a WKT string such as 'POLYGON ((...))')"
        )
    suffix = path.suffix.lower()
    try:
        if suffix in PARQUET_SUFFIXES:
            frame = gpd.read_parquet(path)
        else:
            frame = gpd.read_file(path, layer=layer)
    except (ValueError, OSError, RuntimeError) as exc:
        raise InputError(f"areas {text!r}: cannot read ({type(exc).__name__}: {exc})") from None
    return prepare_areas(
        frame, source=f"areas {path.name}", crs=crs, polygons_only=polygons_only, crs_flag=crs_flag
    )


def prepare_areas(
    frame: gpd.GeoDataFrame,
    *,
    source: str = "areas",
    crs: str | None = None,
    polygons_only: bool = True,
    crs_flag: str = "zones-crs",
) -> Areas:
    """Check and repair an areas GeoDataFrame; return it with notes. Does not mutate."""
    notes: list[str] = []
    frame = frame.copy()
    frame = _apply_declared_crs(frame, crs, source)
    require_crs(frame, source, flag=crs_flag)
    if len(frame) == 0:
        raise InputError(f"{source}: no areas (the file has 0 rows)")
    geoms = np.asarray(frame.geometry.values, dtype=object)
    bad = np.flatnonzero(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if bad.size:
        raise InputError(
            f"{source}: {bad.size} area(s) are empty or null (rows {_rows(bad)}); "
            "remove them or give them a geometry"
        )
    geoms = _check_types(geoms, source, polygons_only)
    geoms = _repair(geoms, source, notes)
    frame = frame.set_geometry(geoms, crs=frame.crs)
    return Areas(frame=frame.reset_index(drop=True), notes=tuple(notes), source=source)


def _apply_declared_crs(frame: gpd.GeoDataFrame, crs: str | None, source: str) -> gpd.GeoDataFrame:
    if crs is None:
        return frame
    from pyproj import CRS
    from pyproj.exceptions import CRSError as ProjCRSError

    try:
        declared = CRS.from_user_input(crs)
    except ProjCRSError as exc:
        raise CRSError(f"{source}: unknown CRS {crs!r} ({exc})") from None
    if frame.crs is None:
        return frame.set_crs(declared)
    if not frame.crs.equals(declared):
        raise CRSError(
            f"{source}: the data declares {frame.crs.to_string()} but {crs!r} was given; "
            "drop the option to use the data's own CRS (skyscan reprojects explicitly)"
        )
    return frame


def _check_types(
    geoms: npt.NDArray[np.object_], source: str, polygons_only: bool
) -> npt.NDArray[np.object_]:
    types = shapely.get_type_id(geoms)
    if polygons_only:
        # Collections of polygons (as some writers emit) become MultiPolygons.
        collections = np.flatnonzero(types == shapely.GeometryType.GEOMETRYCOLLECTION)
        for i in collections:
            parts = shapely.get_parts(geoms[i])
            if np.all(np.isin(shapely.get_type_id(parts), [3, 6])):
                geoms[i] = shapely.union_all(parts)
        types = shapely.get_type_id(geoms)
        bad = np.flatnonzero(~np.isin(types, [3, 6]))
        if bad.size:
            found = sorted(set(shapely.get_type_id(geoms[bad]).tolist()))
            names = [
                shapely.GeometryType(t).name.title().replace("string", "String") for t in found
            ]
            raise InputError(
                f"{source}: expected Polygon or MultiPolygon areas, got {', '.join(names)} "
                f"in rows {_rows(bad)} (mixed geometry types); buffer lines or points "
                "to polygons first, or use a distance join (predicate 'dwithin')"
            )
    return geoms


def _repair(
    geoms: npt.NDArray[np.object_], source: str, notes: list[str]
) -> npt.NDArray[np.object_]:
    invalid = np.flatnonzero(~shapely.is_valid(geoms))
    if invalid.size == 0:
        return geoms
    reasons = shapely.is_valid_reason(geoms[invalid])
    polygonal = np.isin(shapely.get_type_id(geoms[invalid]), [3, 6])
    fixed = shapely.make_valid(geoms[invalid])
    # make_valid may return a collection holding polygons plus stray lines from the
    # collapsed parts; keep the polygonal part of a polygonal input.
    for k in np.flatnonzero(polygonal & ~np.isin(shapely.get_type_id(fixed), [3, 6])):
        parts = shapely.get_parts(fixed[k])
        fixed[k] = shapely.union_all(parts[np.isin(shapely.get_type_id(parts), [3, 6])])
    empty = invalid[shapely.is_empty(fixed)]
    if empty.size:
        raise InputError(
            f"{source}: invalid area(s) in rows {_rows(empty)} have no area left after repair "
            f"({reasons[0]}); fix or remove them"
        )
    out = geoms.copy()
    out[invalid] = fixed
    detail = "; ".join(
        f"row {i}: {r}" for i, r in zip(invalid[:_MAX_LISTED], reasons[:_MAX_LISTED], strict=False)
    )
    more = f"; and {invalid.size - _MAX_LISTED} more" if invalid.size > _MAX_LISTED else ""
    note(
        notes,
        f"{source}: repaired {invalid.size} invalid geometr{'y' if invalid.size == 1 else 'ies'} "
        f"with make_valid ({detail}{more})",
        logging.WARNING,
    )
    return out


def _rows(idx: Any) -> str:
    shown = ", ".join(str(int(i)) for i in idx[:_MAX_LISTED])
    return shown + (f" and {len(idx) - _MAX_LISTED} more" if len(idx) > _MAX_LISTED else "")
