"""DBSCAN on Spark (grid cells + halo + core-point merge) against the local DBSCAN."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from skyscan.engines.spark.cluster import _union_find, assign_cells
from skyscan.errors import InputError

pytestmark = pytest.mark.spark

EPS, MIN_SAMPLES = 20.0, 4


def _scene(seed: int = 3) -> pd.DataFrame:
    """Parked-car-like groups and scattered vehicles near Rotterdam, plus a group on the
    UTM 31/32 edge (6° E) and a few detections without coordinates."""
    import pyproj

    rng = np.random.default_rng(seed)
    to_ll = pyproj.Transformer.from_crs("EPSG:32631", "EPSG:4326", always_xy=True)
    xs, ys = [], []
    for _ in range(14):
        cx, cy, n = (
            rng.uniform(590_000, 592_000),
            rng.uniform(5_750_000, 5_751_500),
            int(rng.integers(4, 40)),
        )
        xs.append(rng.normal(cx, rng.uniform(5, 30), n))
        ys.append(rng.normal(cy, rng.uniform(5, 30), n))
    xs.append(rng.uniform(590_000, 592_000, 150))
    ys.append(rng.uniform(5_750_000, 5_751_500, 150))
    lon, lat = to_ll.transform(np.concatenate(xs), np.concatenate(ys))
    edge_lon = 6.0 + rng.normal(0, 0.0002, 30)  # straddles the zone edge: never one cluster
    edge_lat = 51.9 + rng.normal(0, 0.0001, 30)
    lon = np.concatenate([lon, edge_lon, [np.nan, np.nan]])
    lat = np.concatenate([lat, edge_lat, [np.nan, np.nan]])
    n = len(lon)
    order = rng.permutation(n)
    lon, lat = lon[order], lat[order]
    half = 1e-5  # ~1 m footprint boxes
    import shapely

    boxes = shapely.box(lon - half, lat - half, lon + half, lat + half)
    boxes[~np.isfinite(lon)] = None
    return pd.DataFrame(
        {
            "detection_id": [f"img{i % 7}:{i:05d}" for i in range(n)],
            "class_name": rng.choice(["car", "car", "car", "truck", "bus"], n),
            "score": rng.uniform(0.3, 1.0, n).astype(np.float32),
            "lon": lon,
            "lat": lat,
            "geometry": [None if b is None else shapely.to_wkb(b) for b in boxes],
        }
    )


def _local(frame: pd.DataFrame) -> Any:
    import geopandas as gpd
    import shapely

    from skyscan.analytics.cluster import cluster_detections

    geoms = shapely.from_wkb(frame["geometry"].to_numpy(dtype=object))
    gdf = gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=geoms, crs="EPSG:4326")
    return cluster_detections(gdf, eps_m=EPS, min_samples=MIN_SAMPLES)


def test_halo_puts_every_pair_within_eps_in_one_cell() -> None:
    import pyarrow as pa

    rng = np.random.default_rng(0)
    lon = 4.5 + rng.uniform(0, 0.004, 400)
    lat = 51.9 + rng.uniform(0, 0.003, 400)
    batch = pa.RecordBatch.from_pydict(
        {"detection_id": [str(i) for i in range(400)], "lon": lon, "lat": lat}
    )
    rows = pa.Table.from_batches(list(assign_cells([batch], EPS, 2 * EPS))).to_pandas()
    assert rows["home"].sum() == 400 and (~rows["home"]).sum() > 50
    cells = rows.groupby("detection_id")["cell"].apply(set).to_dict()
    home = rows[rows["home"]].set_index("detection_id")
    xy = home[["x", "y"]].to_numpy()
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    for i, j in zip(*np.nonzero(d <= EPS), strict=True):
        a, b = home.index[i], home.index[j]
        assert home.loc[a, "cell"] in cells[b], (a, b, d[i, j])


def test_union_find_merges_chains() -> None:
    rep = _union_find([["c#1", "b#0"], ["b#0", "a#2"], ["x#0", "y#0"]])
    assert rep == {"a#2": "a#2", "b#0": "a#2", "c#1": "a#2", "x#0": "x#0", "y#0": "x#0"}


@pytest.mark.parametrize("cell_m", [2 * EPS, 500.0])
def test_spark_dbscan_equals_local_dbscan(local_spark: Any, cell_m: float) -> None:
    from skyscan.analytics.metric import metric_groups, project_xy
    from skyscan.engines.spark.cluster import cluster

    frame = _scene()
    local = _local(frame)
    got = cluster(
        local_spark.createDataFrame(frame), eps_m=EPS, min_samples=MIN_SAMPLES, cell_m=cell_m
    )
    spark_ids = {
        r["detection_id"]: r["cluster_id"]
        for r in got.detections.select("detection_id", "cluster_id").collect()
    }
    local_ids = dict(
        zip(local.detections["detection_id"], local.detections["cluster_id"], strict=True)
    )
    assert set(spark_ids) == set(local_ids) and len(spark_ids) == len(frame)
    # no coordinates -> null; noise is exactly the local noise
    assert (
        {k for k, v in spark_ids.items() if v is None}
        == {k for k, v in local_ids.items() if pd.isna(v)}
        != set()
    )
    assert {k for k, v in spark_ids.items() if v == -1} == {
        k for k, v in local_ids.items() if not pd.isna(v) and v == -1
    }

    # Core points (exact in DBSCAN) fall into the same groups: a bijection of labels.
    lon, lat = frame["lon"].to_numpy(), frame["lat"].to_numpy()
    x, y = np.full(len(frame), np.nan), np.full(len(frame), np.nan)
    for crs, members in metric_groups(lon, lat):
        x[members], y[members] = project_xy(lon[members], lat[members], crs)
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    same_zone = np.zeros_like(d, dtype=bool)
    for _, members in metric_groups(lon, lat):
        same_zone[np.ix_(members, members)] = True
    near = (d <= EPS) & same_zone
    core = near.sum(axis=1) >= MIN_SAMPLES
    ids = frame["detection_id"].to_numpy()
    pairs = {(int(local_ids[i]), spark_ids[i]) for i in ids[core]}
    assert len({a for a, _ in pairs}) == len({b for _, b in pairs}) == len(pairs) >= 10
    local_to_spark = dict(pairs)
    # Border points: in the cluster of some core point within eps.
    border = np.flatnonzero(~core & np.isfinite(x) & np.array([local_ids[i] != -1 for i in ids]))
    assert border.size > 0
    for i in border:
        allowed = {local_to_spark[int(local_ids[ids[j]])] for j in np.flatnonzero(near[i] & core)}
        assert spark_ids[ids[i]] in allowed
    # the zone-edge group is split at 6° E exactly as locally
    assert len(set(local_to_spark.values())) == local.clusters.shape[0]
    if cell_m == 2 * EPS:
        assert got.n_links > 0  # clusters really were stitched across cells

    # Cluster table: ids 0..k-1; clusters with the same members have the same description.
    table = got.clusters.toPandas().set_index("cluster_id").sort_index()
    assert table.index.tolist() == list(range(len(local.clusters)))
    members_spark = pd.Series(spark_ids).dropna().astype(int)
    local_members = local.detections.dropna(subset=["cluster_id"])
    same = 0
    for row in local.clusters.itertuples():
        sid = local_to_spark[row.cluster_id]
        a = set(local_members.loc[local_members["cluster_id"] == row.cluster_id, "detection_id"])
        b = set(members_spark[members_spark == sid].index)
        if a != b:
            continue
        same += 1
        t = table.loc[sid]
        assert (t["size"], t["classes"], t["metric_crs"]) == (row.size, row.classes, row.metric_crs)
        assert t["area_m2"] == pytest.approx(row.area_m2, rel=1e-9)
        assert (t["lon"], t["lat"]) == pytest.approx((row.lon, row.lat), abs=1e-12)
    assert same >= len(local.clusters) - 2


def test_cell_smaller_than_two_eps_is_refused(local_spark: Any) -> None:
    from skyscan.engines.spark.cluster import cluster

    df = local_spark.createDataFrame(_scene().head(5))
    with pytest.raises(InputError, match="'cell_m' must be at least 2 x eps_m"):
        cluster(df, eps_m=EPS, min_samples=MIN_SAMPLES, cell_m=EPS)
