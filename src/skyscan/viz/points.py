"""Turn any detections input into validated lon/lat arrays for the map.

Accepted inputs: a path to GeoParquet / Parquet / GeoJSON / CSV, a ``pyarrow.Table``, a
``pandas.DataFrame`` or a ``geopandas.GeoDataFrame``. The ``lon``/``lat`` columns of the
detections contract (EPSG:4326) are used when present; otherwise the geometry, reprojected
to EPSG:4326 from its CRS. Rows that cannot be placed are skipped and each reason is
counted in ``notes`` (shown in the page and logged): detections of images without
georeferencing, NaN or infinite coordinates, coordinates outside lon/lat or Web
Mercator's latitude range (±85.0511°).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from skyscan import arrow_arrays
from skyscan.errors import CRSError, InputError

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from skyscan.viz.build import Detections

log = logging.getLogger(__name__)

MAX_MERCATOR_LAT = 85.05112878  # Web Mercator (the map's projection) stops here
_WANTED = (
    "lon",
    "lat",
    "class_name",
    "class_id",
    "score",
    "image_id",
    "image_path",
    "georeferenced",
    "in_validated_range",
    "geometry",
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class MapPoints:
    """Valid detections as arrays, plus what was skipped and why.

    ``class_codes`` index ``class_names``; ``image_codes`` index ``image_names`` /
    ``image_paths``. ``score`` is NaN where the input had none. ``outside`` marks
    detections of images outside the model's validated range (``in_validated_range``
    false); they are drawn hollow. ``footprints``: each detection's footprint (WKB or
    shapely, EPSG:4326) where the input has one, decoded only for the markers drawn.
    """

    lon: FloatArray
    lat: FloatArray
    score: FloatArray
    class_codes: IntArray
    class_names: list[str]
    image_codes: IntArray
    image_names: list[str]
    image_paths: list[str]
    n_input: int
    notes: list[str] = field(default_factory=list)
    outside: npt.NDArray[np.bool_] | None = None
    footprints: npt.NDArray[np.object_] | None = None

    def __len__(self) -> int:
        return len(self.lon)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.class_codes, minlength=len(self.class_names))
        return {name: int(c) for name, c in zip(self.class_names, counts, strict=True)}


def _codes(values: npt.NDArray[Any], fill: str) -> tuple[IntArray, list[str]]:
    """Dictionary-encode strings: (codes, categories), nulls become ``fill``."""
    import pandas as pd

    codes, uniques = pd.factorize(np.asarray(values), sort=True)
    names = [str(u) for u in uniques]
    codes = codes.astype(np.int64)
    missing = codes < 0
    if missing.any():
        if fill not in names:
            names.append(fill)
        codes[missing] = names.index(fill)
    return codes, names


def _read_path(path: Path) -> pa.Table | gpd.GeoDataFrame:
    """Read a detections file into a pyarrow Table or a GeoDataFrame."""
    if not path.exists():
        raise InputError(f"detections file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".geoparquet", ".pq"}:
        import pyarrow.parquet as pq

        names = set(arrow_arrays.parquet_columns(path))
        if {"lon", "lat"} <= names:  # the contract's columns: read only what the map uses
            return pq.read_table(path, columns=[c for c in _WANTED if c in names])
        import geopandas as gpd

        return gpd.read_parquet(path)
    if suffix in {".geojson", ".json", ".gpkg", ".shp", ".fgb"}:
        import geopandas as gpd

        return gpd.read_file(path)
    if suffix == ".csv":
        import pandas as pd

        return pd.read_csv(path)
    raise InputError(
        f"detections file {path}: unknown format {suffix!r} "
        "(expected .parquet/.geoparquet, .geojson/.json, .gpkg, .shp, .fgb or .csv)"
    )


def _columns(obj: Detections, notes: list[str]) -> dict[str, npt.NDArray[Any]]:
    """The map's columns as numpy arrays, lon/lat in EPSG:4326 (maybe NaN)."""
    import pandas as pd

    if isinstance(obj, pa.Table):
        frame = obj.select([c for c in _WANTED if c in obj.column_names]).to_pandas()
        if not {"lon", "lat"} <= set(frame.columns):
            raise InputError(
                f"detections table has no 'lon'/'lat' columns (got {obj.column_names[:12]}); "
                "pass a GeoDataFrame or a GeoParquet file to use its geometry"
            )
    elif isinstance(obj, pd.DataFrame):
        frame = obj
    else:
        raise InputError(
            "'detections' must be a GeoDataFrame, DataFrame, pyarrow Table or a path "
            f"(got {type(obj).__name__})"
        )
    cols: dict[str, npt.NDArray[Any]] = {}
    if {"lon", "lat"} <= set(frame.columns):
        cols["lon"] = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(np.float64)
        cols["lat"] = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(np.float64)
    else:
        cols["lon"], cols["lat"] = _from_geometry(frame, notes)
    for name in _WANTED[2:-1]:
        if name in frame.columns:
            cols[name] = frame[name].to_numpy()
    footprints = _footprint_column(frame)
    if footprints is not None:
        cols["geometry"] = footprints
    return cols


def _footprint_column(frame: pd.DataFrame) -> npt.NDArray[np.object_] | None:
    """The footprints as an object array in EPSG:4326 (WKB bytes or shapely), or None."""
    import geopandas as gpd

    if isinstance(frame, gpd.GeoDataFrame):
        geoms = frame.geometry
        if geoms.crs is not None and not geoms.crs.equals("EPSG:4326"):
            geoms = geoms.to_crs("EPSG:4326")
        return np.asarray(geoms.values, dtype=object)
    if "geometry" in frame.columns:  # the contract's WKB column
        return np.asarray(frame["geometry"].to_numpy(), dtype=object)
    return None


