"""Areas of interest: loading (WKT, GeoJSON, other CRSs), clipping to an image in pixel
space, chip and detection selection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from skyscan.errors import GeoreferenceError, InputError
from skyscan.geo.aoi import AreaOfInterest, inside, load_aoi, touching
from skyscan.types import ChipWindow, ImageRef

# 1000 x 800 px at 0.5 m in LV95, top-left corner at (2683000, 1248000)
REF = ImageRef(
    image_id="s",
    path="s.tif",
    width=1000,
    height=800,
    count=3,
    dtype="uint8",
    crs="EPSG:2056",
    transform=(0.5, 0.0, 2_683_000.0, 0.0, -0.5, 1_248_000.0),
    gsd=0.5,
    georef_source="geotiff",
    nodata=None,
    rgb_bands=(1, 2, 3),
    value_range=None,
    metadata={},
)


def _lv95_box(c0: float, r0: float, c1: float, r1: float) -> str:
    x0, y0 = 2_683_000 + 0.5 * c0, 1_248_000 - 0.5 * r0
    x1, y1 = 2_683_000 + 0.5 * c1, 1_248_000 - 0.5 * r1
    return shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)).wkt


def test_wkt_in_the_image_crs_maps_to_its_pixels() -> None:
    area = load_aoi("SRID=2056;" + _lv95_box(100, 200, 300, 400))
    px = area.in_pixels(REF)
    assert px.bounds == pytest.approx((100, 200, 300, 400), abs=1e-6)


def test_geojson_in_lonlat_lands_on_the_same_pixels(tmp_path: Path) -> None:
    to_ll = Transformer.from_crs("EPSG:2056", "EPSG:4326", always_xy=True)
    ring = [
        (2_683_000 + 0.5 * c, 1_248_000 - 0.5 * r)
        for c, r in [(100, 200), (300, 200), (300, 400), (100, 400)]
    ]
    coords = [list(to_ll.transform(x, y)) for x, y in ring]
    path = tmp_path / "aoi.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "Polygon", "coordinates": [[*coords, coords[0]]]},
                    }
                ],
            }
        )
    )
    area = load_aoi(path)
    assert area.crs == "EPSG:4326" and area.source == "aoi.geojson"
    assert area.in_pixels(REF).bounds == pytest.approx((100, 200, 300, 400), abs=0.05)


def test_an_area_away_from_the_image_is_empty_and_touches_no_chip() -> None:
    area = load_aoi("SRID=2056;" + _lv95_box(5000, 5000, 5100, 5100))
    px = area.in_pixels(REF)
    assert px.is_empty
    assert not touching(px, [ChipWindow(0, 0, 256, 256, 256, 256)]).any()


def test_only_chips_touching_the_area_and_points_inside_it() -> None:
    px = shapely.box(100, 100, 200, 200)
    windows = [
        ChipWindow(0, 0, 120, 120, 64, 64),
        ChipWindow(300, 300, 120, 120, 64, 64),
        ChipWindow(190, 0, 120, 120, 64, 64),
    ]
    assert touching(px, windows).tolist() == [True, False, True]
    assert inside(px, np.array([150.0, 250.0]), np.array([150.0, 150.0])).tolist() == [True, False]


def test_bad_areas_are_refused() -> None:
    with pytest.raises(InputError, match="'aoi'"):
        load_aoi("not a file and not wkt")
    with pytest.raises(InputError, match="polygon"):
        load_aoi("POINT (8 47)")
    area = AreaOfInterest(shapely.to_wkb(shapely.box(0, 0, 1, 1)), "EPSG:4326")
    with pytest.raises(GeoreferenceError, match="not georeferenced"):
        area.in_pixels(
            ImageRef(
                image_id="p",
                path="p.png",
                width=10,
                height=10,
                count=3,
                dtype="uint8",
                crs=None,
                transform=None,
                gsd=None,
                georef_source="none",
                nodata=None,
                rgb_bands=(1, 2, 3),
                value_range=None,
                metadata={},
            )
        )
