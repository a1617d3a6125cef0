"""Detections as GeoDataFrames: reading, CRS discipline, the geometry an operation uses.

A detections table (see :mod:`skyscan.schema`) has two geometry columns in EPSG:4326:
``geometry`` (footprint polygon) and ``centroid`` (centre point), plus ``lon``/``lat``.
Rows of images without georeferencing have null geometries; operations never match them
and report how many there were.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
import shapely

from skyscan import arrow_arrays
from skyscan.errors import CRSError, InputError

if TYPE_CHECKING:
    import geopandas as gpd

logger = logging.getLogger(__name__)

Using = Literal["centroid", "footprint"]
USING = ("centroid", "footprint")
GEOMETRY_COLUMNS = ("geometry", "centroid")

_SET_CRS_HINT = (
    "set one on the file (e.g. GeoDataFrame.set_crs('EPSG:4326') before writing) "
    "or declare it with the command's --{flag} option (crs= in Python)"
)


def read_detections(path: str | Path, *, crs: str | None = None) -> gpd.GeoDataFrame:
    """Read a detections GeoParquet file; WKB geometry columns become GeoSeries.

    ``crs`` declares the CRS of a file that has none; it never overrides one the file
    declares (a disagreement is a :class:`CRSError`).
    """
    import geopandas as gpd
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError(f"detections file {str(path)!r} does not exist")
    arrow_arrays.parquet_columns(path)  # not Parquet at all: an error naming the file
    try:
        frame = gpd.read_parquet(path)
    except ValueError:
        # Plain Parquet (no 'geo' metadata): decode the contract's WKB columns ourselves.
        table = pd.read_parquet(path)
        if "geometry" not in table.columns:
            raise InputError(
                f"{path}: not a detections table (no 'geometry' column; got {list(table.columns)[:8]})"
            ) from None
        frame = gpd.GeoDataFrame(
            table, geometry=gpd.GeoSeries.from_wkb(table["geometry"]), crs=None
        )
    for col in GEOMETRY_COLUMNS:
        if col in frame.columns and not isinstance(frame[col], gpd.GeoSeries):
            frame[col] = gpd.GeoSeries.from_wkb(frame[col], index=frame.index, crs=frame.crs)
    if crs is not None:
        frame = _declare_crs(frame, crs, f"detections {path}")
    require_crs(frame, f"detections {path}", flag="detections-crs")
    return frame


def _declare_crs(frame: gpd.GeoDataFrame, crs: str, what: str) -> gpd.GeoDataFrame:
    import geopandas as gpd
    from pyproj import CRS
    from pyproj.exceptions import CRSError as ProjCRSError

    try:
        declared = CRS.from_user_input(crs)
    except ProjCRSError as exc:
        raise CRSError(f"{what}: unknown CRS {crs!r} ({exc})") from None
    if frame.crs is not None and not frame.crs.equals(declared):
        raise CRSError(
            f"{what} declares {_crs_name(frame.crs)} but {crs!r} was given; drop the option"
        )
    frame = frame.set_crs(declared, allow_override=True)
    for col in frame.columns:
        if isinstance(frame[col], gpd.GeoSeries) and frame[col].crs is None:
            frame[col] = frame[col].set_crs(declared)
    return frame


def require_crs(frame: gpd.GeoDataFrame, what: str, *, flag: str = "crs") -> None:
    """Raise :class:`CRSError` naming how to set a CRS when ``frame`` has none."""
    if frame.crs is None:
        raise missing_crs(what, flag)


def missing_crs(what: str, flag: str) -> CRSError:
    """The error for data without a CRS: how to set one, or the option ``--flag`` that declares it."""
    return CRSError(f"{what} has no CRS: {_SET_CRS_HINT.format(flag=flag)}")


def to_crs_reported(
    frame: gpd.GeoDataFrame, crs: object, what: str, notes: list[str]
) -> gpd.GeoDataFrame:
    """Reproject every geometry column of ``frame`` to ``crs``; record it in ``notes``.

    Never guesses: a frame without a CRS is a :class:`CRSError`.
    """
    import geopandas as gpd

    require_crs(frame, what)
    if frame.crs == crs or frame.crs.equals(crs):
        return frame
    out = frame.to_crs(crs)
    for col in out.columns:
        if (
            col != out.geometry.name
            and isinstance(out[col], gpd.GeoSeries)
            and out[col].crs is not None
        ):
            out[col] = out[col].to_crs(crs)
    note(
        notes,
        f"reprojected {what} from {_crs_name(frame.crs)} to {_crs_name(crs)} ({len(frame)} rows)",
    )
    return out


def _crs_name(crs: object) -> str:
    from pyproj import CRS

    crs = CRS.from_user_input(crs)
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name


def note(notes: list[str], message: str, level: int = logging.INFO) -> None:
    """Log ``message`` and keep it for the operation's result (the CLI shows them)."""
    logger.log(level, message)
    notes.append(message)


def detection_geometries(detections: gpd.GeoDataFrame, using: str) -> npt.NDArray[np.object_]:
    """The shapely array an operation works on: centre points or footprints."""
    if using not in USING:
        raise InputError(f"'using' must be one of {USING} (got {using!r})")
    if using == "footprint":
        return np.asarray(detections.geometry.values, dtype=object)
    if "centroid" in detections.columns:
        return np.asarray(detections["centroid"].values, dtype=object)
    lon, lat = detection_lonlat(detections)
    pts = shapely.points(lon, lat)
    pts[~(np.isfinite(lon) & np.isfinite(lat))] = None
    return pts


def detection_lonlat(
    detections: gpd.GeoDataFrame,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Centre lon/lat arrays (NaN where the detection has no georeferencing)."""
    import pandas as pd

    if "lon" in detections.columns and "lat" in detections.columns:
        lon = pd.to_numeric(detections["lon"], errors="coerce").to_numpy(
            np.float64, na_value=np.nan
        )
        lat = pd.to_numeric(detections["lat"], errors="coerce").to_numpy(
            np.float64, na_value=np.nan
        )
        return lon, lat
    col = "centroid" if "centroid" in detections.columns else detections.geometry.name
    geoms = np.asarray(detections[col].values, dtype=object)
    if col != "centroid":
        geoms = shapely.centroid(geoms)
    return shapely.get_x(geoms), shapely.get_y(geoms)


def check_detections_crs(detections: gpd.GeoDataFrame, notes: list[str]) -> gpd.GeoDataFrame:
    """Detections must carry a CRS; the contract's is EPSG:4326, others are reprojected."""
    require_crs(detections, "detections", flag="detections-crs")
    return to_crs_reported(detections, "EPSG:4326", "detections", notes)


def missing_geometries(geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.bool_]:
    """True where a detection has no geometry (its image had no georeferencing)."""
    return shapely.is_missing(geoms) | shapely.is_empty(geoms)


def report_unplaced(missing: npt.NDArray[np.bool_], notes: list[str], action: str) -> int:
    """Report detections without coordinates and what happens to them; their count."""
    count = int(np.count_nonzero(missing))
    if count:
        note(
            notes,
            f"{count} detection(s) have no coordinates (image not georeferenced) and {action}",
            logging.WARNING,
        )
    return count
