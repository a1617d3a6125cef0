"""Remote input: a COG over loopback HTTP against the same file on local disk.

    python benchmarks/bench_remote.py [--size 6000] [--latency 0.02] [--rounds 3]

1. throughput: fresh ``skyscan detect`` commands on a generated cloud-optimized GeoTIFF
   (512 px deflate tiles, at the model's GSD), read from local disk and from a loopback
   HTTP server that honours Range requests and adds ``--latency`` seconds to every
   request (tests/remote_servers.py), alternated for ``--rounds`` rounds; the ratio of
   the remote run's throughput to the local run's, from each run's own job time
   (``run_total`` in run.json) and from the command's wall time;
2. bytes: what the server sent during a remote run against the bytes of the tiles the
   run's chips touch (each tile counted once; the header and sidecar probes are extra);
3. ``--aoi``: with ``--aoi-fraction F``, a run with an area of interest covering F of the
   scene (a centred square) against the full scene (local disk), time ratio (``--aoi-only``
   runs only this; ``--out`` names the results file);
4. ``--plan-items N``: ``skyscan plan`` over a folder of N small generated GeoTIFFs (headers
   only): wall time and peak memory against N/10 of them, to show memory per item.

Writes benchmarks/results/remote.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import rasterio
import rasterio.shutil

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work"
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from bench_detect import make_scene  # noqa: E402

from remote_servers import RangeServer  # noqa: E402

GSD = 0.25  # the shipped model's GSD: chips are read without resampling


def make_cog(size: int) -> Path:
    """The benchmark scene as a COG (512 px deflate tiles), made once."""
    cog = WORK / "remote" / f"scene_{size}.tif"
    if cog.exists():
        return cog
    cog.parent.mkdir(parents=True, exist_ok=True)
    src = make_scene(WORK / f"remote_src_{size}.tif", size, GSD)
    rasterio.shutil.copy(
        src, cog, driver="COG", BLOCKSIZE=512, COMPRESS="DEFLATE", OVERVIEWS="NONE", BIGTIFF="YES"
    )
    src.unlink()
    return cog


def detect(
    inputs: list[str], out: Path, extra: list[str] | None = None, python: str = sys.executable
) -> dict[str, float]:
    """One fresh ``skyscan detect`` command: wall time, job time (run.json), detections.
    ``python``: its interpreter, e.g. the product's runtime install, which lacks the dev
    tools' boto3 that rasterio imports at start when it is installed."""
    cmd = [
        python,
        "-m",
        "skyscan",
        "-q",
        "detect",
        *inputs,
        "-o",
        str(out),
        "--overwrite",
        "--no-geojson",
        *(extra or []),
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"skyscan detect failed ({proc.returncode}): {proc.stderr[-2000:]}")
    manifest = json.loads((out / "run.json").read_text())
    return {
        "wall_s": wall,
        "job_s": float(manifest["timings_s"]["run_total"]),
        "detections": int(manifest["counts"]["detections"]),
    }


