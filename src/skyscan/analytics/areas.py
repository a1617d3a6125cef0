"""Areas of interest and zones: read from GeoJSON, GeoParquet, shapefile, GeoPackage or
WKT; checked and repaired, with every repair reported.

Checks, in order: a CRS is known (never guessed; WKT has none, so it must be given), the
set is not empty, no row is null or empty, geometry types are polygonal (or, for
distance joins, any single kind), and invalid polygons are repaired with
``shapely.make_valid`` — the repaired rows are named in the notes.

:func:`read_areas` gives a GeoDataFrame (for joins); :func:`read_area_shapes` gives the
same checked geometries and CRS, reading WKT and GeoJSON without pandas or geopandas
(an area of interest is read at the start of every run).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import shapely

from skyscan.analytics.frames import missing_crs, note
from skyscan.errors import CRSError, InputError
from skyscan.jsonfile import load_json_file

if TYPE_CHECKING:
    import geopandas as gpd
    import pyproj

logger = logging.getLogger(__name__)

PARQUET_SUFFIXES = (".parquet", ".geoparquet")
FILE_SUFFIXES = (".geojson", ".json", ".shp", ".gpkg", ".fgb", ".zip")
POLYGONAL = ("Polygon", "MultiPolygon")
GEOJSON_GEOMETRIES = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
)
_WKT_START = re.compile(
    r"^\s*(SRID=\d+;\s*)?((MULTI)?(POLYGON|POINT|LINESTRING)|GEOMETRYCOLLECTION)", re.IGNORECASE
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
        geom, declared = _parse_wkt(text)
        frame = gpd.GeoDataFrame(geometry=[geom], crs=declared)
        return prepare_areas(
            frame, source="WKT area", crs=crs, polygons_only=polygons_only, crs_flag=crs_flag
        )
    _require_file(path, text)
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
    geoms, checked_crs, notes = _checked(
        np.asarray(frame.geometry.values, dtype=object),
        frame.crs,
        source,
        crs,
        polygons_only,
        crs_flag,
    )
    frame = frame.copy().set_geometry(geoms, crs=checked_crs)
    return Areas(frame=frame.reset_index(drop=True), notes=tuple(notes), source=source)


@dataclass(frozen=True)
class AreaShapes:
    """Checked areas as shapely geometries with their CRS, without a frame."""

    geometries: npt.NDArray[np.object_]
    crs: pyproj.CRS
    notes: tuple[str, ...]
    source: str


def read_area_shapes(
    source: str | Path,
    *,
    crs: str | None = None,
    polygons_only: bool = True,
    crs_flag: str = "zones-crs",
) -> AreaShapes:
    """:func:`read_areas`' geometries and CRS, with the same checks: WKT and GeoJSON are
    parsed here (GeoJSON's CRS is EPSG:4326 unless it names another, as GDAL reads it),
    any other format through :func:`read_areas`."""
    text = str(source)
    if isinstance(source, str) and is_wkt(text):
        geom, declared = _parse_wkt(text)
        geoms, found, name = np.array([geom], dtype=object), declared, "WKT area"
    else:
        path = Path(text)
        _require_file(path, text)
        parsed = _parse_geojson(path) if path.suffix.lower() in (".geojson", ".json") else None
        if parsed is None:
            areas = read_areas(path, crs=crs, polygons_only=polygons_only, crs_flag=crs_flag)
            return AreaShapes(areas.geometries, areas.frame.crs, areas.notes, areas.source)
        (geoms, found), name = parsed, f"areas {path.name}"
    checked, checked_crs, notes = _checked(geoms, found, name, crs, polygons_only, crs_flag)
    return AreaShapes(checked, checked_crs, tuple(notes), name)


def _checked(
    geoms: npt.NDArray[np.object_],
    found: object,
    source: str,
    crs: str | None,
    polygons_only: bool,
    crs_flag: str,
) -> tuple[npt.NDArray[np.object_], pyproj.CRS, list[str]]:
    """The module's checks on geometries whose data declares CRS ``found`` (or None):
    the checked and repaired geometries, their CRS and the notes."""
    notes: list[str] = []
    found = _apply_declared_crs(found, crs, source)
    if found is None:
        raise missing_crs(source, crs_flag)
    if len(geoms) == 0:
        raise InputError(f"{source}: no areas (the file has 0 rows)")
    geoms = geoms.copy()
    bad = np.flatnonzero(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if bad.size:
        raise InputError(
            f"{source}: {bad.size} area(s) are empty or null (rows {_rows(bad)}); "
            "remove them or give them a geometry"
        )
    geoms = _check_types(geoms, source, polygons_only)
    return _repair(geoms, source, notes), found, notes


def _require_file(path: Path, text: str) -> None:
    if not path.exists():
        raise InputError(
            f"areas {text!r}: no such file, and not WKT (expected a path to .geojson, "
            f".parquet, .shp, .gpkg or a WKT string such as 'POLYGON ((...))')"
        )


def _parse_wkt(text: str) -> tuple[shapely.Geometry, str | None]:
    """The geometry of WKT or EWKT, and the CRS an ``SRID=n;`` prefix declares."""
    srid = re.match(r"^\s*SRID=(\d+);", text, re.IGNORECASE)
    wkt = text.split(";", 1)[1] if srid else text
    try:
        geom = shapely.from_wkt(wkt)
    except shapely.errors.GEOSException as exc:
        raise InputError(f"areas: cannot parse WKT {text[:60]!r}: {exc}") from None
    return geom, (f"EPSG:{srid.group(1)}" if srid else None)


def _parse_geojson(path: Path) -> tuple[npt.NDArray[np.object_], str] | None:
    """Every feature's geometry (None for a null one) and the CRS of a GeoJSON file;
    None when the file is JSON but not GeoJSON (left to GDAL, e.g. Esri JSON)."""
    import shapely.geometry

    data = load_json_file(path, "areas (GeoJSON)", InputError)
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "FeatureCollection":
        features = data.get("features") or []
        shapes = [f.get("geometry") if isinstance(f, dict) else None for f in features]
    elif kind == "Feature":
        shapes = [data.get("geometry")]
    elif kind in GEOJSON_GEOMETRIES:
        shapes = [data]
    else:
        return None
    try:
        geoms = np.array(
            [None if g is None else shapely.geometry.shape(g) for g in shapes], dtype=object
        )
    except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.GEOSException) as exc:
        raise InputError(f"areas {str(path)!r}: invalid GeoJSON geometry ({exc})") from None
    named = data.get("crs")  # the 2008 GeoJSON's "crs" member, which GDAL still honours
    name = named.get("properties", {}).get("name") if isinstance(named, dict) else None
    return geoms, name if isinstance(name, str) else "EPSG:4326"  # as GDAL reads it


def _apply_declared_crs(found: object, crs: str | None, source: str) -> pyproj.CRS | None:
    """The CRS of data that declares ``found`` (a pyproj CRS, a CRS string or None), with
    ``crs`` given for it: ``crs`` if it declares none, a :class:`CRSError` if they differ."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError as ProjCRSError

    parsed = None if found is None else CRS.from_user_input(found)
    if crs is None:
        return parsed
    try:
        declared = CRS.from_user_input(crs)
    except ProjCRSError as exc:
        raise CRSError(f"{source}: unknown CRS {crs!r} ({exc})") from None
    if parsed is None:
        return declared
    if not parsed.equals(declared):
        raise CRSError(
            f"{source}: the data declares {parsed.to_string()} but {crs!r} was given; "
            "drop the option to use the data's own CRS (skyscan reprojects explicitly)"
        )
    return parsed


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


def _rows(idx: npt.NDArray[np.intp]) -> str:
    shown = ", ".join(str(int(i)) for i in idx[:_MAX_LISTED])
    return shown + (f" and {len(idx) - _MAX_LISTED} more" if len(idx) > _MAX_LISTED else "")
