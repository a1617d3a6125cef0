"""Spark engine speed: scaling local[1] → local[2], and overhead against the local engine.

    .venv/bin/python benchmarks/bench_spark.py [--images 8] [--size 1536] [--model vehicles]

All numbers come from one run of this script, on the same generated GeoTIFFs (RGB at the
model's GSD, textured background with car-sized blobs) and the shipped ``vehicles`` model:

1. local engine: ``skyscan.run.run_detect`` with ``RunSettings(engine="local")`` (ONNX on all cores), twice;
2. spark ``local[2]``: the same call with ``engine="spark"`` on an already started session
   (the JVM start is timed apart and excluded). ``cold`` is the first job (Python workers
   spawn, import skyscan and load the model), ``warm`` a second identical job;
3. spark ``local[1]``: the same, after restarting Spark with one core. Steps 2 and 3
   alternate for ``--cycles`` cycles, each followed by the machine's own scaling (the
   same model work in two plain processes against one); ratios are medians of cycles.

Ratios: ``speedup = local[1] / local[2]`` (target ≥ 1.7, warm jobs), ``overhead = spark
local[2] / local engine`` (target ≤ 1.25), in wall time and in CPU seconds (this process
and all its descendants: JVM, Python workers). The machine's load average is recorded:
on a shared, busy machine wall-time ratios are bounded by the cores actually free, while
CPU seconds still measure the work each engine does.

Writes benchmarks/results/spark.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.transform import Affine

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work" / "spark"
RESULTS = ROOT / "benchmarks" / "results"


def make_scene(path: Path, size: int, gsd: float, seed: int) -> Path:
    """An RGB GeoTIFF with textured background and bright car-sized rectangles."""
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    data = rng.integers(60, 140, size=(3, size, size), dtype=np.uint8)
    for _ in range(size * size // 40_000):
        r, c = rng.integers(0, size - 20, size=2)
        data[:, r : r + 8, c : c + 18] = rng.integers(150, 255, size=(3, 1, 1), dtype=np.uint8)
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": 3,
        "dtype": "uint8",
        "crs": "EPSG:32631",
        "transform": Affine(gsd, 0, 594_000.0 + seed * size * gsd, 0, -gsd, 5_760_000.0),
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
    }
    tmp = path.with_suffix(".tmp.tif")
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data)
    tmp.rename(path)
    return path


def _cpu_of(pid: str) -> tuple[int, float]:
    """(parent pid, CPU seconds of the process and its reaped children) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return int(fields[1]), ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(root: int) -> float:
    """CPU seconds used so far by ``root`` and all its descendants (JVM, Python workers)."""
    info: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                info[int(entry.name)] = _cpu_of(entry.name)
            except (OSError, ValueError, IndexError):
                continue
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in info.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += info.get(pid, (0, 0.0))[1]
        todo.extend(children.get(pid, []))
    return total


def timed_run(
    paths: list[str], options: Any, engine: str, master: str | None = None
) -> tuple[float, int, float]:
    """Wall seconds, detections, CPU seconds (this process and every descendant)."""
    from skyscan.options import RunSettings
    from skyscan.run import run_detect

    out = WORK / f"out-{engine}"
    shutil.rmtree(out, ignore_errors=True)
    c0 = tree_cpu_s(os.getpid())
    t0 = time.perf_counter()
    result = run_detect(
        paths, out, options, RunSettings(engine=engine, master=master, geojson=False)
    )
    wall = time.perf_counter() - t0
    return wall, result.n_detections, tree_cpu_s(os.getpid()) - c0


def spark_runs(master: str, paths: list[str], options: Any, warm_runs: int = 3) -> dict[str, Any]:
    from skyscan.engines.spark.session import spark_session

    t0 = time.perf_counter()
    spark = spark_session(
        master, conf={"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4"}
    )
    spark.sparkContext.setLogLevel("ERROR")
    jvm = time.perf_counter() - t0
    cold, n, cold_cpu = timed_run(paths, options, "spark", master)
    warm = [timed_run(paths, options, "spark", master) for _ in range(warm_runs)]
    spark.stop()
    assert all(n == n2 for _, n2, _ in warm)
    # the median warm job: this VM's speed drifts from minute to minute
    return {
        "jvm_start_s": round(jvm, 2),
        "cold_s": round(cold, 2),
        "warm_s": round(float(np.median([t for t, _, _ in warm])), 2),
        "warm_runs_s": [round(t, 2) for t, _, _ in warm],
        "cold_cpu_s": round(cold_cpu, 2),
        "warm_cpu_s": round(float(np.median([c for _, _, c in warm])), 2),
        "detections": n,
    }


_ORT_JOB = """
import sys, time, numpy as np
from skyscan.detectors import DetectorRecipe, get_detector
det = get_detector(DetectorRecipe(model=sys.argv[1], threads=1))
h, w = det.card.input_size
# chips in the reader's layout: channel planes seen channels-last
chips = np.random.default_rng(0).integers(0, 255, size=(16, 3, h, w), dtype=np.uint8).transpose(0, 2, 3, 1)
det.detect_batch(chips)
t0 = time.perf_counter()
for _ in range(int(sys.argv[2])):
    det.detect_batch(chips)
print(time.perf_counter() - t0)
"""