def touched_tile_bytes(path: Path, aoi: Path | None = None) -> tuple[int, int, int]:
    """Bytes of the distinct tiles the run's chips touch, their count, and all tiles' count."""
    from skyscan.detectors import DetectorRecipe, recipe_card
    from skyscan.geo.aoi import load_aoi
    from skyscan.io.reader import open_image
    from skyscan.pipeline import DetectOptions, plan_units

    options = DetectOptions(recipe=DetectorRecipe(), aoi=load_aoi(aoi) if aoi else None)
    ref = open_image(str(path))
    units = plan_units(ref, recipe_card(options.recipe), options)
    with rasterio.open(path) as ds:
        bh, bw = ds.block_shapes[0]
        tiles: set[tuple[int, int]] = set()
        for unit in units:
            for w in unit.windows:
                c0, r0 = max(0, w.col_off), max(0, w.row_off)
                c1 = min(ds.width, w.col_off + w.width) - 1
                r1 = min(ds.height, w.row_off + w.height) - 1
                for r in range(r0 // bh, r1 // bh + 1):
                    for c in range(c0 // bw, c1 // bw + 1):
                        tiles.add((r, c))
        size = sum(int(ds.get_tag_item(f"BLOCK_SIZE_{c}_{r}", "TIFF", bidx=1)) for r, c in tiles)
        total = ((ds.height + bh - 1) // bh) * ((ds.width + bw - 1) // bw)
    return size, len(tiles), total


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--size", type=int, default=6000, help="scene side in pixels")
    ap.add_argument("--latency", type=float, default=0.02, help="seconds added to each request")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--aoi-fraction", type=float, default=0.0, help="also time --aoi over this fraction"
    )
    ap.add_argument(
        "--aoi-size", type=int, default=0, help="scene side of the --aoi run (default --size)"
    )
    ap.add_argument("--aoi-only", action="store_true", help="only the --aoi runs")
    ap.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter for the skyscan commands, e.g. .venv of scripts/setup.sh --demo "
        "(this checkout's src/ is put first on its path)",
    )
    ap.add_argument(
        "--plan-items", type=int, default=0, help="only skyscan plan over this many small images"
    )
    ap.add_argument("--out", default="remote.json", help="file name under benchmarks/results")
    args = ap.parse_args()
    if args.plan_items:
        out = bench_plan(args.plan_items)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / args.out).write_text(json.dumps(out, indent=2) + "\n")
        print(json.dumps(out, indent=2))
        return
    if args.aoi_only:
        aoi = bench_aoi(
            args.aoi_size or args.size, args.aoi_fraction or 0.1, args.rounds, args.python
        )
        aoi["command"] = "python benchmarks/bench_remote.py " + " ".join(sys.argv[1:])
        aoi["python"] = args.python
        aoi["boto3_importable"] = (
            subprocess.run([args.python, "-c", "import boto3"], capture_output=True).returncode == 0
        )
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / args.out).write_text(json.dumps(aoi, indent=2) + "\n")
        print(json.dumps({k: v for k, v in aoi.items() if k != "rounds"}, indent=2))
        return
    cog = make_cog(args.size)
    result: dict[str, Any] = {
        "command": "python benchmarks/bench_remote.py " + " ".join(sys.argv[1:]),
        "scene": {
            "size_px": args.size,
            "megapixels": args.size**2 / 1e6,
            "file_bytes": cog.stat().st_size,
            "tiles": "512 px deflate COG",
        },
        "latency_s": args.latency,
    }
    tile_bytes, n_touched, n_tiles = touched_tile_bytes(cog)
    rounds: list[dict[str, Any]] = []
    with RangeServer(cog.parent, latency=args.latency) as srv:
        url = srv.url(cog.name)
        for k in range(args.rounds):
            order = ["local", "remote"] if k % 2 == 0 else ["remote", "local"]
            rec: dict[str, Any] = {}
            for which in order:
                srv.reset()
                target = str(cog) if which == "local" else url
                rec[which] = detect([target], WORK / f"remote_out_{which}", python=args.python)
                if which == "remote":
                    stats = srv.stats()
                    rec["remote"].update(requests=stats["requests"], bytes_sent=stats["bytes_sent"])
            assert rec["local"]["detections"] == rec["remote"]["detections"], rec
            rec["ratio_job"] = rec["local"]["job_s"] / rec["remote"]["job_s"]
            rec["ratio_wall"] = rec["local"]["wall_s"] / rec["remote"]["wall_s"]
            rec["bytes_ratio"] = rec["remote"]["bytes_sent"] / tile_bytes
            print(
                f"round {k}: local {rec['local']['job_s']:.2f} s, remote {rec['remote']['job_s']:.2f} s "
                f"(job ratio {rec['ratio_job']:.3f}, wall ratio {rec['ratio_wall']:.3f}); "
                f"{rec['remote']['requests']} requests, bytes {rec['bytes_ratio']:.3f}x the touched tiles",
                flush=True,
            )
            rounds.append(rec)
        # a remote run with an area of interest over a tenth of the scene: the COG is read
        # only where the chips are
        aoi = write_aoi(cog, 0.1)
        aoi_bytes, aoi_tiles, _ = touched_tile_bytes(cog, aoi)
        srv.reset()
        run = detect([url], WORK / "remote_out_aoi", ["--aoi", str(aoi)], args.python)
        stats = srv.stats()
        result["remote_aoi"] = {
            "fraction": 0.1,
            "touched_tiles": aoi_tiles,
            "touched_bytes": aoi_bytes,
            "bytes_sent": stats["bytes_sent"],
            "requests": stats["requests"],
            "bytes_ratio": stats["bytes_sent"] / aoi_bytes,
            "of_file": stats["bytes_sent"] / cog.stat().st_size,
            "job_s": run["job_s"],
        }
        print(
            f"remote --aoi 0.1: {stats['bytes_sent']} bytes, {result['remote_aoi']['bytes_ratio']:.3f}x the "
            f"touched tiles, {result['remote_aoi']['of_file']:.3f} of the file",
            flush=True,
        )
    result["rounds"] = rounds
    result["touched_tiles"] = {"bytes": tile_bytes, "count": n_touched, "of_tiles": n_tiles}
    result["throughput_ratio_job_median"] = statistics.median(r["ratio_job"] for r in rounds)
    result["throughput_ratio_wall_median"] = statistics.median(r["ratio_wall"] for r in rounds)
    result["bytes_ratio_median"] = statistics.median(r["bytes_ratio"] for r in rounds)
    result["targets"] = {"throughput_ratio": ">= 0.9", "bytes_ratio": "<= 1.15"}
    if args.aoi_fraction:
        result["aoi"] = bench_aoi(
            args.aoi_size or args.size, args.aoi_fraction, args.rounds, args.python
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "rounds"}, indent=2))


