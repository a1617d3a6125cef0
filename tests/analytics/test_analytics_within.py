"""Detections within an area of interest."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from analytics.factory import detections_frame, offsets_to_lonlat
from skyscan.analytics.areas import read_areas
from skyscan.analytics.within import points_in_areas, within_area
from skyscan.errors import CRSError, InputError

AOI = shapely.box(8.50, 47.30, 8.60, 47.40)


def test_points_in_areas_boundary_semantics() -> None:
    lon = np.array([8.55, 8.50, 8.70, np.nan])  # inside, on the west edge, outside, missing
    lat = np.array([47.35, 47.35, 47.35, np.nan])
    areas = np.array([AOI])
    assert points_in_areas(lon, lat, areas, "intersects").tolist() == [True, True, False, False]
    assert points_in_areas(lon, lat, areas, "within").tolist() == [True, False, False, False]
    with pytest.raises(InputError, match="'predicate' must be one of"):
        points_in_areas(lon, lat, areas, "contains")


def test_area_in_another_crs_is_reprojected_and_reported() -> None:
    det = detections_frame([8.55, 8.65, np.nan], [47.35, 47.35, np.nan])
    aoi = gpd.GeoDataFrame(geometry=[AOI], crs="EPSG:4326").to_crs("EPSG:3857")
    result = within_area(det, aoi)
    assert result.table["detection_id"].tolist() == ["img-0:0"]
    assert (result.inside, result.outside, result.unplaced) == (1, 1, 1)
    assert result.inside + result.outside + result.unplaced == len(det)
    assert any(
        "reprojected area of interest from EPSG:3857 to EPSG:4326" in n for n in result.notes
    )
    assert any("no coordinates" in n for n in result.notes)
    assert result.table.crs.to_epsg() == 4326


def test_several_polygons_and_a_wkt_multipolygon() -> None:
    areas = read_areas(
        "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 1, 0 0)), ((2 0, 3 0, 3 1, 2 1, 2 0)))", crs="EPSG:4326"
    )
    det = detections_frame([0.5, 1.5, 2.5], [0.5, 0.5, 0.5])
    assert within_area(det, areas).table["detection_id"].tolist() == ["img-0:0", "img-0:2"]


def test_footprint_within_versus_intersects() -> None:
    # A box whose centre is 1 m inside the AOI's west edge: it sticks out by 1.25 m.
    lon, lat = offsets_to_lonlat(8.50, 47.35, np.array([1.0, 50.0]), np.array([0.0, 0.0]))
    det = detections_frame(lon, lat)
    assert (
        within_area(
            det, gpd.GeoDataFrame(geometry=[AOI], crs="EPSG:4326"), using="footprint"
        ).inside
        == 2
    )
    assert (
        within_area(
            det,
            gpd.GeoDataFrame(geometry=[AOI], crs="EPSG:4326"),
            using="footprint",
            predicate="within",
        ).inside
        == 1
    )


def test_detections_without_crs_are_an_error() -> None:
    det = detections_frame([8.55], [47.35]).set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match=r"detections has no CRS.*--detections-crs"):
        within_area(det, gpd.GeoDataFrame(geometry=[AOI], crs="EPSG:4326"))
