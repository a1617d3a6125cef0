"""Comparisons shared by the spark tests: same rows as the local engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from skyscan.detectors import DetectorRecipe
from skyscan.pipeline import DetectOptions

CHIPS_PER_UNIT = 8  # small units, so the big blob scene spreads over several tasks
FLOAT_TOL = 1e-9  # degrees for lon/lat; the same tolerance for every float column


def blob_options(model: Path, **kw: Any) -> DetectOptions:
    return DetectOptions(recipe=DetectorRecipe(model=str(model)), **kw)


def run_local(paths: list[str], options: DetectOptions, outdir: Path) -> tuple[pa.Table, pa.Table]:
    """The local engine's detections and errors for ``paths``."""
    from skyscan.options import RunSettings
    from skyscan.run import run_detect

    run_detect(paths, outdir, options, RunSettings(engine="local", geojson=False))
    return pq.read_table(outdir / "detections.parquet"), pq.read_table(outdir / "errors.parquet")


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([("image_id", "ascending"), ("detection_id", "ascending")])


def assert_same_detections(
    spark_rows: pa.Table, local_rows: pa.Table, ignore: tuple[str, ...] = ("run_id",)
) -> None:
    """Same columns, same rows (by detection id), coordinates equal to 1e-9."""
    assert spark_rows.column_names == local_rows.column_names
    assert spark_rows.num_rows == local_rows.num_rows
    a, b = _sorted(spark_rows), _sorted(local_rows)
    for name in a.column_names:
        if name in ignore:
            continue
        x, y = a.column(name).to_pylist(), b.column(name).to_pylist()
        if name in ("geometry", "centroid"):
            ga = shapely.from_wkb(np.array(x, dtype=object))
            gb = shapely.from_wkb(np.array(y, dtype=object))
            assert bool(np.all(shapely.is_missing(ga) == shapely.is_missing(gb))), name
            both = ~shapely.is_missing(ga)
            assert bool(np.all(shapely.equals_exact(ga[both], gb[both], tolerance=FLOAT_TOL))), name
        elif pa.types.is_floating(a.schema.field(name).type):
            xa = np.array([np.nan if v is None else v for v in x], float)
            ya = np.array([np.nan if v is None else v for v in y], float)
            np.testing.assert_allclose(xa, ya, rtol=0, atol=FLOAT_TOL, err_msg=name)
        else:
            assert x == y, name


def error_keys(errors: pa.Table) -> list[tuple[Any, ...]]:
    rows = errors.select(["path", "stage", "error_type"]).to_pylist()
    return sorted((r["path"], r["stage"], r["error_type"]) for r in rows)


def zones_from(frame: Any, *, point_and_line: bool = False) -> Any:
    """Zones cut from local detections' own extent: two overlapping boxes in Rotterdam, one
    in Zurich, and optionally a point and a line zone (names and weights as attributes)."""
    import geopandas as gpd

    geo = frame[frame["georeferenced"]]
    rdam = geo[geo["src_crs"] == "EPSG:32631"]
    zurich = geo[geo["src_crs"] == "EPSG:2056"]
    lo, hi = rdam["lon"].quantile([0.1, 0.6]), rdam["lat"].quantile([0.1, 0.6])
    lo2, hi2 = rdam["lon"].quantile([0.4, 0.95]), rdam["lat"].quantile([0.3, 0.9])
    zl, zh = zurich["lon"].quantile([0.0, 0.7]), zurich["lat"].quantile([0.0, 0.7])
    names, geoms = (
        ["west", "east", "zurich"],
        [
            shapely.box(lo[0.1], hi[0.1], lo[0.6], hi[0.6]),
            shapely.box(lo2[0.4], hi2[0.3], lo2[0.95], hi2[0.9]),
            shapely.box(zl[0.0] - 1e-6, zh[0.0] - 1e-6, zl[0.7], zh[0.7]),
        ],
    )
    if point_and_line:
        q = rdam["lon"].quantile([0.05, 0.3, 0.5]), rdam["lat"].quantile([0.5, 0.95])
        names += ["dot", "line"]
        geoms += [
            shapely.Point(q[0][0.5], q[1][0.5]),
            shapely.LineString([(q[0][0.05], q[1][0.95]), (q[0][0.3], q[1][0.95])]),
        ]
    return gpd.GeoDataFrame(
        {"name": names, "weight": list(range(1, len(names) + 1))}, geometry=geoms, crs="EPSG:4326"
    )