def machine_scaling(model: str, batches: int = 120) -> dict[str, float]:
    """What two cores give this workload on this machine, without Spark: the model on
    in-memory chips with one ONNX thread, one process alone, then two at once.
    ``scaling = 2 x work / time of both`` over ``work / time alone`` (2.0 = perfect)."""
    import subprocess

    def run(n: int) -> float:
        t0 = time.perf_counter()
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _ORT_JOB, model, str(batches)], stdout=subprocess.PIPE
            )
            for _ in range(n)
        ]
        for p in procs:
            p.communicate()
        return time.perf_counter() - t0

    one, two = run(1), run(2)
    return {
        "one_process_s": round(one, 2),
        "two_processes_s": round(two, 2),
        "scaling": round(2 * one / two, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--size", type=int, default=1536, help="scene width and height in pixels")
    parser.add_argument("--model", default="vehicles")
    parser.add_argument(
        "--cycles", type=int, default=3, help="alternating local[2]/local[1] cycles"
    )
    args = parser.parse_args()

    from skyscan.detectors import DetectorRecipe, get_detector
    from skyscan.pipeline import DetectOptions

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    card = get_detector(DetectorRecipe(model=args.model)).card
    gsd = card.gsd or 0.25
    WORK.mkdir(parents=True, exist_ok=True)
    paths = [
        str(make_scene(WORK / f"scene{i:02d}_{args.size}.tif", args.size, gsd, i))
        for i in range(args.images)
    ]
    options = DetectOptions(recipe=DetectorRecipe(model=args.model))
    load_before = os.getloadavg()

    # This VM's speed and its two-core scaling drift from minute to minute, so local[2]
    # and local[1] alternate in cycles (a fresh context each, its first job discarded as
    # cold) and the machine's own scaling is measured in every cycle beside them.
    local = [timed_run(paths, options, "local") for _ in range(3)]
    cycles = []
    for _ in range(args.cycles):
        spark2 = spark_runs("local[2]", paths, options, warm_runs=1)
        spark1 = spark_runs("local[1]", paths, options, warm_runs=1)
        machine = machine_scaling(args.model)
        cycles.append(
            {
                "local2_warm_s": spark2["warm_s"],
                "local1_warm_s": spark1["warm_s"],
                "speedup": round(spark1["warm_s"] / spark2["warm_s"], 3),
                "machine_scaling": machine["scaling"],
            }
        )
    speedup = float(np.median([c["speedup"] for c in cycles]))
    spark2["warm_s"] = float(np.median([c["local2_warm_s"] for c in cycles]))
    spark1["warm_s"] = float(np.median([c["local1_warm_s"] for c in cycles]))
    local_s = float(np.median([t for t, _, _ in local]))
    local_cpu = float(np.median([c for _, _, c in local]))
    assert all(n == spark2["detections"] for _, n, _ in local), (
        "engines disagree on the number of detections"
    )

    result = {
        "images": args.images,
        "size_px": args.size,
        "model": card.model_id,
        "chips_per_image": None,
        "detections": spark2["detections"],
        "local_engine_s": [round(t, 2) for t, _, _ in local],
        "local_engine_cpu_s": [round(c, 2) for _, _, c in local],
        "spark_local2": spark2,
        "spark_local1": spark1,
        "speedup_local2_vs_local1_warm": round(speedup, 3),
        "cycles": cycles,
        "machine_scaling_median": round(
            float(np.median([c["machine_scaling"] for c in cycles])), 3
        ),
        "speedup_local2_vs_local1_cold": round(spark1["cold_s"] / spark2["cold_s"], 3),
        "overhead_spark_local2_vs_local_warm": round(spark2["warm_s"] / local_s, 3),
        "overhead_spark_local2_vs_local_cold": round(spark2["cold_s"] / local_s, 3),
        # CPU seconds are what a busy, shared machine cannot distort: work done, not waiting.
        "overhead_cpu_spark_local2_vs_local_warm": round(spark2["warm_cpu_s"] / local_cpu, 3),
        # the same ratio for two plain processes (no Spark), last cycle: the speedup's ceiling
        "machine_scaling_two_processes": machine,
        "targets": {"speedup": ">= 1.7", "overhead": "<= 1.25"},
        "cpu_count": os.cpu_count(),
        "loadavg_before": [round(v, 2) for v in load_before],
        "loadavg_after": [round(v, 2) for v in os.getloadavg()],
        "command": "python benchmarks/bench_spark.py " + " ".join(sys.argv[1:]),
    }
    from skyscan.chips import chip_size_in_source, plan_chips

    chip = chip_size_in_source(card.input_size[0], gsd, card.gsd)
    result["chips_per_image"] = len(
        plan_chips(
            args.size,
            args.size,
            chip_src=chip,
            out_size=card.input_size[0],
            overlap=options.overlap,
        )
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "spark.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
