"""The geo functions on the real georeferenced imagery in ``../shared/data/georef``
(CRS, GSD and place as stated in its README); skipped when the data is absent."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely

from skyscan.geo.crs import gsd_metres, normalize_crs
from skyscan.geo.footprints import crs_to_pixel, footprints
from skyscan.types import AffineTuple

pytestmark = pytest.mark.shared_data

# path under georef/ -> (CRS, GSD in metres, (lon, lat) of a place the image must be near)
EXPECTED = {
    "spacenet/pan1.tif": ("EPSG:32631", 0.5, (4.48, 51.92)),  # Rotterdam
    "spacenet/ms1.tif": ("EPSG:32631", 1.0, (4.48, 51.92)),
    "spacenet/sample_geotiff.tif": ("EPSG:32616", 0.5, (-84.39, 33.75)),  # Atlanta
    "orthophotos/201404_13SED190110_201404_0x1500m_CL_1.tif": (
        "EPSG:26913",
        0.15,
        (-105.5, 39.0),
    ),  # Colorado
    "orthophotos/pix4d_alpha_nodata.tif": ("EPSG:32750", 0.35, (115.19, -8.65)),  # Bali
    "swissimage-zurich/big_img_1091-322_00.tif": ("EPSG:2056", 0.5, (8.54, 47.37)),  # Zurich
    "neon-osbs/OSBS_029.tif": ("EPSG:32617", 0.1, (-82.0, 29.7)),  # Florida
}


def _transform(ds: rasterio.DatasetReader) -> AffineTuple:
    a, b, c, d, e, f = (float(v) for v in tuple(ds.transform)[:6])
    return a, b, c, d, e, f


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_crs_gsd_and_place(shared_data: Path, name: str) -> None:
    crs, gsd, (lon0, lat0) = EXPECTED[name]
    with rasterio.open(shared_data / "georef" / name) as ds:
        assert normalize_crs(ds.crs) == crs
        assert gsd_metres(_transform(ds), crs, ds.width, ds.height) == pytest.approx(gsd, rel=0.02)
        fp = footprints([[0, 0, ds.width, ds.height]], _transform(ds), crs)
        expected_area = ds.width * ds.height * abs(ds.transform.a * ds.transform.e)
    assert fp.area_m2[0] == pytest.approx(expected_area)
    # within ~1° of the stated place (a city or region, not a survey point)
    assert abs(fp.lon[0] - lon0) < 1.0 and abs(fp.lat[0] - lat0) < 1.0


def test_adjacent_zurich_tiles_footprints_tile_without_gaps(shared_data: Path) -> None:
    polys = []
    for path in sorted((shared_data / "georef" / "swissimage-zurich" / "tiles").glob("*.tif")):
        with rasterio.open(path) as ds:
            polys.append(
                footprints(
                    [[0, 0, ds.width, ds.height]], _transform(ds), normalize_crs(ds.crs)
                ).polygons_wgs84[0]
            )
    assert len(polys) == 25
    union = shapely.union_all(polys)
    assert union.geom_type == "Polygon"  # neighbours share edges exactly: no gaps, no slivers
    assert union.area == pytest.approx(sum(p.area for p in polys), rel=1e-9)  # and no overlaps


def test_building_labels_fall_inside_their_image(shared_data: Path) -> None:
    root = shared_data / "georef" / "spacenet"
    labels = json.loads((root / "geotiff_labels.geojson").read_text())
    assert "32616" in labels["crs"]["properties"]["name"]
    with rasterio.open(root / "sample_geotiff.tif") as ds:
        t, w, h = _transform(ds), ds.width, ds.height
    coords = np.concatenate(
        [np.asarray(f["geometry"]["coordinates"][0])[:, :2] for f in labels["features"]]
    )
    col, row = crs_to_pixel(coords[:, 0], coords[:, 1], t)
    assert len(col) > 100
    assert ((col >= -1) & (col <= w + 1) & (row >= -1) & (row <= h + 1)).all()
