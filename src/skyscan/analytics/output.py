"""Write analytics results by the output's extension: GeoParquet, GeoJSON or CSV.

Writes are atomic (temporary file + rename, :func:`skyscan.io.writers.atomic_path`) and
refuse to replace an existing file unless ``overwrite=True``. GeoJSON holds one geometry
per feature, so extra geometry columns (a detection's ``centroid``) become WKT text, as do
all geometry columns in CSV.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

from skyscan.errors import InputError, OutputExistsError

if TYPE_CHECKING:
    import geopandas as gpd

FORMATS = {
    ".parquet": "parquet",
    ".geoparquet": "parquet",
    ".geojson": "geojson",
    ".json": "geojson",
    ".csv": "csv",
}


def output_format(path: str | Path) -> str:
    """``"parquet"``, ``"geojson"`` or ``"csv"`` from the file name, else a clear error."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"output {str(path)!r}: extension must be one of {sorted(FORMATS)} (got {suffix or 'none'!r})"
        )
    return FORMATS[suffix]


def check_writable(path: str | Path, overwrite: bool) -> None:
    """Fail early (before any work) when the output exists and overwrite is off."""
    output_format(path)
    if Path(path).exists() and not overwrite:
        raise OutputExistsError(
            f"output {str(path)!r} exists; pass --overwrite (overwrite=True) to replace it"
        )


def write_table(frame: pd.DataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``frame`` (a GeoDataFrame or a plain DataFrame) to ``path``."""
    from skyscan.io.writers import atomic_path

    check_writable(path, overwrite)
    fmt = output_format(path)
    path = Path(path)
    geo = [c for c in frame.columns if frame[c].dtype.name == "geometry"]
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            if geo:
                frame.to_parquet(tmp, index=False)
            else:
                pd.DataFrame(frame).to_parquet(tmp, index=False)
        elif fmt == "csv":
            _as_text(frame, geo).to_csv(tmp, index=False)
        else:
            _write_geojson(frame, geo, tmp)
    return path


def _as_text(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = _lists_as_json(pd.DataFrame(frame).copy())
    for c in columns:
        out[c] = shapely.to_wkt(np.asarray(frame[c].values, dtype=object), rounding_precision=-1)
    return out


def _lists_as_json(frame: pd.DataFrame) -> pd.DataFrame:
    """List columns (``class_scores``) as JSON text, which CSV and GDAL's GeoJSON writer
    would otherwise print as numpy reprs."""
    import json

    for c in frame.columns:
        if (
            frame[c].dtype == object
            and frame[c].map(lambda v: isinstance(v, np.ndarray | list)).any()
        ):
            frame[c] = frame[c].map(
                lambda v: (
                    json.dumps(np.asarray(v).tolist()) if isinstance(v, np.ndarray | list) else v
                )
            )
    return frame


def _write_geojson(frame: pd.DataFrame, geo: list[str], tmp: Path) -> None:
    import geopandas as gpd

    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in geo:
        raise InputError(
            "GeoJSON output needs a table with geometry (use .csv or .parquet for plain tables)"
        )
    primary = frame.geometry.name
    out = frame.copy()
    for c in geo:
        if c != primary:
            out[c] = shapely.to_wkt(
                np.asarray(frame[c].values, dtype=object), rounding_precision=-1
            )
    if out.crs is not None and not out.crs.equals("EPSG:4326"):
        out = out.to_crs("EPSG:4326")  # RFC 7946: GeoJSON is WGS84
    _json_safe(_lists_as_json(out)).to_file(tmp, driver="GeoJSON")


def _json_safe(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Columns GDAL cannot write to GeoJSON (unsigned 64-bit, nullable ints with NA,
    objects holding bytes) become text or floats."""
    for c in frame.columns:
        if c == frame.geometry.name:
            continue
        dtype = frame[c].dtype
        if dtype == np.uint64:
            frame[c] = frame[c].astype(str)
        elif frame[c].dtype == object and frame[c].map(lambda v: isinstance(v, bytes)).any():
            frame[c] = frame[c].map(lambda v: v.hex() if isinstance(v, bytes) else v)
    return frame
