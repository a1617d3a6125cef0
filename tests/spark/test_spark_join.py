"""The Spark spatial join against the local one: dwithin, left joins, contains, argument errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import shapely
from spark_helpers import zones_from

from skyscan.errors import InputError
from skyscan.schema import DETECTION_COLUMNS

pytestmark = pytest.mark.spark

ZONE_COLS = ("zone_index", "zone_name", "zone_weight")

# ------------------------------------------------------------------ zones (fixtures: conftest.py)


def _none(v: Any) -> Any:
    import pandas as pd

    return None if v is None or pd.isna(v) else v


def _local_rows(table: Any) -> list[tuple[Any, ...]]:
    """(detection_id, zone_index, zone_name, zone_weight), nulls as None, sorted."""
    rows = []
    for det, zi, name, weight in zip(
        table["detection_id"], *(table[c] for c in ZONE_COLS), strict=True
    ):
        zi, name, weight = _none(zi), _none(name), _none(weight)
        rows.append(
            (det, None if zi is None else int(zi), name, None if weight is None else int(weight))
        )
    return sorted(rows, key=repr)


def _spark_rows(df: Any) -> list[tuple[Any, ...]]:
    return sorted(((r["detection_id"], *(r[c] for c in ZONE_COLS)) for r in df.collect()), key=repr)


# ------------------------------------------------------------------------ dwithin


def test_grown_zone_cells_cover_every_point_the_exact_dwithin_keeps() -> None:
    """Without Spark: the candidate cells are a superset of the local dwithin pairs."""
    from skyscan.analytics.h3cells import h3_cells
    from skyscan.analytics.join import join_points_to_zones
    from skyscan.engines.spark.analytics import zone_cells

    rng = np.random.default_rng(3)
    checked = 0
    for lon0, lat0 in (
        (4.4, 51.9),
        (2.999, 0.01),
        (-70.6, -33.4),
        (23.0, 70.0),
        (179.9, 60.0),
        (10.0, 84.9),
    ):
        zones = np.array(
            [
                shapely.box(lon0, lat0, lon0 + 0.002, lat0 + 0.001),
                shapely.Point(lon0 - 0.003, lat0),
                shapely.LineString([(lon0, lat0 - 0.003), (lon0 + 0.004, lat0 - 0.002)]),
            ],
            dtype=object,
        )
        for distance, res in ((0.0, 12), (25.0, 12), (200.0, 11), (3000.0, 9)):
            span = 0.006 + 1.5 * distance / (
                111_000 * math.cos(math.radians(min(abs(lat0) + 0.05, 89)))
            )
            lon = np.clip(lon0 + rng.uniform(-span, span, 4000), -180, 180)
            lat = lat0 + rng.uniform(
                -0.006 - 1.5 * distance / 110_000, 0.006 + 1.5 * distance / 110_000, 4000
            )
            pi, zi = join_points_to_zones(lon, lat, zones, "dwithin", distance)
            z_idx, z_cells = zone_cells(list(shapely.to_wkb(zones)), res, grow_m=distance)
            covered = set(zip(z_idx.tolist(), z_cells.tolist(), strict=True))
            cells = h3_cells(lon=lon, lat=lat, res=res).astype(np.int64)
            missed = [
                (int(p), int(z))
                for p, z in zip(pi, zi, strict=True)
                if (int(z), int(cells[p])) not in covered
            ]
            assert 0 < pi.size < 3 * lon.size, (lon0, lat0, distance)  # some pairs, not all of them
            assert missed == [], (lon0, lat0, distance, missed[:5])
            checked += pi.size
    assert checked > 1000


@pytest.mark.parametrize("using", ["centroid", "footprint"])
def test_dwithin_gives_the_local_rows(spark_detections: Any, local_frame: Any, using: str) -> None:
    from skyscan.analytics.join import spatial_join as local_join
    from skyscan.spark import spatial_join

    zones = zones_from(local_frame, point_and_line=True)
    plain = {d for d, *_ in _local_rows(local_join(local_frame, zones, using=using).table)}
    found: dict[float, list[tuple[Any, ...]]] = {}
    # Two distances, each at one resolution (two per `using`): fewer Spark jobs on a shared machine.
    resolutions = {25.0: 10, 200.0: 7} if using == "centroid" else {25.0: 8, 200.0: 11}
    for distance, res in resolutions.items():
        expected = _local_rows(
            local_join(
                local_frame, zones, using=using, predicate="dwithin", distance_m=distance
            ).table
        )
        found[distance] = expected
        # More than plain intersection: the grown cover is what finds these.
        assert {d for d, *_ in expected} - plain, distance
        assert len({z for _, z, _, _ in expected}) == 5, distance  # every zone, point and line too
        got = spatial_join(
            spark_detections,
            zones,
            using=using,
            predicate="dwithin",
            distance_m=distance,
            h3_res=res,
        )
        assert got.columns[: len(DETECTION_COLUMNS)] == DETECTION_COLUMNS
        assert _spark_rows(got) == expected, (using, distance, res)
    assert len(found[25.0]) < len(found[200.0])  # the distance matters
    placed = int(local_frame["georeferenced"].sum())
    assert (
        len({d for d, *_ in found[25.0]}) < placed
    )  # some placed detections are farther than 25 m


# --------------------------------------------------------------------- left joins


@pytest.mark.parametrize(
    ("using", "predicate", "distance"),
    [
        ("centroid", "dwithin", 25.0),
        ("footprint", "intersects", None),
        ("footprint", "within", None),
    ],
)
def test_left_join_gives_the_local_rows_with_nulls_for_the_unmatched(
    spark_detections: Any, local_frame: Any, using: str, predicate: str, distance: float | None
) -> None:
    from skyscan.analytics.join import spatial_join as local_join
    from skyscan.spark import spatial_join

    zones = zones_from(local_frame, point_and_line=True)
    local = local_join(
        local_frame, zones, using=using, predicate=predicate, distance_m=distance, how="left"
    )
    expected = _local_rows(local.table)
    unmatched = [r for r in expected if r[1] is None]
    assert (
        local.matched > 0 and local.unmatched > 0 and local.unplaced > 0
    )  # PNG detections have no coordinates
    assert len(unmatched) == local.unmatched + local.unplaced
    if predicate != "within":
        assert len(expected) > len(local_frame)  # overlapping zones: some detections on two rows
    got = spatial_join(
        spark_detections,
        zones,
        using=using,
        predicate=predicate,
        distance_m=distance,
        how="left",
        h3_res=9,
    )
    assert got.columns == [*spark_detections.columns, "zone_name", "zone_weight", "zone_index"]
    assert got.count() == len(local.table)
    assert _spark_rows(got) == expected, (using, predicate)


# ----------------------------------------------------------- contains, errors


def test_contains_with_centres_matches_point_zones(spark_detections: Any, local_frame: Any) -> None:
    """A centre contains a zone only if the zone is that very point: the local semantics."""
    import geopandas as gpd

    from skyscan.analytics.join import spatial_join as local_join
    from skyscan.spark import spatial_join

    geo = local_frame[local_frame["georeferenced"]].sort_values("detection_id").iloc[::5]
    points = [shapely.Point(x, y) for x, y in zip(geo["lon"], geo["lat"], strict=True)]
    zones = gpd.GeoDataFrame(
        {
            "name": [f"p{i}" for i in range(len(points))] + ["box"],
            "weight": list(range(len(points) + 1)),
        },
        geometry=[*points, zones_from(local_frame, point_and_line=True).geometry.iloc[0]],
        crs="EPSG:4326",
    )
    expected = _local_rows(local_join(local_frame, zones, predicate="contains").table)
    assert len(expected) >= len(points) > 3 and "box" not in {r[2] for r in expected}
    got = spatial_join(spark_detections, zones, predicate="contains", h3_res=9)
    assert _spark_rows(got) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"how": "outer"}, "'how' must be one of ('inner', 'left') (got 'outer')"),
        ({"predicate": "dwithin"}, "needs 'distance_m'"),
        ({"predicate": "dwithin", "distance_m": -1.0}, "needs 'distance_m'"),
        ({"distance_m": 10.0}, "only applies to predicate 'dwithin'"),
        ({"predicate": "touches"}, "'predicate' must be one of"),
    ],
)
def test_bad_arguments_raise_the_local_errors(
    spark_detections: Any, local_frame: Any, kwargs: dict[str, Any], message: str
) -> None:
    from skyscan.analytics.join import spatial_join as local_join
    from skyscan.spark import spatial_join

    zones = zones_from(local_frame, point_and_line=True)
    with pytest.raises(InputError) as local_err:
        local_join(local_frame, zones, **kwargs)
    with pytest.raises(InputError) as spark_err:
        spatial_join(spark_detections, zones, **kwargs)
    assert message in str(local_err.value)
    assert str(spark_err.value) == str(local_err.value)
