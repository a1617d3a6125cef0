"""H3 cells: identical to the h3 library, lat-first order contained, counts per cell."""

from __future__ import annotations

import h3
import numpy as np
import pytest
import shapely

from analytics.factory import detections_frame
from skyscan.analytics import h3cells
from skyscan.analytics.aggregate import aggregate_by_h3
from skyscan.analytics.h3cells import (
    cell_polygons,
    cells_to_strings,
    check_resolution,
    h3_cells,
    strings_to_cells,
)
from skyscan.errors import InputError


def _points(n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.uniform(-180, 180, n), rng.uniform(-85, 85, n)


@pytest.mark.parametrize("res", [0, 5, 9, 15])
def test_cells_equal_the_h3_library(res: int) -> None:
    lon, lat = _points()
    cells = h3_cells(lon=lon, lat=lat, res=res)
    want = [h3.latlng_to_cell(la, lo, res) for lo, la in zip(lon, lat, strict=True)]
    assert cells_to_strings(cells).tolist() == want
    assert strings_to_cells(want).tolist() == cells.tolist()


def test_loop_fallback_gives_the_same_ids() -> None:
    lon, lat = _points(500)
    assert np.array_equal(
        h3cells._latlng_to_cells_loop(lat, lon, 9), h3_cells(lon=lon, lat=lat, res=9)
    )


def test_missing_coordinates_get_no_cell() -> None:
    cells = h3_cells(lon=[8.5, np.nan, 8.5], lat=[47.3, 47.3, np.inf], res=9)
    assert cells[0] != 0 and cells[1:].tolist() == [0, 0]
    assert cells_to_strings(cells).tolist()[1:] == [None, None]
    assert cell_polygons(cells)[1] is None


def test_axis_order_cannot_be_swapped_silently() -> None:
    with pytest.raises(TypeError):
        h3_cells([8.5], [47.3], 9)  # type: ignore[misc]
    with pytest.raises(
        InputError,
        match=r"latitude must be in \[-90, 90\] \(got 147.3 at row 0\); are lon and lat swapped",
    ):
        h3_cells(lon=[47.3], lat=[147.3], res=9)


@pytest.mark.parametrize("res", [-1, 16, 9.5, True, "9"])
def test_resolution_out_of_range(res: object) -> None:
    with pytest.raises(InputError, match=r"H3 resolution must be an integer in \[0, 15\]"):
        check_resolution(res)
    with pytest.raises(InputError, match="H3 resolution"):
        h3_cells(lon=[8.5], lat=[47.3], res=res)  # type: ignore[arg-type]


def test_hexagons_are_lon_lat_and_contain_their_points() -> None:
    lon, lat = np.array([8.54, -70.6, 151.2]), np.array([47.37, -33.4, -33.9])
    cells = h3_cells(lon=lon, lat=lat, res=8)
    polys = cell_polygons(cells)
    assert shapely.contains_xy(polys, lon, lat).all()
    boundary = h3.cell_to_boundary(cells_to_strings(cells)[0])  # (lat, lng) pairs
    ring = shapely.get_coordinates(polys[0])[:-1]
    np.testing.assert_allclose(ring, np.array(boundary)[:, ::-1], atol=1e-9)


def test_aggregate_per_cell_and_class() -> None:
    lon = np.array([8.5400, 8.54001, 8.54002, 8.60, np.nan])
    lat = np.array([47.3700, 47.37001, 47.37002, 47.40, np.nan])
    det = detections_frame(lon, lat, classes=["car", "car", "truck", "car", "car"])
    result = aggregate_by_h3(det, 9)
    table = result.table
    assert table["count"].sum() == 4 and len(table) == 2
    assert table.crs.to_epsg() == 4326
    assert set(table["h3_cell"]) == {
        h3.latlng_to_cell(47.37, 8.54, 9),
        h3.latlng_to_cell(47.40, 8.60, 9),
    }
    counts = dict(zip(table["h3_cell"], table["count"], strict=True))
    assert counts[h3.latlng_to_cell(47.37, 8.54, 9)] == 3
    centres = np.array([h3.cell_to_latlng(c) for c in table["h3_cell"]])  # (lat, lng)
    assert shapely.contains_xy(table.geometry.values, centres[:, 1], centres[:, 0]).all()
    assert any("no coordinates" in n for n in result.notes)
    by_class = aggregate_by_h3(det, 9, by=["class_name"]).table
    assert sorted(zip(by_class["class_name"], by_class["count"], strict=True)) == [
        ("car", 1),
        ("car", 2),
        ("truck", 1),
    ]
