"""Benchmarks for skyscan.analytics: spatial join vs geopandas.sjoin, H3 counting.

Run from the repository root (on a shared machine, niced)::

    nice -n 15 python benchmarks/bench_analytics.py [--points 1000000] [--zones 10000] [--repeats 3]

Prints a small table and writes ``benchmarks/results/analytics.json``.

* join: 1,000,000 detection centres against 10,000 zone polygons (Voronoi cells of random
  seeds over ~50 km × 55 km around Zurich: districts that tile the area, 5-20 vertices
  each), predicate ``intersects``. Two comparisons, each against ``geopandas.sjoin`` on
  the same data, timed best-of-``repeats``, interleaved so load changes hit both sides:
  - array: ``join_points_to_zones(lon, lat, zones)`` (the core an engine runs per
    partition) vs ``sjoin`` of a points GeoDataFrame with a zones GeoDataFrame;
  - table: ``spatial_join(detections, zones)`` (GeoDataFrame in, GeoDataFrame with zone
    attributes out) vs ``sjoin`` of the same two GeoDataFrames.
  The (detection, zone) pairs of both sides are compared; the run fails if they differ.
* H3: ``h3_cells`` at resolution 9 for 1,000,000 points, then counts per cell
  (``np.unique``); points per second. The fallback without h3ronpy (``h3`` one point at
  a time) is timed on the same points for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "analytics.json"
BBOX = (8.30, 47.20, 8.95, 47.70)  # lon/lat box around Zurich


def make_zones(n: int, rng: np.random.Generator) -> np.ndarray:
    import shapely

    x0, y0, x1, y1 = BBOX
    seeds = shapely.multipoints(np.column_stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)]))
    frame = shapely.box(x0, y0, x1, y1)
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=frame))
    return shapely.intersection(cells, frame)  # type: ignore[no-any-return]


def make_points(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x0, y0, x1, y1 = BBOX
    pad = 0.02  # a few points fall outside every zone
    return rng.uniform(x0 - pad, x1 + pad, n), rng.uniform(y0 - pad, y1 + pad, n)


def best_of(
    repeats: int, funcs: dict[str, Callable[[], Any]]
) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Run each function ``repeats`` times, interleaved; keep all timings and last outputs."""
    times: dict[str, list[float]] = {k: [] for k in funcs}
    outputs: dict[str, Any] = {}
    for _ in range(repeats):
        for name, func in funcs.items():
            t0 = time.perf_counter()
            outputs[name] = func()
            times[name].append(time.perf_counter() - t0)
    return times, outputs


def pairs_of_sjoin(joined: Any) -> np.ndarray:
    pairs = np.column_stack(
        [joined.index.to_numpy(np.int64), joined["index_right"].to_numpy(np.int64)]
    )
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def bench_join(n_points: int, n_zones: int, repeats: int) -> dict[str, Any]:
    import geopandas as gpd
    import pandas as pd
    import shapely

    from skyscan.analytics.areas import prepare_areas
    from skyscan.analytics.join import join_points_to_zones, spatial_join

    rng = np.random.default_rng(42)
    zones = make_zones(n_zones, rng)
    lon, lat = make_points(n_points, rng)
    points = shapely.points(lon, lat)
    zone_frame = gpd.GeoDataFrame({"zone": np.arange(n_zones)}, geometry=zones, crs="EPSG:4326")
    areas = prepare_areas(zone_frame, source="zones")  # validity checked once, outside the timing
    detections = gpd.GeoDataFrame(
        {
            "detection_id": pd.array([f"d{i}" for i in range(n_points)], dtype=object),
            "class_name": np.where(rng.random(n_points) < 0.8, "car", "truck"),
            "score": rng.random(n_points).astype(np.float32),
            "lon": lon,
            "lat": lat,
        },
        geometry=points,
        crs="EPSG:4326",
    )
    point_frame = gpd.GeoDataFrame(geometry=points, crs="EPSG:4326")

    # sjoin caches a spatial index on the right frame: give it a fresh copy every run.
    def sjoin_points() -> Any:
        return gpd.sjoin(point_frame, zone_frame.copy(), predicate="intersects")

    def sjoin_table() -> Any:
        return gpd.sjoin(detections, zone_frame.copy(), predicate="intersects")

    array_times, out = best_of(
        repeats,
        {
            "skyscan_array": lambda: join_points_to_zones(lon, lat, zones, "intersects"),
            "sjoin": sjoin_points,
        },
    )
    ours = np.column_stack(out["skyscan_array"])
    theirs = pairs_of_sjoin(out["sjoin"])
    array_same = bool(ours.shape == theirs.shape and np.array_equal(ours, theirs))

    table_times, out = best_of(
        repeats,
        {
            "skyscan_table": lambda: (
                spatial_join(detections, areas, using="centroid", how="inner").table
            ),
            "sjoin": sjoin_table,
        },
    )
    ours_t = out["skyscan_table"]
    theirs_t = out["sjoin"]
    ours_pairs = np.column_stack(
        [ours_t["detection_id"].str[1:].astype(np.int64), ours_t["zone_zone"].to_numpy(np.int64)]
    )
    ours_pairs = ours_pairs[np.lexsort((ours_pairs[:, 1], ours_pairs[:, 0]))]
    theirs_pairs = np.column_stack(
        [theirs_t["detection_id"].str[1:].astype(np.int64), theirs_t["zone"].to_numpy(np.int64)]
    )
    theirs_pairs = theirs_pairs[np.lexsort((theirs_pairs[:, 1], theirs_pairs[:, 0]))]
    table_same = bool(
        ours_pairs.shape == theirs_pairs.shape and np.array_equal(ours_pairs, theirs_pairs)
    )
    same_attrs = bool(
        len(ours_t) == len(theirs_t)
        and np.array_equal(
            np.sort(ours_t["score"].to_numpy()), np.sort(theirs_t["score"].to_numpy())
        )
    )

    def summary(times: dict[str, list[float]], ours_key: str, same: bool) -> dict[str, Any]:
        best_ours, best_sjoin = min(times[ours_key]), min(times["sjoin"])
        return {
            "skyscan_s": round(best_ours, 3),
            "sjoin_s": round(best_sjoin, 3),
            "ratio": round(best_ours / best_sjoin, 3),
            "target_ratio_le_1": best_ours <= best_sjoin,
            "all_runs_s": {k: [round(t, 3) for t in v] for k, v in times.items()},
            "identical_result": same,
        }

    return {
        "points": n_points,
        "zones": n_zones,
        "pairs": len(theirs),
        "zone_vertices_mean": float(shapely.get_num_coordinates(zones).mean()),
        "array": summary(array_times, "skyscan_array", array_same),
        "table": summary(table_times, "skyscan_table", table_same and same_attrs),
    }


