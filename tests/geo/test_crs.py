"""CRS naming, transforms against independent formulas, metric CRS choice, GSD in metres."""

from __future__ import annotations

import math

import numpy as np
import pyproj
import pytest
import rasterio.crs
from hypothesis import given, settings
from hypothesis import strategies as st

from rasters import rotated_transform
from skyscan.errors import CRSError, InputError
from skyscan.geo.crs import (
    from_wgs84,
    get_transformer,
    gsd_metres,
    linear_unit_metres,
    local_metric_crs,
    normalize_crs,
    to_wgs84,
)

# WGS84 ellipsoid
A = 6_378_137.0
F = 1 / 298.257223563
E2 = F * (2 - F)

ESRI_UTM31N = (
    'PROJCS["WGS_1984_UTM_Zone_31N",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",'
    'SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],'
    'UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],'
    'PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],'
    'PARAMETER["Central_Meridian",3.0],PARAMETER["Scale_Factor",0.9996],'
    'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
)


# -- independent reference paths (no PROJ) ------------------------------------------------


def utm_kruger(lon: np.ndarray, lat: np.ndarray, zone: int) -> tuple[np.ndarray, np.ndarray]:
    """UTM north easting/northing by the Krüger n-series (to n³; mm-accurate near the
    central meridian), written from the textbook formulas, not from PROJ."""
    n = F / (2 - F)
    big_a = A / (1 + n) * (1 + n**2 / 4 + n**4 / 64)
    alpha = [n / 2 - 2 * n**2 / 3 + 5 * n**3 / 16, 13 * n**2 / 48 - 3 * n**3 / 5, 61 * n**3 / 240]
    phi = np.radians(lat)
    dlam = np.radians(lon - (6 * zone - 183))
    c = 2 * math.sqrt(n) / (1 + n)
    t = np.sinh(np.arctanh(np.sin(phi)) - c * np.arctanh(c * np.sin(phi)))
    xi = np.arctan2(t, np.cos(dlam))
    eta = np.arctanh(np.sin(dlam) / np.sqrt(1 + t**2))
    e = eta + sum(al * np.cos(2 * j * xi) * np.sinh(2 * j * eta) for j, al in enumerate(alpha, 1))
    nn = xi + sum(al * np.sin(2 * j * xi) * np.cosh(2 * j * eta) for j, al in enumerate(alpha, 1))
    return 500_000 + 0.9996 * big_a * e, 0.9996 * big_a * nn


