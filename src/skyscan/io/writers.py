"""Writers: GeoParquet (the system of record), GeoJSON, the errors table, the run manifest.

Every write is atomic: the data goes to a temporary file in the target folder, is
flushed, and is renamed over the target, so a crash never leaves a half-written file
that looks complete.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from skyscan import arrow_arrays
from skyscan.types import JsonObject

GEOPARQUET_VERSION = "1.1.0"
# Geometry columns of the detections table and their types (GeoParquet metadata).
GEOMETRY_COLUMNS = {"geometry": ["Polygon"], "centroid": ["Point"]}


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        # mkstemp creates 0600 files; outputs get the usual permissions (0666 less umask)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _read_umask() -> int:
    # os.umask can only be read by setting it; do it once, at import, not per write
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def write_atomic_text(target: str | Path, writer: Callable[[IO[str]], None]) -> Path:
    with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        writer(fh)
    return Path(target)


def _wgs84_projjson() -> JsonObject:
    from pyproj import CRS

    return CRS.from_epsg(4326).to_json_dict()


def geo_metadata(table: pa.Table) -> JsonObject:
    """GeoParquet 1.1 ``geo`` metadata for the detections table's WKB columns."""
    columns: JsonObject = {}
    crs = _wgs84_projjson()
    for name, types in GEOMETRY_COLUMNS.items():
        if name not in table.column_names:
            continue
        geoms = shapely.from_wkb(table.column(name).to_pylist())
        valid = geoms[~shapely.is_missing(geoms)] if len(geoms) else geoms
        meta: JsonObject = {"encoding": "WKB", "geometry_types": types, "crs": crs}
        if len(valid):
            b = shapely.bounds(valid)
            meta["bbox"] = [
                float(np.min(b[:, 0])),
                float(np.min(b[:, 1])),
                float(np.max(b[:, 2])),
                float(np.max(b[:, 3])),
            ]
        columns[name] = meta
    return {"version": GEOPARQUET_VERSION, "primary_column": "geometry", "columns": columns}


def with_geo_metadata(table: pa.Table) -> pa.Table:
    meta = dict(table.schema.metadata or {})
    meta[b"geo"] = json.dumps(geo_metadata(table)).encode()
    return table.replace_schema_metadata(meta)


def write_geoparquet(table: pa.Table, target: str | Path) -> Path:
    """Write the detections table as GeoParquet (readable by ``geopandas.read_parquet``)."""
    with atomic_path(target) as tmp:
        pq.write_table(with_geo_metadata(table), tmp, compression="zstd")
    return Path(target)


def write_parquet(table: pa.Table, target: str | Path) -> Path:
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return Path(target)


def write_arrow(table: pa.Table, target: str | Path) -> Path:
    """An Arrow IPC file (lz4): for checkpoints read back by skyscan itself, several times
    cheaper to write and to read than a small Parquet file (no page encoding or footer)."""
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    # the file is closed before atomic_path syncs and renames it (contexts exit in reverse)
    with (
        atomic_path(target) as tmp,
        pa.OSFile(str(tmp), "wb") as sink,
        pa.ipc.new_file(sink, table.schema, options=options) as writer,
    ):
        writer.write_table(table)
    return Path(target)


def write_geojson(table: pa.Table, target: str | Path, geometry: str = "geometry") -> Path:
    """Write a FeatureCollection; rows without geometry get ``"geometry": null``.

    NaN and infinities are not JSON: they become ``null``. Only the float columns that
    hold any are cleaned row by row, and one encoder serves every row (``json.dumps``
    with options builds a new one per call).
    """
    skip = set(GEOMETRY_COLUMNS)
    props = [c for c in table.column_names if c not in skip]
    geoms = shapely.from_wkb(table.column(geometry).to_pylist()) if table.num_rows else []
    geo_json = shapely.to_geojson(geoms) if len(geoms) else []
    nonfinite = [
        name
        for name in props
        if pa.types.is_floating(table.schema.field(name).type)
        and _has_nonfinite(table.column(name))
    ]
    rows = table.select(props).to_pylist()
    encode = json.JSONEncoder(default=str).encode

    def write(fh: IO[str]) -> None:
        fh.write('{"type": "FeatureCollection", "features": [\n')
        for i, (row, g) in enumerate(zip(rows, geo_json, strict=True)):
            for name in nonfinite:
                value = row[name]
                if value is not None and not math.isfinite(value):
                    row[name] = None
            sep = ",\n" if i else ""
            fh.write(
                f'{sep}{{"type": "Feature", "geometry": {g if g is not None else "null"}, '
                f'"properties": {encode(row)}}}'
            )
        fh.write("\n]}\n")

    return write_atomic_text(target, write)


def _has_nonfinite(column: pa.ChunkedArray) -> bool:
    """Whether a float column holds NaN or an infinity (nulls aside)."""
    for chunk in column.chunks:
        if chunk.null_count:
            if any(v is not None and not math.isfinite(v) for v in chunk.to_pylist()):
                return True
        elif len(chunk) and not np.isfinite(arrow_arrays.to_numpy(chunk)).all():
            return True
    return False


def write_json(data: object, target: str | Path) -> Path:
    return write_atomic_text(target, lambda fh: json.dump(data, fh, indent=2, default=str))
