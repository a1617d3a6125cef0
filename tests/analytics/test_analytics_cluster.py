"""DBSCAN in metres, cluster tables with hulls."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from analytics.factory import clustered_points, detections_frame, offsets_to_lonlat
from skyscan.analytics.cluster import cluster_detections, dbscan_labels
from skyscan.errors import InputError


@pytest.mark.parametrize("lat0", [0.0, 47.37, 70.0])
def test_eps_is_metres_at_any_latitude(lat0: float) -> None:
    # A row of points 10 m apart east-west: one cluster at eps 12 m, all noise at eps 8 m.
    lon, lat = offsets_to_lonlat(8.54, lat0, np.arange(6) * 10.0, np.zeros(6))
    assert dbscan_labels(lon, lat, eps_m=12, min_samples=2).tolist() == [0] * 6
    assert dbscan_labels(lon, lat, eps_m=8, min_samples=2).tolist() == [-1] * 6


def test_cluster_table_describes_each_cluster() -> None:
    lon, lat = clustered_points([(8.54, 47.37), (8.60, 47.40)], per_cluster=30, spread_m=20, seed=1)
    lone_lon, lone_lat = offsets_to_lonlat(8.70, 47.30, np.zeros(1), np.zeros(1))
    lon = np.concatenate([lon, lone_lon, [np.nan]])
    lat = np.concatenate([lat, lone_lat, [np.nan]])
    classes = ["car"] * 25 + ["truck"] * 5 + ["bus"] * 30 + ["car", "car"]
    det = detections_frame(lon, lat, classes=classes)
    result = cluster_detections(det, eps_m=25, min_samples=3)
    ids = result.detections["cluster_id"]
    assert (
        ids.iloc[:30].nunique() == 1
        and ids.iloc[30:60].nunique() == 1
        and ids.iloc[0] != ids.iloc[30]
    )
    assert ids.iloc[60] == -1 and ids.isna().tolist()[-1]
    clusters = result.clusters.set_index("cluster_id")
    first = clusters.loc[ids.iloc[0]]
    assert first["size"] == 30 and first["classes"] == "car:25,truck:5"
    assert (first["n_car"], first["n_truck"], first["n_bus"]) == (25, 5, 0)
    assert first["metric_crs"] == "EPSG:32632"
    # The hull holds every member's footprint; its area is that of a ~40 m square at most.
    members = det.geometry.values[:30]
    assert shapely.covers(first["geometry"], shapely.union_all(members))
    assert 500 < first["area_m2"] < 46 * 46
    assert result.clusters.crs.to_epsg() == 4326
    assert any("2 cluster(s), 60 clustered, 1 noise" in n for n in result.notes)


def test_data_across_utm_zones_is_clustered_per_zone_and_reported() -> None:
    lon, lat = clustered_points([(5.9, 47.0), (6.1, 47.0)], per_cluster=5, spread_m=5)
    result = cluster_detections(detections_frame(lon, lat), eps_m=10, min_samples=2)
    assert sorted(result.clusters["metric_crs"]) == ["EPSG:32631", "EPSG:32632"]
    assert any("span 2 metric CRSs" in n for n in result.notes)


def test_no_clusters_gives_an_empty_table() -> None:
    lon, lat = offsets_to_lonlat(8.54, 47.37, np.array([0.0, 500.0]), np.zeros(2))
    result = cluster_detections(detections_frame(lon, lat), eps_m=10, min_samples=2)
    assert result.clusters.empty and result.detections["cluster_id"].tolist() == [-1, -1]


@pytest.mark.parametrize(
    ("eps", "min_samples", "match"),
    [
        (0, 3, "'eps_m' must be a distance > 0"),
        (float("nan"), 3, "'eps_m'"),
        (10, 0, "'min_samples' must be an integer >= 1"),
        (10, 2.5, "'min_samples'"),
    ],
)
def test_bad_options(eps: float, min_samples: int, match: str) -> None:
    with pytest.raises(InputError, match=match):
        dbscan_labels([8.5], [47.3], eps_m=eps, min_samples=min_samples)
