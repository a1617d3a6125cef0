"""The driver JVM's CPU on a warm local[2] detect job, with and without ``LOCAL_CONF``.

    .venv/bin/python benchmarks/bench_spark_jvm.py

Each variant runs in a fresh Python process (JVM options apply only when the JVM starts):
``c1`` is skyscan's default for local masters (``-XX:TieredStopAtLevel=1``), ``c2`` the
JVM's own default. One cold job, then one warm job whose wall time and per-thread JVM CPU
are recorded. Uses the GeoTIFFs of ``bench_spark.py`` (run that first). Writes
benchmarks/results/spark_jvm.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_spark import RESULTS, WORK


def jvm_threads() -> dict[tuple[str, str], tuple[str, float]]:
    """CPU seconds per JVM thread: (pid, tid) -> (thread name, seconds)."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or b"java" not in (proc / "cmdline").read_bytes():
                continue
            for task in (proc / "task").iterdir():
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                out[(proc.name, task.name)] = (
                    (task / "comm").read_text().strip(),
                    (int(fields[11]) + int(fields[12])) / tick,
                )
        except OSError:
            continue
    return out


def one_variant(variant: str) -> dict[str, object]:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from skyscan.detectors import DetectorRecipe
    from skyscan.engines.spark.session import spark_session
    from skyscan.options import RunSettings
    from skyscan.pipeline import DetectOptions
    from skyscan.run import run_detect

    paths = sorted(str(p) for p in WORK.glob("scene*_4096.tif"))
    conf = {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4"}
    if variant == "c2":
        conf["spark.driver.extraJavaOptions"] = ""  # replaces LOCAL_CONF's option
    spark = spark_session("local[2]", conf=conf)
    spark.sparkContext.setLogLevel("ERROR")
    options = DetectOptions(recipe=DetectorRecipe(model="vehicles"))

    def job() -> None:
        run_detect(
            paths,
            WORK / f"jvm-{variant}",
            options,
            RunSettings(engine="spark", master="local[2]", geojson=False, overwrite=True),
        )

    job()  # cold
    before, t0 = jvm_threads(), time.perf_counter()
    job()
    wall, after = time.perf_counter() - t0, jvm_threads()
    spark.stop()
    by_name: dict[str, float] = {}
    for key, (name, cpu) in after.items():
        by_name[name] = by_name.get(name, 0.0) + cpu - before.get(key, (name, 0.0))[1]
    top = dict(
        sorted(((n, round(c, 2)) for n, c in by_name.items() if c >= 0.05), key=lambda kv: -kv[1])
    )
    return {
        "variant": variant,
        "warm_job_s": round(wall, 2),
        "jvm_cpu_s": round(sum(by_name.values()), 2),
        "jvm_threads_cpu_s": top,
    }


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--variant":
        print(json.dumps(one_variant(sys.argv[2])))
        return
    if not list(WORK.glob("scene*_4096.tif")):
        sys.exit("no scenes: run benchmarks/bench_spark.py first")
    runs = []
    for variant in ("c2", "c1"):
        done = subprocess.run(
            [sys.executable, __file__, "--variant", variant],
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    out = {
        "images": len(list(WORK.glob("scene*_4096.tif"))),
        "runs": runs,
        "command": "python benchmarks/bench_spark_jvm.py",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "spark_jvm.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
