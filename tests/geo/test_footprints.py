"""Pixel boxes to map footprints: affine round trips, rotated quads, lon/lat and areas."""

from __future__ import annotations

import math

import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rasterio.transform import Affine

from rasters import lv95_transform, rotated_transform, utm_transform
from skyscan.errors import CRSError, InputError
from skyscan.geo.crs import from_wgs84, to_wgs84
from skyscan.geo.footprints import crs_to_pixel, footprint_lonlat, footprints, pixel_to_crs
from skyscan.types import AffineTuple

GEOD = pyproj.Geod(ellps="WGS84")


def _t(affine: Affine) -> AffineTuple:
    a, b, c, d, e, f = (float(v) for v in tuple(affine)[:6])
    return a, b, c, d, e, f


@st.composite
def transforms(draw: st.DrawFn) -> AffineTuple:
    """Rotated, flipped and sheared affines with pixel sizes from 5 cm to 1 km."""
    gx = draw(st.floats(0.05, 1000.0))
    gy = gx * draw(st.floats(0.5, 2.0))
    rot = math.radians(draw(st.floats(-180.0, 180.0)))
    shear = draw(st.floats(-0.3, 0.3))
    flip = draw(st.sampled_from([1.0, -1.0]))
    c, s = math.cos(rot), math.sin(rot)
    a, b = gx * c, -gy * s + gx * shear * c
    d, e = gx * s, flip * (gy * c + gx * shear * s)
    # a pixel grid squashed nearly flat (no raster is georeferenced so) has no stable
    # inverse: its round trip would test float64, not the code
    assume(abs(a * e - b * d) > 0.5 * gx * gy)
    x0 = draw(st.floats(-3e6, 3e6))
    y0 = draw(st.floats(-3e6, 8e6))
    return (a, b, x0, d, e, y0)


@settings(max_examples=200, deadline=None)
@given(
    t=transforms(),
    cols=st.lists(st.floats(-1e4, 1e5), min_size=1, max_size=10),
    row=st.floats(-1e4, 1e5),
)
def test_pixel_crs_pixel_round_trip(t: AffineTuple, cols: list[float], row: float) -> None:
    col = np.array(cols)
    rows = np.full_like(col, row)
    x, y = pixel_to_crs(col, rows, t)
    col2, row2 = crs_to_pixel(x, y, t)
    # float64 keeps about 1e-9 pixel per unit of magnitude of the CRS coordinates here
    np.testing.assert_allclose(col2, col, atol=1e-6)
    np.testing.assert_allclose(row2, rows, atol=1e-6)


def test_footprint_lonlat_rotterdam() -> None:
    corners = footprint_lonlat(
        (0.5, 0.0, 594_000.0, 0.0, -0.5, 5_758_000.0), "EPSG:32631", 100, 100
    )
    lon, lat = corners[0]
    assert 4.3 < lon < 4.5 and 51.9 < lat < 52.0  # Rotterdam, lon first
    assert corners[1][0] > lon and corners[3][1] < lat


def test_pixel_to_crs_matches_rasterio_affine() -> None:
    aff = rotated_transform(0.5, 30.0)
    cols, rows = np.array([0.0, 10.5, 99.0]), np.array([0.0, 3.25, 47.0])
    x, y = pixel_to_crs(cols, rows, _t(aff))
    ref = [aff @ (c, r) for c, r in zip(cols, rows, strict=True)]
    np.testing.assert_allclose(np.c_[x, y], ref)


def test_crs_to_pixel_refuses_singular_transform() -> None:
    with pytest.raises(InputError, match="not invertible"):
        crs_to_pixel([0.0], [0.0], (1.0, 2.0, 0.0, 2.0, 4.0, 0.0))
    with pytest.raises(InputError, match="6 finite numbers"):
        pixel_to_crs([0.0], [0.0], (1.0, 0.0, float("nan"), 0.0, -1.0, 0.0))


def test_north_up_utm_footprints() -> None:
    t = _t(utm_transform(0.5))
    fp = footprints([[10, 20, 30, 24], [0, 0, 1, 1]], t, "EPSG:32631")
    assert len(fp) == 2
    assert shapely.bounds(fp.polygons_src[0]).tolist() == [
        594_005.0,
        5_757_988.0,
        594_015.0,
        5_757_990.0,
    ]
    assert fp.area_m2.tolist() == [20 * 4 * 0.25, 0.25]  # planar, in the source CRS
    assert (fp.src_x[0], fp.src_y[0]) == (594_010.0, 5_757_989.0)
    lon, lat = to_wgs84(fp.src_x, fp.src_y, "EPSG:32631")
    np.testing.assert_array_equal(fp.lon, lon)
    np.testing.assert_array_equal(shapely.get_coordinates(fp.centroids_wgs84), np.c_[lon, lat])
    # the WGS84 corners are the source corners reprojected, and the quad is tiny and near Rotterdam
    ring = shapely.get_coordinates(fp.polygons_wgs84[0])[:4]
    sx, sy = to_wgs84(*from_wgs84(ring[:, 0], ring[:, 1], "EPSG:32631"), "EPSG:32631")
    np.testing.assert_allclose(np.c_[sx, sy], ring, atol=1e-12)
    assert 4.3 < fp.lon[0] < 4.5 and 51.9 < fp.lat[0] < 52.0
    # geodesic area agrees with the planar UTM area to UTM's scale (0.9996^2 at the central meridian)
    assert abs(GEOD.geometry_area_perimeter(fp.polygons_wgs84[0])[0]) == pytest.approx(
        20.0, rel=1e-3
    )


