"""Where a warm Spark detect job's wall time goes: Spark's own event log, read back.

    .venv/bin/python benchmarks/bench_spark_timeline.py [--master local[2]] [--images 8] [--size 4096]

Runs the spark engine twice on the images of ``bench_spark.py`` (the first job is cold:
Python workers start and load the model), with Spark's event log on, and reports for the
second job: every Spark job and stage with its start and end (seconds after the call),
task count, summed task run time, and how many seconds 0, 1 or 2+ tasks were running.
The seconds with fewer tasks than cores are the fixed costs that do not scale.

Writes benchmarks/results/spark_timeline_<master>.json.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_spark  # the same images and timed run


def read_events(log_dir: Path) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for path in sorted(p for p in log_dir.rglob("*") if p.is_file()):
        with path.open() as f:
            events.extend(json.loads(line) for line in f if line.strip())
    return events


def timeline(events: list[dict[str, Any]], start: float, end: float, cores: int) -> dict[str, Any]:
    """Jobs, stages and task concurrency of the events between ``start`` and ``end`` (epoch s)."""
    t0, t1 = start * 1000, end * 1000

    def rel(ms: float) -> float:
        return round((ms - t0) / 1000, 2)

    job_ends = {e["Job ID"]: e for e in events if e["Event"] == "SparkListenerJobEnd"}
    jobs = [
        {
            "job": e["Job ID"],
            "start_s": rel(e["Submission Time"]),
            "end_s": rel(job_ends[e["Job ID"]]["Completion Time"]),
            "stages": e["Stage IDs"],
        }
        for e in events
        if e["Event"] == "SparkListenerJobStart" and t0 <= e["Submission Time"] <= t1
    ]
    tasks = [
        e
        for e in events
        if e["Event"] == "SparkListenerTaskEnd" and t0 <= e["Task Info"]["Launch Time"] <= t1
    ]
    stages = []
    for e in events:
        info = e.get("Stage Info", {})
        if (
            e["Event"] != "SparkListenerStageCompleted"
            or not t0 <= info.get("Submission Time", 0) <= t1
        ):
            continue
        mine = [t for t in tasks if t["Stage ID"] == info["Stage ID"]]
        stages.append(
            {
                "stage": info["Stage ID"],
                "start_s": rel(info["Submission Time"]),
                "end_s": rel(info["Completion Time"]),
                "tasks": len(mine),
                "task_run_s": round(
                    sum(t["Task Metrics"]["Executor Run Time"] for t in mine) / 1000, 2
                ),
            }
        )
    grid = np.arange(0.0, end - start, 0.01)
    running = np.zeros_like(grid)
    for t in tasks:
        running += (grid >= (t["Task Info"]["Launch Time"] - t0) / 1000) & (
            grid < (t["Task Info"]["Finish Time"] - t0) / 1000
        )
    concurrency = {
        f"{k}_tasks_s": round(float((running == k).sum() * 0.01), 2) for k in range(cores)
    }
    concurrency[f"{cores}+_tasks_s"] = round(float((running >= cores).sum() * 0.01), 2)
    detect = max(stages, key=lambda s: s["task_run_s"]) if stages else None
    return {
        "wall_s": round(end - start, 2),
        "jobs": sorted(jobs, key=lambda j: j["job"]),
        "stages": sorted(stages, key=lambda s: s["stage"]),
        "concurrency": concurrency,
        "detect_stage": detect,
        "outside_detect_stage_s": round(end - start - (detect["end_s"] - detect["start_s"]), 2)
        if detect
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--model", default="vehicles")
    args = parser.parse_args()

    from skyscan.detectors import DetectorRecipe, get_detector
    from skyscan.engines.spark.session import spark_session
    from skyscan.pipeline import DetectOptions

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    gsd = get_detector(DetectorRecipe(model=args.model)).card.gsd or 0.25
    bench_spark.WORK.mkdir(parents=True, exist_ok=True)
    paths = [
        str(
            bench_spark.make_scene(
                bench_spark.WORK / f"scene{i:02d}_{args.size}.tif", args.size, gsd, i
            )
        )
        for i in range(args.images)
    ]
    tag = (
        args.master.replace("[", "")
        .replace("]", "")
        .replace("*", "all")
        .replace("/", "_")
        .replace(":", "_")
    )
    log_dir = bench_spark.WORK / f"eventlog-{tag}"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    spark = spark_session(
        args.master,
        conf={
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": "4",
            "spark.eventLog.enabled": "true",
            "spark.eventLog.dir": str(log_dir),
            "spark.eventLog.compress": "false",
            "spark.eventLog.rolling.enabled": "false",
        },
    )
    spark.sparkContext.setLogLevel("ERROR")
    cores = spark.sparkContext.defaultParallelism
    options = DetectOptions(recipe=DetectorRecipe(model=args.model))
    bench_spark.timed_run(paths, options, "spark", args.master)  # cold: workers start, model loads
    start = time.time()
    bench_spark.timed_run(paths, options, "spark", args.master)
    end = time.time()
    spark.stop()
    result = {
        "master": args.master,
        "images": args.images,
        "size_px": args.size,
        "cores": cores,
        **timeline(read_events(log_dir), start, end, cores),
        "command": "python benchmarks/bench_spark_timeline.py " + " ".join(sys.argv[1:]),
    }
    out = bench_spark.RESULTS / f"spark_timeline_{tag}.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
