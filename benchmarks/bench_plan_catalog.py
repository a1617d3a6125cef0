"""``skyscan plan`` over a synthetic country-scale STAC catalog (stac-geoparquet).

The catalog is what a national orthophoto programme publishes: N items on a 1 km grid
in UTM 32N (EPSG:25832), each a 5,000 x 5,000 px cloud-optimized GeoTIFF at 0.2 m in
object storage (``s3://`` hrefs that do not exist here), with the projection extension
(``proj:code``, ``proj:shape``, ``proj:transform``) and ``file:size``, as such catalogs
carry them. The plan must come from the catalog alone: no image is opened.

Measured in fresh processes (``python -m skyscan plan --stac FILE --json``, its output
to a file): the wall time and the peak resident memory (``ru_maxrss`` of the child) for
N items and for N / 10, so that the growth of memory with the items shows.

    python benchmarks/bench_plan_catalog.py --items 100000 --out plan_catalog.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work" / "plan_catalog"
RESULTS = ROOT / "benchmarks" / "results"
TILE_M = 1000.0
GSD_M = 0.2
CRS = "EPSG:25832"
X0, Y0 = 280_000.0, 6_100_000.0  # the north-west corner of the grid (Schleswig-Holstein)
PROJ_EXT = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
FILE_EXT = "https://stac-extensions.github.io/file/v2.1.0/schema.json"


def catalog(n: int) -> Path:
    """A stac-geoparquet file of ``n`` items (written once, then reused)."""
    from pyproj import Transformer
    from stac_geoparquet.arrow import parse_stac_items_to_arrow, to_parquet

    out = WORK / f"catalog_{n}.parquet"
    if out.exists():
        return out
    WORK.mkdir(parents=True, exist_ok=True)
    cols = int(np.ceil(np.sqrt(n)))
    i = np.arange(n)
    x = X0 + (i % cols) * TILE_M
    y = Y0 - (i // cols) * TILE_M
    to_lonlat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    lon0, lat0 = to_lonlat.transform(x, y)
    lon1, lat1 = to_lonlat.transform(x + TILE_M, y - TILE_M)
    px = int(TILE_M / GSD_M)
    rng = np.random.default_rng(0)
    sizes = rng.integers(40_000_000, 60_000_000, n)  # JPEG-in-COG tiles of 25 MP
    items: list[dict[str, Any]] = []
    for k in range(n):
        west, east = float(min(lon0[k], lon1[k])), float(max(lon0[k], lon1[k]))
        south, north = float(min(lat0[k], lat1[k])), float(max(lat0[k], lat1[k]))
        name = f"dop20_32_{int(x[k]) // 1000}_{int(y[k]) // 1000}"
        items.append(
            {
                "type": "Feature",
                "stac_version": "1.1.0",
                "stac_extensions": [PROJ_EXT, FILE_EXT],
                "id": name,
                "collection": "dop20",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[west, south], [east, south], [east, north], [west, north], [west, south]]
                    ],
                },
                "bbox": [west, south, east, north],
                "properties": {
                    "datetime": f"2025-0{4 + k % 5}-1{k % 10}T10:00:00Z",
                    "gsd": GSD_M,
                    "proj:code": CRS,
                    "proj:shape": [px, px],
                    "proj:transform": [GSD_M, 0.0, float(x[k]), 0.0, -GSD_M, float(y[k])],
                },
                "assets": {
                    "image": {
                        "href": f"s3://dop20/tiles/{name}.tif",
                        "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                        "roles": ["data"],
                        "file:size": int(sizes[k]),
                    }
                },
                "links": [],
            }
        )
    to_parquet(parse_stac_items_to_arrow(items), out)
    return out


def run_plan(path: Path, n: int) -> dict[str, Any]:
    """One fresh ``skyscan plan`` over the catalog: wall time, peak memory, totals."""
    lines = WORK / f"plan_{n}.jsonl"
    cmd = [sys.executable, "-m", "skyscan", "plan", "--stac", str(path), "--json"]
    t0 = time.perf_counter()
    with lines.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        stderr = proc.stderr.read() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"skyscan plan exited {code}: {stderr[-2000:]}")
    last = lines.read_text().rstrip().rsplit("\n", 1)[-1]
    totals = json.loads(last)["totals"]
    return {
        "items": n,
        "images_planned": totals["images"],
        "chips": totals["chips"],
        "megapixels": round(totals["megapixels"], 1),
        "file_gib": round(totals["file_bytes"] / 2**30, 1),
        "estimated_h": round(totals["estimated_s"] / 3600, 1),
        "wall_s": round(wall, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # Linux: KiB
        "ms_per_item": round(1000 * wall / n, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument(
        "--out", default="plan_catalog.json", help="file name in benchmarks/results"
    )
    args = parser.parse_args()
    sizes = [max(1, args.items // 10), args.items]
    runs = [run_plan(catalog(n), n) for n in sizes]
    result = {
        "command": f"python benchmarks/bench_plan_catalog.py --items {args.items} --out {args.out}",
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "catalog": f"stac-geoparquet, 1 km tiles of {int(TILE_M / GSD_M)} px at {GSD_M} m, {CRS}, "
        "proj:code/shape/transform and file:size declared",
        "runs": runs,
        "rss_growth_mib_per_10k_items": round(
            (runs[1]["peak_rss_mib"] - runs[0]["peak_rss_mib"])
            / max(1, (sizes[1] - sizes[0]) / 10_000),
            1,
        ),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