@pytest.mark.parametrize("degrees", [30.0, 90.0, -135.0])
def test_rotated_transform_gives_rotated_quads(degrees: float) -> None:
    aff = rotated_transform(0.5, degrees)
    fp = footprints([[10, 20, 30, 24]], _t(aff), "EPSG:32631")
    quad = fp.polygons_src[0]
    corners = shapely.get_coordinates(quad)[:4]
    expected = [aff @ p for p in [(10, 20), (10, 24), (30, 24), (30, 20)]]
    assert sorted(map(tuple, np.round(corners, 6))) == sorted(map(tuple, np.round(expected, 6)))
    assert shapely.area(quad) == pytest.approx(20.0)
    assert fp.area_m2[0] == pytest.approx(20.0)
    if degrees % 90:
        assert shapely.area(shapely.envelope(quad)) > 20.5  # not an axis-aligned box
    centre = shapely.centroid(quad)
    assert (centre.x, centre.y) == pytest.approx((fp.src_x[0], fp.src_y[0]))


@pytest.mark.parametrize("e_sign", [-1.0, 1.0])
def test_rings_are_counter_clockwise(e_sign: float) -> None:
    t = (0.5, 0.0, 2_683_000.0, 0.0, 0.5 * e_sign, 1_248_000.0)
    fp = footprints([[0, 0, 4, 2]], t, "EPSG:2056")
    assert shapely.is_ccw(shapely.get_exterior_ring(fp.polygons_wgs84[0]))
    assert shapely.is_ccw(shapely.get_exterior_ring(fp.polygons_src[0]))
    assert shapely.is_valid(fp.polygons_wgs84).all()


def test_lv95_centre_is_in_zurich() -> None:
    fp = footprints([[100, 100, 120, 110]], _t(lv95_transform(0.5)), "EPSG:2056")
    assert 8.4 < fp.lon[0] < 8.7 and 47.3 < fp.lat[0] < 47.5
    assert fp.area_m2[0] == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("crs", "transform"),
    [
        ("EPSG:4326", (1e-5, 0.0, 5.0, 0.0, -1e-5, 52.0)),  # degrees
        ("EPSG:3857", (0.5, 0.0, 556_597.0, 0.0, -0.5, 6_800_125.0)),  # Web Mercator at 52° N
        ("EPSG:4326", (2e-4, 1e-4, -70.0, 1e-4, -2e-4, -33.0)),  # rotated, southern hemisphere
    ],
)
def test_area_is_geodesic_when_grid_is_not_metric(crs: str, transform: AffineTuple) -> None:
    boxes = np.array([[0, 0, 10, 20], [100, 100, 110, 104], [5, 5, 6, 6]], float)
    fp = footprints(boxes, transform, crs)
    geodesic = [abs(GEOD.geometry_area_perimeter(p)[0]) for p in fp.polygons_wgs84]
    np.testing.assert_allclose(fp.area_m2, geodesic, rtol=1e-4)
    if crs == "EPSG:3857":  # planar Web Mercator area would be ~2.6x too large here
        assert fp.area_m2[0] < 0.5 * 10 * 20 * 0.25


def test_feet_crs_area_in_square_metres() -> None:
    fp = footprints([[0, 0, 10, 10]], (1.0, 0.0, 6_500_000.0, 0.0, -1.0, 1_850_000.0), "EPSG:2229")
    assert fp.area_m2[0] == pytest.approx(100 * (1200 / 3937) ** 2)


def test_empty_and_bad_inputs() -> None:
    fp = footprints(np.zeros((0, 4)), _t(utm_transform()), "EPSG:32631")
    assert len(fp) == 0 and fp.polygons_wgs84.shape == (0,) and fp.area_m2.shape == (0,)
    with pytest.raises(InputError, match=r"'boxes_px' must have shape \(N, 4\)"):
        footprints([[0, 0, 1]], _t(utm_transform()), "EPSG:32631")
    with pytest.raises(InputError, match="finite"):
        footprints([[0, 0, np.inf, 1]], _t(utm_transform()), "EPSG:32631")
    with pytest.raises(CRSError, match="EPSG:999999"):
        footprints([[0, 0, 1, 1]], _t(utm_transform()), "EPSG:999999")


def test_many_boxes_are_fast_enough() -> None:
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 20_000, (20_000, 2))
    boxes = np.hstack([xy, xy + rng.uniform(5, 40, (20_000, 2))])
    fp = footprints(boxes, _t(utm_transform()), "EPSG:32631")
    assert len(fp) == 20_000 and shapely.is_valid(fp.polygons_wgs84).all()


def test_median_matches_numpy_for_odd_even_and_two_columns() -> None:
    from skyscan.geo.footprints import _median

    rng = np.random.default_rng(3)
    for n in (1, 2, 5, 8):
        values = rng.normal(size=(n, 2))
        assert np.allclose(_median(values), np.median(values, axis=0))
        assert np.isclose(_median(values[:, 0]), np.median(values[:, 0]))