def bench_h3(n_points: int, repeats: int, res: int = 9) -> dict[str, Any]:
    from skyscan.analytics import h3cells

    rng = np.random.default_rng(7)
    lon, lat = make_points(n_points, rng)

    def count() -> tuple[np.ndarray, np.ndarray]:
        cells = h3cells.h3_cells(lon=lon, lat=lat, res=res)
        return np.unique(cells, return_counts=True)  # type: ignore[no-any-return]

    times, out = best_of(repeats, {"vectorized": count})
    uniq, counts = out["vectorized"]
    t0 = time.perf_counter()
    loop_cells = h3cells._latlng_to_cells_loop(lat, lon, res)
    loop_s = time.perf_counter() - t0
    same = bool(np.array_equal(np.unique(loop_cells, return_counts=True)[1], counts))
    best = min(times["vectorized"])
    try:
        import h3ronpy

        backend = f"h3ronpy {h3ronpy.__version__}"
    except ImportError:
        backend = "h3 (per-point loop)"
    return {
        "points": n_points,
        "res": res,
        "cells": len(uniq),
        "backend": backend,
        "seconds": round(best, 3),
        "points_per_s": round(n_points / best),
        "all_runs_s": [round(t, 3) for t in times["vectorized"]],
        "fallback_loop_s": round(loop_s, 3),
        "fallback_points_per_s": round(n_points / loop_s),
        "identical_to_fallback": same,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--zones", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    import geopandas
    import shapely

    join = bench_join(args.points, args.zones, args.repeats)
    h3 = bench_h3(args.points, args.repeats)
    result = {
        "benchmark": "analytics",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        },
        "versions": {
            "shapely": shapely.__version__,
            "geos": shapely.geos_version_string,
            "geopandas": geopandas.__version__,
        },
        "join": join,
        "h3": h3,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")

    rows = [
        (
            "join array vs sjoin",
            f"{join['array']['skyscan_s']:.3f} s",
            f"{join['array']['sjoin_s']:.3f} s",
            f"{join['array']['ratio']:.2f}",
            str(join["array"]["identical_result"]),
        ),
        (
            "join table vs sjoin",
            f"{join['table']['skyscan_s']:.3f} s",
            f"{join['table']['sjoin_s']:.3f} s",
            f"{join['table']['ratio']:.2f}",
            str(join["table"]["identical_result"]),
        ),
    ]
    print(
        f"join: {join['points']:,} points x {join['zones']:,} zones, {join['pairs']:,} pairs (best of {args.repeats})"
    )
    print(f"{'case':<22}{'skyscan':>10}{'sjoin':>10}{'ratio':>8}{'identical':>11}")
    for row in rows:
        print(f"{row[0]:<22}{row[1]:>10}{row[2]:>10}{row[3]:>8}{row[4]:>11}")
    print(
        f"h3 res {h3['res']}: {h3['points']:,} points -> {h3['cells']:,} cells in {h3['seconds']:.3f} s "
        f"= {h3['points_per_s']:,} points/s ({h3['backend']}); per-point loop fallback "
        f"{h3['fallback_points_per_s']:,} points/s; identical: {h3['identical_to_fallback']}"
    )
    print(f"wrote {args.output}")
    ok = (
        join["array"]["identical_result"]
        and join["table"]["identical_result"]
        and h3["identical_to_fallback"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
