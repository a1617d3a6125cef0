"""Spatial joins: the array cores agree with geopandas.sjoin; the table join reports."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.factory import detections_frame, offsets_to_lonlat
from skyscan.analytics.join import join_geometries_to_zones, join_points_to_zones, spatial_join
from skyscan.errors import CRSError, InputError


def _sjoin_pairs(
    points: np.ndarray, zones: np.ndarray, predicate: str
) -> tuple[np.ndarray, np.ndarray]:
    left = gpd.GeoDataFrame(geometry=points, crs="EPSG:4326")
    right = gpd.GeoDataFrame(geometry=zones, crs="EPSG:4326")
    joined = gpd.sjoin(left, right, predicate=predicate)
    pairs = np.array(
        sorted(zip(joined.index, joined["index_right"], strict=True)), dtype=np.int64
    ).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


def _random_zones(rng: np.random.Generator, n: int) -> np.ndarray:
    """Overlapping polygons of several shapes: boxes, holes, multipolygons, triangles."""
    cx, cy = rng.uniform(0, 10, n), rng.uniform(0, 10, n)
    r = rng.uniform(0.2, 1.5, n)
    zones = shapely.buffer(shapely.points(cx, cy), r, quad_segs=3)
    zones[::4] = shapely.box(cx[::4] - r[::4], cy[::4] - r[::4], cx[::4] + r[::4], cy[::4] + r[::4])
    zones[1::4] = shapely.difference(
        zones[1::4], shapely.buffer(shapely.points(cx[1::4], cy[1::4]), r[1::4] / 2)
    )
    zones[2::8] = shapely.union(
        zones[2::8], shapely.box(cx[2::8] + 3, cy[2::8], cx[2::8] + 4, cy[2::8] + 1)
    )
    return zones


@pytest.mark.parametrize("predicate", ["intersects", "within"])
def test_points_match_sjoin_including_boundaries(predicate: str) -> None:
    rng = np.random.default_rng(1)
    zones = _random_zones(rng, 300)
    x, y = rng.uniform(-1, 11, 5000), rng.uniform(-1, 11, 5000)
    # Points exactly on vertices and edges of the zones: where intersects and within differ.
    verts = shapely.get_coordinates(zones[::3])[::5]
    x = np.concatenate([x, verts[:, 0], [np.nan]])
    y = np.concatenate([y, verts[:, 1], [5.0]])
    got = join_points_to_zones(x, y, zones, predicate)
    pts = shapely.points(x, y)
    pts[~np.isfinite(x)] = None
    want = _sjoin_pairs(pts, zones, predicate)
    assert len(got[0]) > 1000
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@settings(max_examples=60, deadline=None)
@given(
    boxes=st.lists(
        st.tuples(st.integers(0, 8), st.integers(0, 8), st.integers(1, 4), st.integers(1, 4)),
        min_size=1,
        max_size=12,
    ),
    points=st.lists(st.tuples(st.integers(-1, 13), st.integers(-1, 13)), min_size=1, max_size=40),
    predicate=st.sampled_from(["intersects", "within"]),
)
def test_grid_fast_path_equals_strtree_on_integer_grids(
    boxes: list, points: list, predicate: str
) -> None:
    """Integer boxes and points: many points sit exactly on edges and corners."""
    b = np.array(boxes, dtype=float)
    zones = shapely.box(b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3])
    p = np.array(points, dtype=float) / 2.0
    got = join_points_to_zones(p[:, 0], p[:, 1], zones, predicate)
    tree = shapely.STRtree(zones).query(shapely.points(p), predicate=predicate)
    want = sorted(zip(tree[0].tolist(), tree[1].tolist(), strict=True))
    assert list(zip(got[0].tolist(), got[1].tolist(), strict=True)) == want


@pytest.mark.parametrize("predicate", ["intersects", "within", "contains"])
def test_footprints_match_sjoin(predicate: str) -> None:
    rng = np.random.default_rng(2)
    zones = _random_zones(rng, 100)
    x, y = rng.uniform(0, 10, 2000), rng.uniform(0, 10, 2000)
    size = rng.uniform(0.01, 3.0, 2000)
    boxes = shapely.box(x, y, x + size, y + size / 2)
    got = join_geometries_to_zones(boxes, zones, predicate)
    want = _sjoin_pairs(boxes, zones, predicate)
    np.testing.assert_array_equal(np.column_stack(got), np.column_stack(want))


def test_dwithin_is_in_metres_in_a_local_crs() -> None:
    lon0, lat0 = 8.54, 60.0  # high latitude: a degree of longitude is ~55.8 km, not 111 km
    zone = shapely.Polygon(
        np.column_stack(
            offsets_to_lonlat(lon0, lat0, np.array([0, 100, 100, 0]), np.array([0, 0, 100, 100]))
        )
    )
    # Points east of the zone's east edge at 90 m, 110 m; north of it at 95 m.
    lon, lat = offsets_to_lonlat(
        lon0, lat0, np.array([190.0, 210.0, 50.0]), np.array([50.0, 50.0, 195.0])
    )
    pi, zi = join_points_to_zones(lon, lat, np.array([zone]), "dwithin", distance_m=100.0)
    assert pi.tolist() == [0, 2] and zi.tolist() == [0, 0]
    pi, _ = join_points_to_zones(lon, lat, np.array([zone]), "dwithin", distance_m=80.0)
    assert pi.tolist() == []


def test_dwithin_accepts_lines() -> None:
    lon0, lat0 = 8.54, 47.37
    road = shapely.LineString(
        np.column_stack(
            offsets_to_lonlat(lon0, lat0, np.array([0.0, 1000.0]), np.array([0.0, 0.0]))
        )
    )
    lon, lat = offsets_to_lonlat(lon0, lat0, np.array([500.0, 500.0]), np.array([8.0, 12.0]))
    pi, _ = join_points_to_zones(lon, lat, np.array([road]), "dwithin", distance_m=10.0)
    assert pi.tolist() == [0]


def test_bad_predicates_and_distances() -> None:
    zones = shapely.box([0], [0], [1], [1])
    with pytest.raises(InputError, match=r"'predicate' must be one of .* \(got 'touches'\)"):
        join_points_to_zones([0.5], [0.5], zones, "touches")
    with pytest.raises(InputError, match="needs 'distance_m'"):
        join_points_to_zones([0.5], [0.5], zones, "dwithin")
    with pytest.raises(InputError, match="only applies to predicate 'dwithin'"):
        join_points_to_zones([0.5], [0.5], zones, "intersects", distance_m=5.0)


def _two_zones(crs: str | None = "EPSG:4326") -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {"name": ["west", "east"], "kind": ["lot", "depot"]},
        geometry=[shapely.box(8.50, 47.30, 8.55, 47.40), shapely.box(8.55, 47.30, 8.60, 47.40)],
        crs="EPSG:4326",
    )
    return (
        frame
        if crs == "EPSG:4326"
        else (frame.to_crs(crs) if crs else frame.set_crs(None, allow_override=True))
    )


def test_spatial_join_carries_zone_attributes_and_reports_reprojection() -> None:
    det = detections_frame([8.52, 8.58, 8.70, np.nan], [47.35, 47.35, 47.35, np.nan])
    result = spatial_join(det, _two_zones("EPSG:2056"), how="inner")
    assert result.table["detection_id"].tolist() == ["img-0:0", "img-0:1"]
    assert result.table["zone_name"].tolist() == ["west", "east"]
    assert result.table["zone_kind"].tolist() == ["lot", "depot"]
    assert result.table.crs.to_epsg() == 4326
    assert (result.matched, result.unmatched, result.unplaced) == (2, 1, 1)
    assert any("reprojected zones from EPSG:2056 to EPSG:4326" in n for n in result.notes)
    assert any("1 detection(s) have no coordinates" in n for n in result.notes)


def test_left_join_keeps_every_detection() -> None:
    det = detections_frame([8.52, 8.70, np.nan], [47.35, 47.35, np.nan])
    result = spatial_join(det, _two_zones(), how="left", zone_columns=["name"])
    assert result.table["detection_id"].tolist() == ["img-0:0", "img-0:1", "img-0:2"]
    assert result.table["zone_name"].tolist()[0] == "west"
    assert result.table["zone_name"].isna().tolist() == [False, True, True]
    assert "zone_kind" not in result.table.columns


def test_footprints_straddling_an_edge() -> None:
    # Centre 1 m west of the zones' shared edge at 8.55: the 4.5 m box reaches into 'east'.
    lon, lat = offsets_to_lonlat(8.55, 47.35, np.array([-1.0]), np.array([0.0]))
    det = detections_frame(lon, lat)
    assert spatial_join(det, _two_zones(), using="centroid").table["zone_name"].tolist() == ["west"]
    assert spatial_join(det, _two_zones(), using="footprint").table["zone_name"].tolist() == [
        "west",
        "east",
    ]
    assert spatial_join(det, _two_zones(), using="footprint", predicate="within").table.empty


def test_zones_without_crs_say_how_to_set_one() -> None:
    det = detections_frame([8.52], [47.35])
    with pytest.raises(CRSError, match=r"no CRS.*set_crs.*--zones-crs"):
        spatial_join(det, _two_zones(None))


def test_unknown_zone_column() -> None:
    det = detections_frame([8.52], [47.35])
    with pytest.raises(InputError, match=r"zone column\(s\) \['nope'\] not found"):
        spatial_join(det, _two_zones(), zone_columns=["nope"])


def test_dwithin_footprints_and_high_latitude() -> None:
    # At 80°N a degree of longitude is ~19 km; a zone 15 m east of a 5 m footprint's edge.
    lon0, lat0 = 20.0, 80.0
    zone = shapely.Polygon(
        np.column_stack(
            offsets_to_lonlat(
                lon0, lat0, np.array([20.0, 60, 60, 20]), np.array([-20.0, -20, 20, 20])
            )
        )
    )
    det = detections_frame(
        *offsets_to_lonlat(lon0, lat0, np.array([0.0]), np.array([0.0])), box_m=(10.0, 2.0)
    )
    geoms = det.geometry.values
    assert join_geometries_to_zones(geoms, np.array([zone]), "dwithin", distance_m=16.0)[
        0
    ].tolist() == [0]
    assert (
        join_geometries_to_zones(geoms, np.array([zone]), "dwithin", distance_m=14.0)[0].tolist()
        == []
    )
    # The centre is 20 m away: a centre-point join needs the larger distance.
    assert spatial_join(
        det,
        gpd.GeoDataFrame(geometry=[zone], crs="EPSG:4326"),
        predicate="dwithin",
        distance_m=16.0,
    ).table.empty