def write_aoi(cog: Path, fraction: float) -> Path:
    """A GeoJSON square over ``fraction`` of the scene, centred, in the scene's CRS."""
    with rasterio.open(cog) as ds:
        left, bottom, right, top = ds.bounds
        crs = ds.crs.to_string()
    side = (right - left) * fraction**0.5
    cx, cy = (left + right) / 2, (bottom + top) / 2
    aoi = cog.parent / f"aoi_{cog.stem}_{fraction}.geojson"
    x0, y0, x1, y1 = cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2
    aoi.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": crs}},
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
                        },
                    }
                ],
            }
        )
    )
    return aoi


def bench_aoi(
    size: int, fraction: float, rounds: int, python: str = sys.executable
) -> dict[str, Any]:
    """``--aoi`` over a centred square of ``fraction`` of the scene against the full scene."""
    aoi = write_aoi(make_cog(size), fraction)
    cog = make_cog(size)
    runs = []
    for k in range(rounds):
        order = ["full", "aoi"] if k % 2 == 0 else ["aoi", "full"]
        rec: dict[str, Any] = {}
        for which in order:
            extra = ["--aoi", str(aoi)] if which == "aoi" else []
            rec[which] = detect([str(cog)], WORK / f"aoi_out_{which}", extra, python)
        rec["time_ratio_job"] = rec["aoi"]["job_s"] / rec["full"]["job_s"]
        rec["time_ratio_wall"] = rec["aoi"]["wall_s"] / rec["full"]["wall_s"]
        print(
            f"aoi round {k}: full {rec['full']['job_s']:.2f} s, aoi {rec['aoi']['job_s']:.2f} s "
            f"({rec['time_ratio_job']:.3f}; wall {rec['time_ratio_wall']:.3f})",
            flush=True,
        )
        runs.append(rec)
    return {
        "size_px": size,
        "fraction": fraction,
        "aoi_file": aoi.name,
        "rounds": runs,
        "time_ratio_job_median": statistics.median(r["time_ratio_job"] for r in runs),
        "time_ratio_wall_median": statistics.median(r["time_ratio_wall"] for r in runs),
        "target": "<= 0.15",
    }


def bench_plan(n: int) -> dict[str, Any]:
    """``skyscan plan`` over ``n`` and ``n // 10`` small GeoTIFFs: wall time and peak RSS."""
    import resource

    import numpy as np
    from rasterio.transform import Affine

    folder = WORK / "plan" / str(n)
    if not folder.exists():
        folder.mkdir(parents=True)
        data = np.full((3, 64, 64), 90, np.uint8)
        for k in range(n):
            t = Affine(0.25, 0, 594_000 + 16 * (k % 1000), 0, -0.25, 5_760_000 - 16 * (k // 1000))
            with rasterio.open(
                folder / f"t{k:06d}.tif",
                "w",
                driver="GTiff",
                width=64,
                height=64,
                count=3,
                dtype="uint8",
                crs="EPSG:32631",
                transform=t,
            ) as dst:
                dst.write(data)
    small = WORK / "plan" / f"{n}_tenth"
    if not small.exists():
        small.mkdir(parents=True)
        for f in sorted(folder.iterdir())[: n // 10]:
            os.link(f, small / f.name)
    out: dict[str, Any] = {"command": "python benchmarks/bench_remote.py " + " ".join(sys.argv[1:])}
    for name, target in (("tenth", small), ("all", folder)):
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "skyscan", "plan", str(target), "--json", "--rate", "20"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        stdout, _ = proc.communicate()
        wall = time.perf_counter() - t0
        usage = resource.getrusage(
            resource.RUSAGE_CHILDREN
        )  # cumulative: the larger run comes last
        totals = json.loads(stdout.splitlines()[-1])["totals"]
        out[name] = {
            "items": totals["images"],
            "wall_s": round(wall, 2),
            "max_rss_mib_so_far": round(usage.ru_maxrss / 1024, 1),
            "ms_per_item": round(1000 * wall / max(1, totals["images"]), 2),
        }
        print(name, out[name], flush=True)
    return out


if __name__ == "__main__":
    main()