def lv95_swisstopo_approx(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """swisstopo's published approximate formulas WGS84 -> LV95 (accurate to ~1 m)."""
    p = (lat * 3600 - 169_028.66) / 10_000
    la = (lon * 3600 - 26_782.5) / 10_000
    east = 2_600_072.37 + 211_455.93 * la - 10_938.51 * la * p - 0.36 * la * p**2 - 44.54 * la**3
    north = (
        1_200_147.07
        + 308_807.95 * p
        + 3_745.25 * la**2
        + 76.63 * p**2
        - 194.56 * la**2 * p
        + 119.79 * p**3
    )
    return east, north


def test_utm_matches_kruger_series() -> None:
    lon = np.array([3.0, 4.47, 1.2, 5.9, 3.0])
    lat = np.array([0.0, 51.92, 43.6, 60.1, 45.0])  # incl. Rotterdam
    east, north = from_wgs84(lon, lat, "EPSG:32631")
    ref_e, ref_n = utm_kruger(lon, lat, 31)
    np.testing.assert_allclose(east, ref_e, atol=0.01)
    np.testing.assert_allclose(north, ref_n, atol=0.01)
    assert (east[0], north[0]) == pytest.approx((500_000.0, 0.0), abs=1e-6)
    # meridian arc to 45° on WGS84 is 4 984 944.378 m, scaled by k0 = 0.9996
    assert north[4] == pytest.approx(0.9996 * 4_984_944.378, abs=0.01)


def test_lv95_matches_swisstopo_formulas() -> None:
    lon = np.array([7.4395833, 8.5417, 6.1432, 9.8372])  # Bern origin, Zurich, Geneva, Davos
    lat = np.array([46.9524056, 47.3769, 46.2044, 46.8027])
    east, north = from_wgs84(lon, lat, "EPSG:2056")
    ref_e, ref_n = lv95_swisstopo_approx(lon, lat)
    np.testing.assert_allclose(east, ref_e, atol=1.5)
    np.testing.assert_allclose(north, ref_n, atol=1.5)
    # and back: the formulas' anchor, 46°57'08.66" N 7°26'22.50" E (WGS84), is at
    # E 2 600 072.37, N 1 200 147.07
    olon, olat = to_wgs84([2_600_072.37], [1_200_147.07], "EPSG:2056")
    assert (olon[0], olat[0]) == pytest.approx((7.4395833, 46.9524056), abs=2e-5)


@settings(max_examples=50, deadline=None)
@given(
    crs=st.sampled_from(["EPSG:32631", "EPSG:2056", "EPSG:3857", "EPSG:2229"]),
    u=st.lists(st.tuples(st.floats(-0.5, 0.5), st.floats(-0.5, 0.5)), min_size=1, max_size=20),
)
def test_wgs84_round_trip(crs: str, u: list[tuple[float, float]]) -> None:
    lon0, lat0 = {
        "EPSG:32631": (3.5, 52.0),
        "EPSG:2056": (8.0, 46.8),
        "EPSG:3857": (-40.0, 10.0),
        "EPSG:2229": (-118.3, 34.0),
    }[crs]
    lon = lon0 + np.array([p[0] for p in u])
    lat = lat0 + np.array([p[1] for p in u])
    x, y = from_wgs84(lon, lat, crs)
    lon2, lat2 = to_wgs84(x, y, crs)
    np.testing.assert_allclose(lon2, lon, atol=1e-9)
    np.testing.assert_allclose(lat2, lat, atol=1e-9)


def test_axis_order_is_always_lon_lat() -> None:
    lon, lat = to_wgs84(np.array([594_000.0]), np.array([5_758_000.0]), "EPSG:32631")
    assert 4 < lon[0] < 5 and 51 < lat[0] < 53  # Rotterdam, not swapped
    assert to_wgs84([], [], "EPSG:32631")[0].shape == (0,)
    with pytest.raises(InputError, match="same shape"):
        to_wgs84([1.0, 2.0], [1.0], "EPSG:32631")


def test_transformer_is_cached_and_xy() -> None:
    t = get_transformer("EPSG:32631")
    assert t is get_transformer("EPSG:32631", "EPSG:4326")
    x, y = t.transform(500_000.0, 0.0)
    assert (x, y) == pytest.approx((3.0, 0.0))
    with pytest.raises(CRSError, match="EPSG:999999"):
        get_transformer("EPSG:999999")


# -- normalize_crs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "EPSG:32631",
        "epsg:32631",
        32631,
        pyproj.CRS.from_epsg(32631),
        pyproj.CRS.from_epsg(32631).to_wkt(),
        rasterio.crs.CRS.from_epsg(32631),
        ESRI_UTM31N,  # a typical .prj file
        "+proj=utm +zone=31 +datum=WGS84 +units=m +no_defs",
    ],
)
def test_normalize_crs_finds_epsg(value: object) -> None:
    assert normalize_crs(value) == "EPSG:32631"


def test_normalize_crs_keeps_wkt_without_epsg() -> None:
    custom = "+proj=tmerc +lat_0=0 +lon_0=3.1 +k=1 +x_0=0 +y_0=0 +ellps=GRS80 +units=m"
    out = normalize_crs(custom)
    assert out.startswith("PROJCRS[")
    assert pyproj.CRS(out).equals(pyproj.CRS(custom))
    assert normalize_crs(out) == out  # idempotent


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (None, r"a CRS is required \(got None\)"),
        ("  ", r"a CRS is required"),
        ("EPSG:999999", r"unknown CRS 'EPSG:999999'"),
        ("not a crs", r"unknown CRS 'not a crs'"),
        ('LOCAL_CS["site grid",UNIT["metre",1]]', r"neither geographic nor projected"),
    ],
)
def test_normalize_crs_refuses(value: object, match: str) -> None:
    with pytest.raises(CRSError, match=match) as info:
        normalize_crs(value)
    assert isinstance(info.value, ValueError)  # callers may catch the builtin


def test_normalize_crs_names_its_source() -> None:
    with pytest.raises(CRSError, match=r"^scene\.prj: .*unknown CRS 'bogus'") as info:
        normalize_crs("bogus", source="scene.prj")
    assert info.value.__cause__ is not None  # pyproj's own reason stays chained
    with pytest.raises(CRSError, match=r"^'crs' option: .*neither geographic nor projected"):
        normalize_crs("EPSG:5773", source="'crs' option")  # a vertical CRS cannot place pixels
    assert normalize_crs("epsg:2056", source="x") == "EPSG:2056"