def _from_geometry(frame: pd.DataFrame, notes: list[str]) -> tuple[FloatArray, FloatArray]:
    """Lon/lat of each geometry's centre, reprojected to EPSG:4326 from the frame's CRS."""
    import geopandas as gpd
    import shapely

    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(
            "detections need 'lon'/'lat' columns or a geometry "
            f"(got columns {list(frame.columns)[:12]})"
        )
    geoms = frame.geometry
    if geoms.crs is None:
        xy = shapely.get_coordinates(np.asarray(geoms.values)).astype(np.float64)
        looks_geographic = xy.size == 0 or (
            np.nanmax(np.abs(xy[:, 0])) <= 180 and np.nanmax(np.abs(xy[:, 1])) <= 90
        )
        if not looks_geographic:
            raise CRSError(
                "detections have no CRS and their coordinates are not lon/lat degrees "
                f"(e.g. x={xy[0, 0]:.1f}, y={xy[0, 1]:.1f}); set one first, for example "
                "gdf.set_crs('EPSG:32631')"
            )
        note = (
            "The detections have no CRS; their coordinates are within lon/lat range and are "
            "shown as EPSG:4326. Set the CRS to be sure."
        )
        log.warning(note)
        notes.append(note)
    elif not geoms.crs.equals("EPSG:4326"):
        log.info("reprojecting detections from %s to EPSG:4326", geoms.crs.to_string())
        geoms = geoms.to_crs("EPSG:4326")
    centres = shapely.centroid(np.asarray(geoms.values))
    empty = shapely.is_missing(centres) | shapely.is_empty(centres)
    lon = np.full(len(centres), np.nan)
    lat = np.full(len(centres), np.nan)
    lon[~empty] = shapely.get_x(centres[~empty])
    lat[~empty] = shapely.get_y(centres[~empty])
    return lon, lat


def _skip(
    keep: npt.NDArray[np.bool_], bad: npt.NDArray[np.bool_], why: str, notes: list[str]
) -> None:
    """Drop ``bad`` rows still kept, and note how many and why."""
    count = int(np.count_nonzero(bad & keep))
    if count:
        note = f"{count:,} detection(s) skipped: {why}."
        log.warning(note)
        notes.append(note)
        keep &= ~bad


def load_points(detections: Detections) -> MapPoints:
    """Read and validate detections for the map; see the module docstring."""
    import pandas as pd

    notes: list[str] = []
    obj = _read_path(Path(detections)) if isinstance(detections, str | Path) else detections
    cols = _columns(obj, notes)
    lon, lat = cols["lon"], cols["lat"]
    n = len(lon)
    keep = np.ones(n, dtype=bool)
    if "georeferenced" in cols:
        georef = np.asarray(cols["georeferenced"])
        not_georef = ~(georef == True)  # noqa: E712 - element-wise; nulls count as False
        _skip(keep, not_georef, "their image has no georeferencing (pixel coordinates only)", notes)
    with np.errstate(invalid="ignore"):
        _skip(
            keep, ~(np.isfinite(lon) & np.isfinite(lat)), "missing, NaN or infinite lon/lat", notes
        )
        _skip(keep, (np.abs(lon) > 180) | (np.abs(lat) > 90), "lon/lat out of range", notes)
        _skip(
            keep,
            np.abs(lat) > MAX_MERCATOR_LAT,
            f"latitude beyond ±{MAX_MERCATOR_LAT:.4f}° (outside Web Mercator)",
            notes,
        )

    if "class_name" in cols:
        class_codes, class_names = _codes(cols["class_name"][keep], "unknown")
    elif "class_id" in cols:
        class_codes, class_names = _codes(cols["class_id"][keep].astype(str), "unknown")
    else:
        class_codes, class_names = np.zeros(int(keep.sum()), np.int64), ["object"]
    if "image_id" in cols:
        image_codes, image_names = _codes(cols["image_id"][keep], "")
    elif "image_path" in cols:
        image_codes, image_names = _codes(
            np.array([Path(str(p)).stem for p in cols["image_path"][keep]], dtype=object), ""
        )
    else:
        image_codes, image_names = np.zeros(int(keep.sum()), np.int64), [""]
    image_paths = list(image_names)
    if "image_path" in cols and len(image_codes):
        paths = cols["image_path"][keep]
        first = np.unique(image_codes, return_index=True)[1]
        for code, idx in zip(image_codes[first], first, strict=True):
            image_paths[int(code)] = str(paths[idx])
    if "score" in cols:
        score = pd.to_numeric(pd.Series(cols["score"][keep]), errors="coerce").to_numpy(np.float64)
    else:
        score = np.full(int(keep.sum()), np.nan)
    outside = None
    if "in_validated_range" in cols:
        outside = np.asarray(cols["in_validated_range"][keep] == False, bool)  # noqa: E712 - nulls are not outside
        if outside.any():
            notes.append(
                f"{int(outside.sum()):,} detections come from images outside the model's validated range "
                "(hollow markers): treat them with care."
            )
    return MapPoints(
        lon=np.ascontiguousarray(lon[keep]),
        lat=np.ascontiguousarray(lat[keep]),
        score=score,
        class_codes=class_codes,
        class_names=class_names,
        image_codes=image_codes,
        image_names=image_names,
        image_paths=image_paths,
        n_input=n,
        notes=notes,
        outside=outside,
        footprints=cols["geometry"][keep] if "geometry" in cols else None,
    )
