"""DBSCAN clusters of detections with the distance in metres: parking lots, depots, jams.

Centre points are projected into their local metric CRS (see
:mod:`skyscan.analytics.metric`) and clustered there with scikit-learn's DBSCAN. Points
in different UTM zones are clustered separately, so a cluster never straddles a zone
edge (documented limitation; the notes say when data spans several zones).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from skyscan.analytics.frames import check_detections_crs, detection_lonlat, note, report_unplaced
from skyscan.analytics.metric import IntArray, metric_groups, project_geometries, project_xy
from skyscan.errors import InputError

if TYPE_CHECKING:
    import geopandas as gpd

logger = logging.getLogger(__name__)

NOISE = -1
CLUSTER_COLUMN = "cluster_id"


def check_cluster_options(eps_m: float, min_samples: int) -> None:
    if not (isinstance(eps_m, int | float) and np.isfinite(eps_m) and eps_m > 0):
        raise InputError(f"'eps_m' must be a distance > 0 metres (got {eps_m!r})")
    if (
        isinstance(min_samples, bool)
        or not isinstance(min_samples, int | np.integer)
        or min_samples < 1
    ):
        raise InputError(f"'min_samples' must be an integer >= 1 (got {min_samples!r})")


def dbscan_labels(
    lon: npt.ArrayLike, lat: npt.ArrayLike, *, eps_m: float, min_samples: int
) -> npt.NDArray[np.int64]:
    """DBSCAN cluster label per point (``-1``: noise or no coordinates).

    Labels are 0..k-1, numbered group by group (metric CRS order), in the order DBSCAN
    finds them, so the same input gives the same labels.

    >>> dbscan_labels([10.0, 10.0001, 10.5], [50.0, 50.0, 50.0], eps_m=20, min_samples=2).tolist()
    [0, 0, -1]
    """
    check_cluster_options(eps_m, min_samples)
    from sklearn.cluster import DBSCAN

    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    labels = np.full(lon.shape, NOISE, dtype=np.int64)
    next_label = 0
    for crs, members in metric_groups(lon, lat):
        x, y = project_xy(lon[members], lat[members], crs)
        found = (
            DBSCAN(eps=eps_m, min_samples=min_samples, algorithm="kd_tree")
            .fit(np.column_stack([x, y]))
            .labels_
        )
        found = np.asarray(found, dtype=np.int64)
        clustered = found >= 0
        labels[members[clustered]] = found[clustered] + next_label
        next_label += int(found.max()) + 1 if clustered.any() else 0
    return labels


@dataclass(frozen=True)
class ClusterResult:
    """Detections with ``cluster_id`` and one row per cluster."""

    detections: gpd.GeoDataFrame
    clusters: gpd.GeoDataFrame
    notes: tuple[str, ...]


def cluster_detections(
    detections: gpd.GeoDataFrame, *, eps_m: float, min_samples: int
) -> ClusterResult:
    """Cluster detection centres; describe each cluster.

    The cluster table has ``cluster_id``, ``size``, ``classes`` (``"car:12,truck:3"``,
    most frequent first), ``n_<class>`` counts, ``mean_score``, ``lon``/``lat`` of the
    centre, ``metric_crs``, ``area_m2`` of the hull, and the hull polygon (the convex
    hull of the members' footprints — their centre points where a footprint is
    missing) as geometry, EPSG:4326; its area is measured in the metric CRS.
    ``cluster_id`` on detections is ``-1`` for noise and null without coordinates.
    """
    check_cluster_options(eps_m, min_samples)
    notes: list[str] = []
    detections = check_detections_crs(detections, notes)
    lon, lat = detection_lonlat(detections)
    has_xy = np.isfinite(lon) & np.isfinite(lat)
    report_unplaced(~has_xy, notes, "get no cluster (cluster_id null)")
    labels = dbscan_labels(lon, lat, eps_m=eps_m, min_samples=min_samples)
    groups = metric_groups(lon, lat)
    if len(groups) > 1:
        note(
            notes,
            f"detections span {len(groups)} metric CRSs ({', '.join(g[0] for g in groups)}); "
            "clusters do not cross their edges",
            logging.WARNING,
        )
    out = detections.copy()
    out[CLUSTER_COLUMN] = pd.array(np.where(has_xy, labels, 0), dtype="Int64")
    out.loc[~has_xy, CLUSTER_COLUMN] = pd.NA
    clusters = cluster_table(detections, labels, groups)
    noise = int(np.count_nonzero(has_xy & (labels == NOISE)))
    note(
        notes,
        f"cluster (eps {eps_m} m, min_samples {min_samples}): {len(clusters)} cluster(s), "
        f"{int(np.count_nonzero(labels >= 0))} clustered, {noise} noise",
    )
    return ClusterResult(out, clusters, tuple(notes))


def cluster_table(
    detections: gpd.GeoDataFrame, labels: npt.NDArray[np.int64], groups: list[tuple[str, IntArray]]
) -> gpd.GeoDataFrame:
    """One row per label >= 0 (see :func:`cluster_detections`); ``groups`` from ``metric_groups``.
    Any subset of whole clusters can be described on its own (the Spark engine does so)."""
    import geopandas as gpd

    ids = np.unique(labels[labels >= 0])
    columns = [
        CLUSTER_COLUMN,
        "size",
        "classes",
        "mean_score",
        "lon",
        "lat",
        "metric_crs",
        "area_m2",
    ]
    if ids.size == 0:
        return gpd.GeoDataFrame(pd.DataFrame(columns=columns), geometry=[], crs="EPSG:4326")
    footprints = np.asarray(detections.geometry.values, dtype=object)
    classes = (
        detections["class_name"].astype(str).to_numpy()
        if "class_name" in detections.columns
        else np.full(len(detections), "object")
    )
    scores = (
        detections["score"].to_numpy(np.float64)
        if "score" in detections.columns
        else np.full(len(detections), np.nan)
    )
    lon, lat = detection_lonlat(detections)
    hulls = np.full(ids.size, None, dtype=object)
    areas = np.full(ids.size, np.nan)
    crs_of = np.full(ids.size, "", dtype=object)
    for crs, members in groups:
        members = members[labels[members] >= 0]
        if members.size == 0:
            continue
        h, a, cluster_ids = _hulls(
            footprints[members], lon[members], lat[members], labels[members], crs
        )
        pos = np.searchsorted(ids, cluster_ids)
        hulls[pos], areas[pos], crs_of[pos] = h, a, crs
    in_cluster = labels >= 0
    frame = pd.DataFrame(
        {
            CLUSTER_COLUMN: labels[in_cluster],
            "class_name": classes[in_cluster],
            "score": scores[in_cluster],
            "lon": lon[in_cluster],
            "lat": lat[in_cluster],
        }
    )
    grouped = frame.groupby(CLUSTER_COLUMN, sort=True)
    per_class = (
        frame.groupby([CLUSTER_COLUMN, "class_name"]).size().unstack(fill_value=0).astype(np.int64)
    )
    per_class = per_class.reindex(columns=sorted(per_class.columns))
    table = pd.DataFrame(
        {
            CLUSTER_COLUMN: ids,
            "size": grouped.size().to_numpy(np.int64),
            "classes": [
                ",".join(
                    f"{k}:{v}" for k, v in sorted(row.items(), key=lambda kv: (-kv[1], kv[0])) if v
                )
                for row in per_class.to_dict("records")
            ],
            "mean_score": grouped["score"].mean().to_numpy(np.float64).round(6),
            "lon": grouped["lon"].mean().to_numpy(),
            "lat": grouped["lat"].mean().to_numpy(),
            "metric_crs": crs_of,
            "area_m2": areas,
        }
    )
    for name in per_class.columns:
        table[f"n_{name}"] = per_class[name].to_numpy()
    return gpd.GeoDataFrame(table, geometry=hulls, crs="EPSG:4326")


def _hulls(
    footprints: npt.NDArray[np.object_],
    lon: npt.NDArray[np.float64],
    lat: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    crs: str,
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Convex hull per label of the footprints' vertices (centres where missing), in
    EPSG:4326 (so it covers every member exactly), and its area in m² in ``crs``."""
    missing = shapely.is_missing(footprints) | shapely.is_empty(footprints)
    shapes = footprints.copy()
    shapes[missing] = shapely.points(lon[missing], lat[missing])
    coords, owner = shapely.get_coordinates(shapes, return_index=True)
    point_labels = labels[owner]
    order = np.argsort(point_labels, kind="stable")
    cluster_ids, first = np.unique(point_labels[order], return_index=True)
    # One MultiPoint per label (indices must be sorted), then one vectorized hull.
    index = np.repeat(np.arange(cluster_ids.size), np.diff(np.append(first, order.size)))
    hulls = shapely.convex_hull(shapely.multipoints(coords[order], indices=index))
    return hulls, shapely.area(project_geometries(hulls, crs)), cluster_ids
