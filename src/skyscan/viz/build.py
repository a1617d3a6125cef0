"""Assemble the offline HTML map: data → compact JSON → one self-contained page.

The page holds Leaflet (inlined from a registry package, see :mod:`skyscan.viz.assets`),
skyscan's own map code (``templates/map.js``: a canvas heatmap and a canvas point layer
over typed arrays) and the data. It requests nothing: its basemap (land, coast, borders,
place names; see :mod:`skyscan.viz.basemap`) travels in the page too.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import IO, TYPE_CHECKING, Any, TypeAlias

import numpy as np

from skyscan.errors import CRSError, InputError
from skyscan.types import JsonObject
from skyscan.viz import assets
from skyscan.viz import basemap as basemap_module
from skyscan.viz.encode import Frame, heat_grid, lonlat_to_mercator, pack
from skyscan.viz.points import MapPoints, load_points

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pandas as pd
    import pyarrow as pa

    from skyscan.analytics.cluster import ClusterResult

#: detections as a GeoDataFrame, DataFrame or Arrow table, or a GeoParquet/GeoJSON/CSV path
Detections: TypeAlias = "gpd.GeoDataFrame | pd.DataFrame | pa.Table | str | Path"
#: areas as a GeoDataFrame (any CRS) or a vector file
Vectors: TypeAlias = "gpd.GeoDataFrame | str | Path"
#: cluster hulls (a table or file), detections with a ``cluster_id``, or a clustering result
Clusters: TypeAlias = "ClusterResult | gpd.GeoDataFrame | pd.DataFrame | pa.Table | str | Path"

log = logging.getLogger(__name__)

# Marker colours of the original demo: car red, truck orange, bus white (dark outline).
CLASS_COLOURS = {"car": "#e31a1c", "truck": "#ff7f00", "bus": "#ffffff"}
OTHER_COLOURS = ["#1f78b4", "#6a3d9a", "#33a02c", "#b15928", "#a6cee3", "#fb9a99", "#cab2d6"]
MAX_HEAT_CELLS = 65_536


@dataclass
class MapResult:
    """The page and what went into it (for the CLI's report and for tests)."""

    html: str
    n_input: int
    n_points: int
    n_markers: int
    n_heat_cells: int
    n_overlays: int
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def class_colours(names: Sequence[str]) -> dict[str, str]:
    """A colour per class: the demo's for car/truck/bus, a palette for the rest."""
    others = iter(OTHER_COLOURS * (1 + len(names) // len(OTHER_COLOURS)))
    return {n: CLASS_COLOURS.get(n.lower()) or next(others) for n in names}


def outline_colour(colour: str) -> str:
    """A darker edge for a marker: near-black for light fills (white buses), else half tone.

    >>> outline_colour("#ffffff"), outline_colour("#e31a1c")
    ('#222222', '#710d0e')
    """
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    if 0.2126 * r + 0.7152 * g + 0.0722 * b > 180:
        return "#222222"
    return f"#{r // 2:02x}{g // 2:02x}{b // 2:02x}"


def footprint_offsets(geoms: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Four corners of each footprint's smallest enclosing rectangle, in Web Mercator
    decimetres from (lon, lat), as int16 (n, 8): x0 y0 x1 y1 ...; zeros where there is no
    polygon (the page then keeps the disc).

    >>> import shapely
    >>> box = shapely.box(8.0, 47.0, 8.0001, 47.00005)
    >>> fp = footprint_offsets(np.array([box, None]), np.array([8.00005, 8.0]), np.array([47.000025, 47.0]))
    >>> np.abs(fp[:, :2]).tolist()  # 5.6 m east-west, 4.1 m north-south in Web Mercator at 47°N
    [[56, 41], [0, 0]]
    """
    import shapely

    out = np.zeros((len(geoms), 8), np.int16)
    if not len(geoms):
        return out
    raw = np.asarray(geoms, dtype=object)
    is_wkb = np.array([isinstance(g, bytes | bytearray | memoryview) for g in raw])
    shapes = np.empty(len(raw), dtype=object)
    shapes[is_wkb] = shapely.from_wkb(raw[is_wkb], on_invalid="ignore") if is_wkb.any() else []
    shapes[~is_wkb] = [g if isinstance(g, shapely.Geometry) else None for g in raw[~is_wkb]]
    polygon = shapely.get_type_id(shapes) == 3  # Polygon (a MultiPolygon is not one vehicle)
    polygon &= ~shapely.is_empty(shapes)
    polygon[polygon] &= shapely.area(shapes[polygon]) > 0
    if not polygon.any():
        return out
    rect = shapely.oriented_envelope(shapes[polygon])
    ok = (shapely.get_type_id(rect) == 3) & (shapely.get_num_coordinates(rect) == 5)
    idx = np.flatnonzero(polygon)[ok]
    corners = shapely.get_coordinates(rect[ok]).reshape(-1, 5, 2)[:, :4]
    cx, cy = lonlat_to_mercator(lon[idx], lat[idx])
    mx, my = lonlat_to_mercator(corners[..., 0], corners[..., 1])
    offsets = np.stack([mx - cx[:, None], my - cy[:, None]], axis=-1).reshape(-1, 8)
    out[idx] = np.clip(np.rint(offsets * 10), -32767, 32767).astype(np.int16)
    return out


def _markers(points: MapPoints, frame: Frame, max_markers: int) -> JsonObject:
    """The ``max_markers`` highest-scoring detections as typed arrays (drawn low to high)."""
    n = len(points)
    score = np.nan_to_num(points.score, nan=-1.0)
    if n > max_markers:  # the best max_markers in O(n): no full sort of a million scores
        chosen = (
            np.argpartition(-score, max_markers - 1)[:max_markers] if max_markers else np.arange(0)
        )
    else:
        chosen = np.arange(n)
    chosen = chosen[np.argsort(score[chosen], kind="stable")]  # best drawn last, on top
    x, y = lonlat_to_mercator(points.lon[chosen], points.lat[chosen])
    qx, qy = frame.quantise(x, y)
    has_score = np.isfinite(points.score[chosen])
    score_q = np.where(has_score, np.rint(np.clip(points.score[chosen], 0, 1) * 65534), 65535)
    markers: JsonObject = {
        "n": int(chosen.size),
        "qx": pack(qx, "u2" if frame.q < 2**16 else "u4"),
        "qy": pack(qy, "u2" if frame.q < 2**16 else "u4"),
        "cls": pack(points.class_codes[chosen]),
        "img": pack(points.image_codes[chosen]),
        "score": pack(score_q, "u2"),  # 65535 = no score
        # 1: the image lies outside the model's validated range (drawn hollow)
        "out": pack(
            (
                points.outside[chosen]
                if points.outside is not None
                else np.zeros(chosen.size, bool)
            ).astype(np.uint8),
            "u1",
        ),
    }
    if points.footprints is not None:  # box outlines once zoomed in (see map.js)
        fp = footprint_offsets(points.footprints[chosen], points.lon[chosen], points.lat[chosen])
        if fp.any():
            markers["fp"] = pack(fp.ravel(), "i2")
    return markers


def _view_bounds(
    points: MapPoints, overlays: list[JsonObject], layers: list[JsonObject]
) -> list[list[float]] | None:
    """[[south, west], [north, east]] around everything shown, or None for nothing."""
    lats: list[float] = []
    lons: list[float] = []
    if len(points):
        lats += [float(points.lat.min()), float(points.lat.max())]
        lons += [float(points.lon.min()), float(points.lon.max())]
    for overlay in overlays:
        (s, w), (n, e) = overlay["bounds"]
        lats += [s, n]
        lons += [w, e]
    for layer in layers:
        coords = _all_coords(layer)
        if coords.size:
            lons += [float(coords[:, 0].min()), float(coords[:, 0].max())]
            lats += [float(coords[:, 1].min()), float(coords[:, 1].max())]
    if not lats:
        return None
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


def densest_view(
    lon: np.ndarray, lat: np.ndarray, cell_deg: float = 0.01, spread_deg: float = 0.5
) -> list[list[float]] | None:
    """[[south, west], [north, east]] around the detections nearest the densest place,
    when they spread wider than ``spread_deg`` (about 50 km; None otherwise): the
    ``cell_deg`` cell (about a kilometre) holding most detections and its eight
    neighbours. The page opens there instead of on everything at once, which for images
    on several continents shows a grey page with a few dots.

    >>> lon = np.array([8.540, 8.541, 8.542, 115.16])
    >>> lat = np.array([47.370, 47.371, 47.372, -8.58])
    >>> densest_view(lon, lat)
    [[47.37, 8.54], [47.372, 8.542]]
    >>> densest_view(lon[:3], lat[:3]) is None  # one place: the page shows it all
    True
    """
    if not len(lon) or max(np.ptp(lon), np.ptp(lat)) <= spread_deg:
        return None
    col = np.floor(np.asarray(lon) / cell_deg).astype(np.int64)
    row = np.floor(np.asarray(lat) / cell_deg).astype(np.int64)
    cells, counts = np.unique(np.stack([col, row], axis=1), axis=0, return_counts=True)
    best_col, best_row = cells[int(np.argmax(counts))]
    near = (np.abs(col - best_col) <= 1) & (np.abs(row - best_row) <= 1)
    return [
        [float(lat[near].min()), float(lon[near].min())],
        [float(lat[near].max()), float(lon[near].max())],
    ]


def opening_view(points: MapPoints) -> list[list[float]] | None:
    """Where the page opens: around the detections inside the model's validated range when
    some are and some are not (the ones to trust first, not the densest false alarms on
    imagery the model was never validated on), else :func:`densest_view` of all."""
    inside = None if points.outside is None else ~points.outside
    if inside is None or inside.all() or not inside.any():
        return densest_view(points.lon, points.lat)
    lon, lat = points.lon[inside], points.lat[inside]
    return densest_view(lon, lat) or [
        [float(lat.min()), float(lon.min())],
        [float(lat.max()), float(lon.max())],
    ]


MAX_PLACES = 200


def image_places(points: MapPoints, limit: int = MAX_PLACES) -> list[JsonObject]:
    """The images to jump between, most detections first: name, count and the bounds of
    their detections ([[south, west], [north, east]]); none when there is only one."""
    if not len(points):
        return []
    codes = np.asarray(points.image_codes)
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
    if len(starts) < 2:
        return []
    lon, lat = np.asarray(points.lon)[order], np.asarray(points.lat)[order]
    counts = np.diff(np.r_[starts, len(order)])
    places: list[JsonObject] = [
        {
            "name": points.image_names[int(codes[order][s])] or "(no image id)",
            "count": int(n),
            "bounds": [
                [float(np.min(lat[s : s + n])), float(np.min(lon[s : s + n]))],
                [float(np.max(lat[s : s + n])), float(np.max(lon[s : s + n]))],
            ],
        }
        for s, n in zip(starts, counts, strict=True)
    ]
    places.sort(key=lambda p: (-p["count"], p["name"]))
    return places[:limit]


def _all_coords(collection: JsonObject) -> np.ndarray:
    out: list[list[float]] = []

    def walk(c: Any) -> None:
        if c and isinstance(c[0], int | float):
            out.append([float(c[0]), float(c[1])])
        else:
            for v in c:
                walk(v)

    for feature in collection.get("features", []):
        geom = feature.get("geometry") or {}
        walk(geom.get("coordinates", []))
    return np.array(out).reshape(-1, 2)


def script_json(obj: object) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>``, no ``<!--``)."""
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _clusters_layer(clusters: Clusters) -> tuple[JsonObject | None, list[str]]:
    """Cluster hulls: a clusters table as given, or hulls built from labelled detections.

    A table with polygon geometries or a ``size`` column (``skyscan cluster``'s clusters
    table) is drawn as is; rows with ``cluster_id`` and ``lon``/``lat`` and neither are
    labelled detections, whose convex hulls are built here.
    """
    import geopandas as gpd
    import pandas as pd
    import pyarrow as pa

    from skyscan.analytics.cluster import ClusterResult
    from skyscan.viz.layers import _to_frame, clusters_from_points, vector_layer

    if isinstance(clusters, ClusterResult):
        clusters = clusters.clusters
    if isinstance(clusters, pa.Table):
        clusters = clusters.to_pandas()
    if isinstance(clusters, str | Path):
        try:
            clusters = _to_frame(clusters, "clusters")
        except Exception as exc:  # unreadable: a note, not a failed map
            return None, [f"Clusters not shown: cannot read {clusters}: {exc}"]
    if isinstance(clusters, pd.DataFrame) and {"cluster_id", "lon", "lat"} <= set(clusters.columns):
        polygons = isinstance(clusters, gpd.GeoDataFrame) and bool(
            clusters.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).any()
        )
        if "size" not in clusters.columns and not polygons:
            try:
                return vector_layer(clusters_from_points(clusters), "clusters")
            except InputError as exc:
                return None, [f"Clusters not shown: {exc}"]
    return vector_layer(clusters, "clusters")


def build_map(
    detections: Detections,
    *,
    imagery: Sequence[str | Path] | str | Path | None = None,
    zones: Vectors | None = None,
    h3_resolution: int | None = None,
    clusters: Clusters | None = None,
    title: str = "skyscan",
    max_markers: int = 5000,
    basemap: bool = True,
    imagery_max_size: int = 1024,
    page_dir: str | Path | None = None,
    full_paths: bool = False,
) -> MapResult:
    """Build the page; see :func:`skyscan.viz.make_map` for the arguments. ``page_dir``:
    the folder the page will be written to; local paths are shown relative to it (names
    only without it) unless ``full_paths``."""
    if not isinstance(max_markers, int | np.integer) or max_markers < 0:
        raise InputError(f"'max_markers' must be an integer >= 0 (got {max_markers!r})")
    started = time.perf_counter()
    leaflet = assets.leaflet_assets()  # fail early, before any heavy work
    try:
        points = load_points(detections)
    except CRSError as exc:
        log.warning("%s", exc)
        points = load_points(_empty_frame())
        points.notes.append(f"No detection shown: {exc}")
    notes = list(points.notes)

    x, y = lonlat_to_mercator(points.lon, points.lat)
    frame = Frame.around(x, y)
    markers = _markers(points, frame, int(max_markers))
    heat = heat_grid(x, y, MAX_HEAT_CELLS)
    if len(points) and not markers["n"]:
        notes.append(
            f"Markers are off (max_markers=0); the heatmap counts all {len(points):,} detections."
        )
    elif len(points) > markers["n"]:
        notes.append(
            f"Markers show the {markers['n']:,} highest-scoring of {len(points):,} detections "
            "(raise max_markers / --max-markers to show more); the heatmap counts them all."
        )

    overlays: list[JsonObject] = []
    if imagery is not None:
        from skyscan.viz.imagery import load_overlays

        paths = [imagery] if isinstance(imagery, str | Path) else list(imagery)
        if not all(isinstance(p, str | Path) for p in paths):
            raise InputError(
                "'imagery' must be a path or a sequence of paths (files, directories, globs) "
                f"(got {type(imagery).__name__} of {sorted({type(p).__name__ for p in paths})})"
            )
        rendered, image_notes = load_overlays(paths, max_size=imagery_max_size)
        overlays = [o.to_json() for o in rendered]
        notes += image_notes

    vectors: dict[str, JsonObject] = {}
    if h3_resolution is not None:
        from skyscan.viz.layers import h3_cells

        vectors["h3"], h3_notes = h3_cells(points, h3_resolution)
        notes += h3_notes
    if zones is not None:
        from skyscan.viz.layers import vector_layer

        zone_layer, zone_notes = vector_layer(zones, "zones")
        notes += zone_notes
        if zone_layer is not None:
            vectors["zones"] = zone_layer
    if clusters is not None:
        cluster_layer, cluster_notes = _clusters_layer(clusters)
        notes += cluster_notes
        if cluster_layer is not None:
            vectors["clusters"] = cluster_layer

    def shown(path: str) -> str:
        return path if full_paths else page_path(path, page_dir)

    for overlay in overlays:
        overlay["path"] = shown(str(overlay["path"]))
    if not full_paths:
        notes = [_ABSOLUTE_PATH.sub(lambda m: shown(m.group(0)), note) for note in notes]
    colours = class_colours(points.class_names)
    places = image_places(points)
    bounds = _view_bounds(points, overlays, list(vectors.values()))
    base: JsonObject | None = None
    if basemap:
        base, base_notes = basemap_module.build_basemap(
            [p["bounds"] for p in places] or ([bounds] if bounds else [])
        )
        notes += base_notes
        for place in places:
            (s, w), (n, e) = place["bounds"]
            place["near"] = basemap_module.nearest_place((w + e) / 2, (s + n) / 2)
    data = {
        "title": title,
        "n_input": points.n_input,
        "n_points": len(points),
        "frame": frame.to_json(),
        "classes": [
            {"name": n, "colour": colours[n], "outline": outline_colour(colours[n]), "count": c}
            for n, c in points.class_counts().items()
        ],
        "images": points.image_names,
        "image_paths": [shown(p) for p in points.image_paths],
        "markers": markers,
        "heat": heat.to_json(),
        "overlays": overlays,
        "vectors": vectors,
        "bounds": bounds,
        "view": opening_view(points),
        "places": places,
        "basemap": base,
        "notes": notes,
        "leaflet_version": leaflet.version,
    }
    page = Template(assets.template("map.html")).substitute(
        title=html.escape(title),
        leaflet_css=leaflet.css,
        skyscan_css=assets.template("map.css"),
        leaflet_js=leaflet.js,
        data=script_json(data),
        skyscan_js=assets.template("map.js"),
    )
    return MapResult(
        html=page,
        n_input=points.n_input,
        n_points=len(points),
        n_markers=markers["n"],
        n_heat_cells=int(heat.count.size),
        n_overlays=len(overlays),
        notes=notes,
        seconds=time.perf_counter() - started,
    )


# an absolute POSIX path inside a note (up to a space, quote, colon, comma or bracket)
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~])/(?:[^\s:,;'\"()\[\]]+/)*[^\s:,;'\"()\[\]/]+")


def page_path(path: str, page_dir: str | Path | None) -> str:
    """How the page names a local file: relative to the page's folder, or its name alone
    when the page has no folder yet, so that a page sent to someone else does not carry
    the sender's directory layout.

    >>> page_path("/data/tiles/a.tif", "/data/out")
    '../tiles/a.tif'
    >>> page_path("/data/tiles/a.tif", None)
    'a.tif'
    >>> page_path("/data/tiles/a.tif", "/home/me/out")  # nothing shared but the root
    'a.tif'
    """
    if not path or "://" in path:
        return path
    if page_dir is None:
        return Path(path).name
    image, page = os.path.abspath(path), os.path.abspath(page_dir)
    try:
        if os.path.dirname(os.path.commonpath([image, page])) == os.path.commonpath([image, page]):
            return Path(path).name  # they share only the root: a relative path would spell it out
        return Path(os.path.relpath(image, page)).as_posix()
    except ValueError:  # another drive
        return Path(path).name


def _empty_frame() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({"lon": np.zeros(0), "lat": np.zeros(0)})


def write_atomic(text: str, output: str | Path) -> Path:
    """Write ``text`` to ``output`` through a temporary file and a rename."""
    from skyscan.io.writers import write_atomic_text

    def write(handle: IO[str]) -> None:
        handle.write(text)

    return write_atomic_text(output, write)


def make_map(
    detections: Detections,
    output: str | Path | None = None,
    *,
    imagery: Sequence[str | Path] | str | Path | None = None,
    zones: Vectors | None = None,
    h3_resolution: int | None = None,
    clusters: Clusters | None = None,
    title: str = "skyscan",
    max_markers: int = 5000,
    basemap: bool = True,
    full_paths: bool = False,
) -> Path | str:
    """Make a self-contained, offline HTML map of detections.

    ``detections``: a GeoDataFrame, DataFrame or pyarrow Table with the columns of
    :mod:`skyscan.schema` (``lon``/``lat`` in EPSG:4326, ``class_name``, ``score``,
    ``image_id``/``image_path``), or a path to GeoParquet / GeoJSON / CSV. ``imagery``:
    image files, directories or globs shown as a downsampled overlay. ``zones``: areas of
    interest (GeoDataFrame or vector file, any CRS). ``h3_resolution``: add H3 cell counts.
    ``clusters``: cluster hulls (GeoDataFrame / file) or detections with a ``cluster_id``.
    ``max_markers``: individual markers (highest scores first); the heatmap always counts
    every detection. ``basemap``: draw land, coasts, borders and place names (offline, in
    the page; needs ``skyscan[map]``).
    ``full_paths``: name local images by their paths as given; by default the page names
    them relative to ``output``'s folder (by file name when ``output`` is None).

    Writes ``output`` and returns its path, or returns the HTML when ``output`` is None.
    Rows that cannot be placed and inputs that cannot be read are reported in the page
    and logged as warnings; they never stop the map.
    """
    result = build_map(
        detections,
        imagery=imagery,
        zones=zones,
        h3_resolution=h3_resolution,
        clusters=clusters,
        title=title,
        max_markers=max_markers,
        basemap=basemap,
        page_dir=Path(output).parent if output is not None else None,
        full_paths=full_paths,
    )
    if output is None:
        return result.html
    return write_atomic(result.html, output)