# -- local_metric_crs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        (8.54, 47.37, "EPSG:32632"),  # Zurich
        (4.47, 51.92, "EPSG:32631"),  # Rotterdam
        (-70.6, -33.4, "EPSG:32719"),  # Santiago
        (-180.0, 10.0, "EPSG:32601"),
        (180.0, 10.0, "EPSG:32660"),
        (0.0, 0.0, "EPSG:32631"),
        (10.0, 85.0, "EPSG:32661"),
        (10.0, -85.0, "EPSG:32761"),
    ],
)
def test_local_metric_crs(lon: float, lat: float, expected: str) -> None:
    assert local_metric_crs(lon, lat) == expected


@settings(max_examples=100, deadline=None)
@given(lon=st.floats(-180, 180), lat=st.floats(-80, 84))
def test_local_metric_crs_central_meridian_is_near(lon: float, lat: float) -> None:
    code = local_metric_crs(lon, lat)
    assert pyproj.CRS(code).axis_info[0].unit_name == "metre"
    lon0 = int(code[-2:]) * 6 - 183
    assert abs((lon - lon0 + 180) % 360 - 180) <= 3 + 1e-9


@pytest.mark.parametrize(("lon", "lat"), [(181.0, 0.0), (0.0, -91.0), (float("nan"), 0.0)])
def test_local_metric_crs_refuses_bad_coordinates(lon: float, lat: float) -> None:
    with pytest.raises(InputError, match=r"must be in \["):
        local_metric_crs(lon, lat)


# -- gsd_metres -------------------------------------------------------------------------


def _deg_lengths(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and latitude on WGS84 (textbook formulas)."""
    s = math.sin(math.radians(lat))
    w = math.sqrt(1 - E2 * s * s)
    return math.pi * A * math.cos(math.radians(lat)) / (180 * w), math.pi * A * (1 - E2) / (
        180 * w**3
    )


def test_gsd_projected_metres_and_feet() -> None:
    utm = (0.5, 0.0, 594_000.0, 0.0, -0.5, 5_758_000.0)
    assert gsd_metres(utm, "EPSG:32631", 1000, 800) == 0.5
    assert gsd_metres(
        (0.3, 0.0, 2_683_000.0, 0.0, -0.3, 1_248_000.0), "EPSG:2056", 100, 100
    ) == pytest.approx(0.3)
    # US survey feet (California zone 5)
    assert gsd_metres(
        (1.0, 0.0, 6_500_000.0, 0.0, -1.0, 1_850_000.0), "EPSG:2229", 50, 50
    ) == pytest.approx(1200 / 3937)
    assert linear_unit_metres("EPSG:4326") is None


@pytest.mark.parametrize("degrees", [30.0, -75.0, 180.0])
def test_gsd_rotated_transform(degrees: float) -> None:
    a, b, c, d, e, f = tuple(rotated_transform(0.5, degrees))[:6]
    assert gsd_metres((a, b, c, d, e, f), "EPSG:32631", 100, 100) == pytest.approx(0.5)
    # non-square pixels: the geometric mean of the two pixel sides
    assert gsd_metres(
        (0.5, 0.0, 594_000.0, 0.0, -2.0, 5_758_000.0), "EPSG:32631", 10, 10
    ) == pytest.approx(1.0)


def test_gsd_geographic_degrees() -> None:
    lon_m, lat_m = _deg_lengths(52.0)
    expected = math.sqrt(1e-5 * lon_m * 1e-5 * lat_m)
    t = (1e-5, 0.0, 5.0 - 50e-5, 0.0, -1e-5, 52.0 + 50e-5)  # centre pixel at (5, 52)
    assert gsd_metres(t, "EPSG:4326", 100, 100) == pytest.approx(expected, rel=1e-4)


def test_gsd_web_mercator_uses_ground_distance() -> None:
    x, y = from_wgs84([5.0], [52.0], "EPSG:3857")
    t = (0.5, 0.0, float(x[0]) - 50 * 0.5, 0.0, -0.5, float(y[0]) + 50 * 0.5)
    lon_m, _ = _deg_lengths(52.0)
    # Web Mercator grid metres are 1/cos(lat) too long on the sphere: ground ≈ 0.5 cos 52°
    got = gsd_metres(t, "EPSG:3857", 100, 100)
    assert got == pytest.approx(0.5 * lon_m / (math.pi * A / 180), rel=5e-3)
    assert got < 0.35


def test_gsd_refuses_degenerate_transform() -> None:
    with pytest.raises(InputError, match="non-degenerate"):
        gsd_metres((0.0, 0.0, 0.0, 0.0, 0.0, 0.0), "EPSG:32631", 10, 10)


def test_docstring_examples_run() -> None:
    import doctest

    import skyscan.geo.crs
    import skyscan.geo.footprints

    for module in (skyscan.geo.crs, skyscan.geo.footprints):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted >= 1
