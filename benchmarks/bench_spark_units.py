"""Spark work-unit size: warm ``local[2]`` jobs at two ``chips_per_unit`` values, alternating.

    .venv/bin/python benchmarks/bench_spark_units.py [--sizes 64 256] [--pairs 2]

Runs on the GeoTIFFs that ``bench_spark.py`` generates (run that first). Each task opens
its own reader, so the tiles that two units share are decoded twice; bigger units share
fewer tiles but give fewer tasks. Writes benchmarks/results/spark_units.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_spark import RESULTS, WORK, tree_cpu_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from skyscan.detectors import DetectorRecipe
    from skyscan.engines.spark.session import spark_session
    from skyscan.options import RunSettings
    from skyscan.pipeline import DetectOptions
    from skyscan.run import run_detect

    paths = sorted(str(p) for p in WORK.glob("scene*_4096.tif"))
    if not paths:
        sys.exit("no scenes: run benchmarks/bench_spark.py first")
    spark = spark_session(
        "local[2]", conf={"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4"}
    )
    spark.sparkContext.setLogLevel("ERROR")

    def job(chips_per_unit: int) -> dict[str, float]:
        options = DetectOptions(
            recipe=DetectorRecipe(model="vehicles"), chips_per_unit=chips_per_unit
        )
        c0, t0 = tree_cpu_s(os.getpid()), time.perf_counter()
        result = run_detect(
            paths,
            WORK / "units",
            options,
            RunSettings(engine="spark", master="local[2]", geojson=False, overwrite=True),
        )
        return {
            "chips_per_unit": chips_per_unit,
            "wall_s": round(time.perf_counter() - t0, 2),
            "cpu_s": round(tree_cpu_s(os.getpid()) - c0, 2),
            "detections": result.n_detections,
        }

    job(args.sizes[0])  # cold: workers start, model loads
    runs = [job(size) for _ in range(args.pairs) for size in args.sizes]
    spark.stop()
    out = {
        "images": len(paths),
        "runs": runs,
        "command": "python benchmarks/bench_spark_units.py " + " ".join(sys.argv[1:]),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "spark_units.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
