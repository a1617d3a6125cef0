"""Counts per zone, per column, and two-date comparisons."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from analytics.factory import detections_frame
from skyscan.analytics.aggregate import (
    aggregate_by_columns,
    aggregate_by_zone,
    count_by,
    pivot_counts,
)
from skyscan.errors import InputError


def _zones() -> gpd.GeoDataFrame:
    # 'centre' overlaps 'west' and 'east'; 'empty' is far away.
    return gpd.GeoDataFrame(
        {"name": ["west", "east", "centre", "empty"]},
        geometry=[
            shapely.box(8.50, 47.30, 8.55, 47.40),
            shapely.box(8.55, 47.30, 8.60, 47.40),
            shapely.box(8.53, 47.30, 8.57, 47.40),
            shapely.box(9.0, 47.0, 9.1, 47.1),
        ],
        crs="EPSG:4326",
    )


def _detections() -> gpd.GeoDataFrame:
    lon = [8.51, 8.52, 8.54, 8.56, 8.58, 8.58, np.nan]
    lat = [47.35] * 7
    return detections_frame(
        lon,
        lat,
        classes=["car", "truck", "car", "car", "bus", "car", "car"],
        meta={
            "meta_capture_date": [
                "2020-05-01",
                "2021-05-01",
                "2020-05-01",
                "2021-05-01",
                "2021-05-01",
                "2021-05-01",
                "2020-05-01",
            ]
        },
    )


def test_count_by_keeps_missing_keys() -> None:
    frame = pd.DataFrame({"k": ["a", None, "a", None], "score": [0.2, 0.4, 0.6, 0.8]})
    table = count_by(frame, ["k"])
    assert table["count"].tolist() == [2, 2] and table["k"].isna().tolist() == [False, True]
    assert table["mean_score"].tolist() == pytest.approx([0.4, 0.6])


def test_per_zone_counts_include_empty_zones_and_overlaps() -> None:
    result = aggregate_by_zone(_detections(), _zones())
    counts = dict(zip(result.table["zone_name"], result.table["count"], strict=True))
    assert counts == {"west": 3, "east": 3, "centre": 2, "empty": 0}
    assert isinstance(result.table, gpd.GeoDataFrame) and result.table.crs.to_epsg() == 4326
    assert any("1 zone(s) have no detections" in n for n in result.notes)


def test_per_zone_and_class() -> None:
    table = aggregate_by_zone(_detections(), _zones(), by=["class_name"]).table
    rows = {
        (z, c): n
        for z, c, n in zip(table["zone_name"], table["class_name"], table["count"], strict=True)
    }
    assert (
        rows[("east", "car")] == 2 and rows[("east", "bus")] == 1 and rows[("west", "truck")] == 1
    )


def test_two_dates_side_by_side() -> None:
    table = aggregate_by_zone(_detections(), _zones(), by=["meta_capture_date"]).table
    wide = pivot_counts(table, "meta_capture_date")
    assert isinstance(wide, gpd.GeoDataFrame) and len(wide) == 4
    west = wide[wide["zone_name"] == "west"].iloc[0]
    assert (west["count_2020-05-01"], west["count_2021-05-01"], west["change"]) == (2, 1, -1)
    east = wide[wide["zone_name"] == "east"].iloc[0]
    assert (east["count_2020-05-01"], east["count_2021-05-01"], east["change"]) == (0, 3, 3)


def test_per_columns_only() -> None:
    result = aggregate_by_columns(_detections(), ["class_name", "meta_capture_date"])
    rows = {
        (c, d): n
        for c, d, n in zip(
            result.table["class_name"],
            result.table["meta_capture_date"],
            result.table["count"],
            strict=True,
        )
    }
    assert rows == {
        ("bus", "2021-05-01"): 1,
        ("car", "2020-05-01"): 3,
        ("car", "2021-05-01"): 2,
        ("truck", "2021-05-01"): 1,
    }
    assert result.table["count"].sum() == 7  # rows without coordinates are still counted


def test_unknown_column_names_the_metadata_columns() -> None:
    with pytest.raises(InputError, match=r"unknown column\(s\) \['meta_date'\].*meta_capture_date"):
        aggregate_by_columns(_detections(), ["meta_date"])
    with pytest.raises(InputError, match="at least one column"):
        count_by(pd.DataFrame({"a": [1]}), [])
