"""Synthetic detections tables that follow the contract (``skyscan.schema``).

Detections are vehicle-sized boxes (about 4.5 m × 2 m) around chosen centres, written
the way the pipeline writes them (``skyscan.io.writers.write_geoparquet``), so the
analytics tests read exactly what the pipeline produces.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import shapely

from skyscan.schema import DETECTION_FIELDS, XVIEW_TYPE_IDS

CLASSES = ("car", "truck", "bus")
METRES_PER_DEG_LAT = 111_320.0


def offsets_to_lonlat(
    lon0: float, lat0: float, east_m: np.ndarray, north_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Small-offset conversion of metres east/north of (lon0, lat0) to lon/lat."""
    lat = lat0 + north_m / METRES_PER_DEG_LAT
    lon = lon0 + east_m / (METRES_PER_DEG_LAT * np.cos(np.radians(lat0)))
    return lon, lat


def detections_table(
    lon: Sequence[float] | np.ndarray,
    lat: Sequence[float] | np.ndarray,
    *,
    classes: Sequence[str] | None = None,
    scores: Sequence[float] | None = None,
    meta: dict[str, Sequence[Any]] | None = None,
    image_id: str = "img-0",
    box_m: tuple[float, float] = (4.5, 2.0),
) -> pa.Table:
    """A detections ``pa.Table`` with one row per (lon, lat); NaN lon/lat = not georeferenced."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    n = len(lon)
    classes = list(classes) if classes is not None else [CLASSES[i % 3] for i in range(n)]
    scores = np.asarray(
        scores if scores is not None else np.linspace(0.5, 0.99, n), dtype=np.float32
    )
    geo = np.isfinite(lon) & np.isfinite(lat)
    half_w = box_m[0] / 2 / (METRES_PER_DEG_LAT * np.cos(np.radians(np.where(geo, lat, 0.0))))
    half_h = box_m[1] / 2 / METRES_PER_DEG_LAT
    boxes = shapely.box(lon - half_w, lat - half_h, lon + half_w, lat + half_h)
    points = shapely.points(lon, lat)
    footprint = np.where(geo, shapely.to_wkb(boxes), None)
    centroid = np.where(geo, shapely.to_wkb(points), None)
    px = np.arange(n, dtype=np.float64) * 10
    cols: dict[str, Any] = {
        "run_id": ["run-test"] * n,
        "image_id": [image_id] * n,
        "image_path": [f"/data/{image_id}.tif"] * n,
        "detection_id": [f"{image_id}:{i}" for i in range(n)],
        "class_name": classes,
        "class_id": [CLASSES.index(c) if c in CLASSES else 0 for c in classes],
        "xview_type_id": [XVIEW_TYPE_IDS.get(c) for c in classes],
        "score": scores,
        "px_xmin": px,
        "px_ymin": px,
        "px_xmax": px + 9,
        "px_ymax": px + 4,
        "chip_col_off": np.zeros(n, np.int32),
        "chip_row_off": np.zeros(n, np.int32),
        "chip_width": np.full(n, 512, np.int32),
        "chip_height": np.full(n, 512, np.int32),
        "class_scores": [None] * n,
        "truncated": np.zeros(n, bool),
        "in_validated_range": [None] * n,
        "lon": np.where(geo, lon, None),
        "lat": np.where(geo, lat, None),
        "src_x": np.where(geo, lon, None),
        "src_y": np.where(geo, lat, None),
        "src_crs": np.where(geo, "EPSG:4326", None),
        "gsd_m": np.where(geo, 0.3, None),
        "area_m2": np.where(geo, box_m[0] * box_m[1], None),
        "georeferenced": geo,
        "georef_source": np.where(geo, "geotiff", "none"),
        "model_id": ["fake-model"] * n,
        "geometry": footprint,
        "centroid": centroid,
    }
    arrays = [
        pa.array(
            list(cols[f.name])
            if not isinstance(cols[f.name], np.ndarray)
            else cols[f.name].tolist(),
            type=f.type,
        )
        for f in DETECTION_FIELDS
    ]
    table = pa.Table.from_arrays(arrays, schema=pa.schema(DETECTION_FIELDS))
    for name, values in (meta or {}).items():
        table = table.append_column(name, pa.array(list(values)))
    return table


def write_detections(path: Path, table: pa.Table) -> Path:
    """Write ``table`` as the pipeline does (GeoParquet with both geometry columns)."""
    from skyscan.io.writers import write_geoparquet

    return write_geoparquet(table, path)


def detections_frame(lon: Any, lat: Any, **kwargs: Any) -> Any:
    """The same table as a GeoDataFrame, as ``read_detections`` returns it."""
    import geopandas as gpd

    table = detections_table(lon, lat, **kwargs)
    frame = gpd.GeoDataFrame(
        table.drop_columns(["geometry", "centroid"]).to_pandas(),
        geometry=gpd.GeoSeries.from_wkb(table.column("geometry").to_pylist()),
        crs="EPSG:4326",
    )
    frame["centroid"] = gpd.GeoSeries.from_wkb(
        table.column("centroid").to_pylist(), crs="EPSG:4326"
    )
    cols = [f.name for f in DETECTION_FIELDS] + [
        c for c in table.column_names if c.startswith("meta_")
    ]
    return frame[cols]


def clustered_points(
    centres: Sequence[tuple[float, float]], per_cluster: int, spread_m: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``per_cluster`` points scattered uniformly within ``spread_m`` of each centre."""
    rng = np.random.default_rng(seed)
    lons, lats = [], []
    for lon0, lat0 in centres:
        e = rng.uniform(-spread_m, spread_m, per_cluster)
        n = rng.uniform(-spread_m, spread_m, per_cluster)
        lo, la = offsets_to_lonlat(lon0, lat0, e, n)
        lons.append(lo)
        lats.append(la)
    return np.concatenate(lons), np.concatenate(lats)
