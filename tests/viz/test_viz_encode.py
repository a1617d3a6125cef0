"""Compact encodings: typed arrays, the quantisation frame, the heat grid."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyscan.viz.encode import Frame, heat_grid, lonlat_to_mercator, pack


def test_pack_picks_smallest_unsigned_type_little_endian() -> None:
    assert pack([0, 255])["dtype"] == "u1"
    packed = pack([1, 70_000])
    assert packed["dtype"] == "u4"
    raw = base64.b64decode(packed["b64"])
    assert np.frombuffer(raw, "<u4").tolist() == [1, 70_000]


def test_mercator_matches_pyproj() -> None:
    from pyproj import Transformer

    lon, lat = np.array([4.47, -122.4, 151.2]), np.array([51.92, 37.8, -33.9])
    x, y = lonlat_to_mercator(lon, lat)
    ex, ey = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(lon, lat)
    np.testing.assert_allclose(x, ex, atol=1e-6)
    np.testing.assert_allclose(y, ey, atol=1e-6)


@settings(max_examples=50, deadline=None)
@given(
    st.floats(-170, 170),
    st.floats(-80, 80),
    st.floats(1e-5, 5.0),
    st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=50),
)
def test_quantised_points_round_trip_within_half_a_step(
    lon0: float, lat0: float, extent: float, rel: list[tuple[float, float]]
) -> None:
    lon = lon0 + extent * np.array([r[0] for r in rel])
    lat = np.clip(lat0 + extent * np.array([r[1] for r in rel]), -85, 85)
    x, y = lonlat_to_mercator(lon, lat)
    frame = Frame.around(x, y)
    qx, qy = frame.quantise(x, y)
    assert qx.min() >= 0 and qx.max() <= frame.q and qy.max() <= frame.q
    step = (frame.x1 - frame.x0) / frame.q
    back_x = frame.x0 + qx * step
    back_y = frame.y0 + qy * step
    assert np.abs(back_x - x).max() <= step / 2 + 1e-6
    assert np.abs(back_y - y).max() <= step / 2 + 1e-6
    assert step <= 0.25 or frame.q == 2**32 - 1  # wide extents switch to uint32


def test_frame_of_one_point_is_not_degenerate() -> None:
    frame = Frame.around(np.array([100.0]), np.array([200.0]))
    assert frame.x1 > frame.x0 and frame.q == 65535


def test_heat_grid_counts_every_point_and_respects_budget() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0, 2_000, 50_000)
    y = rng.normal(0, 1_000, 50_000)
    grid = heat_grid(x, y, max_cells=1_000)
    assert grid.count.sum() == 50_000
    assert grid.count.size <= 1_000
    assert grid.cell_m > 1.0 and np.log2(grid.cell_m) == int(np.log2(grid.cell_m))
    # Each point falls inside the cell that counts it.
    cx, cy = grid.centres()
    i = np.argmax(grid.count)
    inside = (np.abs(x - cx[i]) <= grid.cell_m / 2) & (np.abs(y - cy[i]) <= grid.cell_m / 2)
    assert inside.sum() == grid.count[i]


def test_heat_grid_keeps_fine_cells_when_they_fit() -> None:
    grid = heat_grid(np.array([0.5, 0.6, 10.5]), np.array([0.5, 0.6, 0.5]))
    assert grid.cell_m == 1.0 and sorted(grid.count.tolist()) == [1, 2]


def test_heat_grid_empty_and_bad_budget() -> None:
    assert heat_grid(np.zeros(0), np.zeros(0)).count.size == 0
    with pytest.raises(ValueError, match="max_cells"):
        heat_grid(np.zeros(1), np.zeros(1), max_cells=0)
