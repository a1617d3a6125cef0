"""Pure georeferencing helpers: world files, CRS strings, pixel <-> world round trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS

from skyscan.errors import CRSError, GeoreferenceError
from skyscan.io.georef import (
    check_transform,
    footprint_lonlat,
    normalise_crs,
    pixel_to_world,
    read_world_file,
    world_to_pixel,
)


def test_world_file_centre_to_corner(tmp_path: Path) -> None:
    p = tmp_path / "a.pgw"
    p.write_text("0.5\n0\n0\n-0.5\n100.25\n199.75\n")
    assert read_world_file(p) == (0.5, 0.0, 100.0, 0.0, -0.5, 200.0)
    p.write_text("1\n2\n")
    with pytest.raises(GeoreferenceError, match="six numbers"):
        read_world_file(p)


def test_normalise_crs() -> None:
    assert normalise_crs("epsg:32631") == "EPSG:32631"
    assert normalise_crs(CRS.from_epsg(2056).to_wkt(version="WKT1_ESRI")) == "EPSG:2056"
    custom = "+proj=tmerc +lat_0=0 +lon_0=7.3 +k=1 +x_0=0 +y_0=0 +ellps=GRS80 +units=m"
    assert normalise_crs(custom).startswith("PROJCRS")  # no EPSG code: WKT
    with pytest.raises(CRSError, match="not a CRS"):
        normalise_crs("bogus")
    with pytest.raises(CRSError, match="projected or geographic"):
        normalise_crs("EPSG:5773")  # a vertical CRS cannot place pixels


def test_check_transform() -> None:
    with pytest.raises(GeoreferenceError, match="degenerate"):
        check_transform((0.0, 0.0, 1.0, 0.0, 0.0, 1.0), source="x")
    with pytest.raises(GeoreferenceError, match="non-finite"):
        check_transform((float("nan"), 0.0, 1.0, 0.0, -1.0, 1.0), source="x")


def test_footprint_rotterdam() -> None:
    corners = footprint_lonlat((0.5, 0.0, 594_000.0, 0.0, -0.5, 5_758_000.0), "EPSG:32631", 100, 100)
    lon, lat = corners[0]
    assert 4.3 < lon < 4.5 and 51.9 < lat < 52.0  # Rotterdam, lon first
    assert corners[1][0] > lon and corners[3][1] < lat


finite = st.floats(-1e3, 1e3, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    a=st.floats(0.01, 100), e=st.floats(-100, -0.01), b=st.floats(-5, 5), d=st.floats(-5, 5),
    c=st.floats(-1e6, 1e6), f=st.floats(-1e7, 1e7),
    cols=st.lists(finite, min_size=1, max_size=5), rows=st.lists(finite, min_size=1, max_size=5),
)
def test_pixel_world_pixel_round_trip(a: float, b: float, c: float, d: float, e: float, f: float,
                                      cols: list[float], rows: list[float]) -> None:
    n = min(len(cols), len(rows))
    t = (a, b, c, d, e, f)
    if abs(a * e - b * d) < 1e-3:
        return  # nearly singular: not a real image transform
    x, y = pixel_to_world(t, cols[:n], rows[:n])
    col, row = world_to_pixel(t, x, y)
    np.testing.assert_allclose(col, cols[:n], atol=1e-4)
    np.testing.assert_allclose(row, rows[:n], atol=1e-4)
