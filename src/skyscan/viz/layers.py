"""Optional vector layers for the map: H3 cell counts, zones / AOIs, clusters.

Each builder returns a GeoJSON FeatureCollection (coordinates in EPSG:4326, rounded to
1e-7° ≈ 1 cm) plus notes for the page. Inputs without a CRS are not guessed: they are
left off the map with a note that says how to set one.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from skyscan.errors import InputError
from skyscan.types import JsonObject
from skyscan.viz.points import MapPoints

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

log = logging.getLogger(__name__)

MAX_H3_CELLS = 20_000  # hexagons cost ~200 bytes each in the page
MAX_PROPERTIES = 12  # attribute columns kept for a zone's popup


def _round_coords(geojson: JsonObject) -> JsonObject:
    """Round every coordinate to 7 decimals (keeps the page small)."""

    def walk(c: Any) -> Any:
        if isinstance(c, list | tuple):
            if c and isinstance(c[0], int | float):
                return [round(float(v), 7) for v in c]
            return [walk(v) for v in c]
        return c

    for feature in geojson.get("features", []):
        geom = feature.get("geometry")
        if geom and "coordinates" in geom:
            geom["coordinates"] = walk(geom["coordinates"])
    return geojson


def h3_cells(points: MapPoints, resolution: int) -> tuple[JsonObject, list[str]]:
    """Count detections per H3 cell (and per class); hexagons as GeoJSON polygons.

    Cell ids and boundaries come from :mod:`skyscan.analytics.h3cells`, the one module
    that handles H3's latitude-first order. When the cells exceed :data:`MAX_H3_CELLS`
    the resolution is lowered until they fit, and a note says so.
    """
    import shapely

    from skyscan.analytics.h3cells import cell_polygons, cells_to_strings
    from skyscan.analytics.h3cells import h3_cells as cells_of

    if (
        isinstance(resolution, bool)
        or not isinstance(resolution, int | np.integer)
        or not 0 <= resolution <= 15
    ):
        raise InputError(f"'h3_resolution' must be an integer in [0, 15] (got {resolution!r})")
    notes: list[str] = []
    res = int(resolution)
    cells = cells_of(lon=points.lon, lat=points.lat, res=res)
    uniq, inverse = np.unique(cells, return_inverse=True)
    while uniq.size > MAX_H3_CELLS and res > 0:
        res -= 1
        cells = cells_of(lon=points.lon, lat=points.lat, res=res)
        uniq, inverse = np.unique(cells, return_inverse=True)
    if res != resolution:
        note = (
            f"H3 resolution {resolution} gives more than {MAX_H3_CELLS:,} cells; "
            f"cells are shown at resolution {res}."
        )
        log.warning(note)
        notes.append(note)
    per_class = np.zeros((uniq.size, len(points.class_names)), np.int64)
    np.add.at(per_class, (inverse.ravel(), points.class_codes), 1)
    names = cells_to_strings(uniq)
    polygons = cell_polygons(uniq)
    features = []
    for i in range(uniq.size):
        props: JsonObject = {"h3": names[i], "count": int(per_class[i].sum())}
        props.update(
            {
                name: int(per_class[i, k])
                for k, name in enumerate(points.class_names)
                if per_class[i, k]
            }
        )
        geometry = json.loads(shapely.to_geojson(polygons[i]))
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    collection = {"type": "FeatureCollection", "features": features, "resolution": res}
    return _round_coords(collection), notes


def _to_frame(obj: object, what: str) -> gpd.GeoDataFrame:
    """A GeoDataFrame from a GeoDataFrame, GeoSeries or path."""
    import geopandas as gpd

    if isinstance(obj, str | Path):
        path = Path(obj)
        if not path.exists():
            raise InputError(f"{what} file {path} does not exist")
        if path.suffix.lower() in {".parquet", ".geoparquet", ".pq"}:
            return gpd.read_parquet(path)
        return gpd.read_file(path)
    if isinstance(obj, gpd.GeoSeries):
        return gpd.GeoDataFrame(geometry=obj)
    if isinstance(obj, gpd.GeoDataFrame):
        return obj
    raise InputError(
        f"'{what}' must be a GeoDataFrame, GeoSeries or a path (got {type(obj).__name__})"
    )


def vector_layer(obj: object, what: str) -> tuple[JsonObject | None, list[str]]:
    """Polygons / points of ``obj`` as GeoJSON in EPSG:4326, with their attributes.

    Returns ``(None, notes)`` when the input cannot be placed (no CRS, unreadable).
    """
    try:
        frame = _to_frame(obj, what)
    except InputError as exc:
        return None, [f"{what.capitalize()} not shown: {exc}"]
    except Exception as exc:  # an unreadable file is a note, not a failed map
        return None, [f"{what.capitalize()} not shown: cannot read {obj}: {exc}"]
    if frame.crs is None:
        return None, [
            f"{what.capitalize()} not shown: they have no CRS; set one "
            "(for example gdf.set_crs('EPSG:4326')) or use a file that declares it."
        ]
    if not frame.crs.equals("EPSG:4326"):
        frame = frame.to_crs("EPSG:4326")
    frame = frame[~(frame.geometry.is_empty | frame.geometry.isna())]
    keep = [c for c in frame.columns if c != frame.geometry.name][:MAX_PROPERTIES]
    props = frame[keep].copy()
    for col in keep:  # JSON-safe values (timestamps, numpy scalars, bytes) as text
        if props[col].dtype.kind not in "biuf":
            props[col] = props[col].astype(str)
    frame = frame[[frame.geometry.name]].join(props)
    collection = json.loads(frame.to_json(na="null", drop_id=True))
    return _round_coords(collection), []


def clusters_from_points(points_frame: pd.DataFrame) -> gpd.GeoDataFrame:
    """Cluster hulls from detections with a ``cluster_id`` column (−1 = noise)."""
    import geopandas as gpd
    import shapely

    frame = points_frame
    if "cluster_id" not in frame.columns:
        raise InputError(
            f"clusters need a 'cluster_id' column (got columns {list(frame.columns)[:12]})"
        )
    frame = frame[frame["cluster_id"] >= 0]
    if frame.empty:
        return gpd.GeoDataFrame({"cluster_id": [], "size": []}, geometry=[], crs="EPSG:4326")
    grouped = frame.groupby("cluster_id")
    hulls = []
    for _, group in grouped:
        pts = shapely.points(group["lon"].to_numpy(), group["lat"].to_numpy())
        hull = shapely.convex_hull(shapely.multipoints(pts))
        hulls.append(hull.buffer(1e-5) if hull.geom_type != "Polygon" else hull)  # ~1 m: visible
    result = gpd.GeoDataFrame(
        {"cluster_id": list(grouped.groups.keys()), "size": grouped.size().to_numpy()},
        geometry=hulls,
        crs="EPSG:4326",
    )
    if "class_name" in frame.columns:
        result["classes"] = (
            grouped["class_name"]
            .agg(lambda s: ", ".join(f"{k} {v}" for k, v in s.value_counts().items()))
            .to_numpy()
        )
    return result
