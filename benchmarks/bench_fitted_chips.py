"""One chip fitted to each image (the default for images up to 1024 model px) against fixed
chip sizes: fresh ``skyscan detect`` commands on a folder of tiles, interleaved rounds.

    python benchmarks/bench_fitted_chips.py TILE_FOLDER --rounds 3 -o benchmarks/results/fitted_chips.json

TILE_FOLDER: e.g. the 100 tiles of 1024 px that ``bench_peers.py`` builds
(``benchmarks/_work/real_tiles_100``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLANS = {
    "default (fitted to each image)": [],
    "--chip-size 512 (the default size, not fitted)": ["--chip-size", "512"],
    "--chip-size 256 --overlap 0.2 (the earlier default)": [
        "--chip-size",
        "256",
        "--overlap",
        "0.2",
    ],
}


def time_plans(
    target: Path, plans: dict[str, list[str]], rounds: int, baseline: str
) -> dict[str, dict[str, object]]:
    """Fresh ``skyscan -q detect TARGET`` commands with each plan's extra arguments, the
    plans turned each round; wall times, medians over ``baseline``'s, detections."""
    skyscan = [sys.executable, "-m", "skyscan"]
    walls: dict[str, list[float]] = {name: [] for name in plans}
    rows: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        names = list(plans)
        for i in range(rounds):
            for name in names[i % len(names) :] + names[: i % len(names)]:  # turned each round
                out = Path(tmp) / "out"
                shutil.rmtree(out, ignore_errors=True)
                t0 = time.perf_counter()
                subprocess.run(
                    [
                        *skyscan,
                        "-q",
                        "detect",
                        str(target),
                        "-o",
                        str(out),
                        "--no-geojson",
                        *plans[name],
                    ],
                    check=True,
                )
                walls[name].append(round(time.perf_counter() - t0, 2))
                rows[name] = json.loads((out / "run.json").read_text())["counts"]["detections"]
    base = statistics.median(walls[baseline])
    return {
        name: {
            "wall_s": w,
            "median_s": statistics.median(w),
            "time_over_default": round(statistics.median(w) / base, 3),
            "detections": rows[name],
        }
        for name, w in walls.items()
    }


def print_plans(plans: dict[str, dict[str, object]]) -> None:
    for name, r in plans.items():
        print(
            f"{name:55s} median {r['median_s']:6.2f} s  ×{r['time_over_default']:.2f}  {r['detections']} detections"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tiles", type=Path)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("-o", "--output", type=Path, required=True)
    args = ap.parse_args()
    result = {
        "command": "python benchmarks/bench_fitted_chips.py " + " ".join(sys.argv[1:]),
        "tiles": str(args.tiles),
        "n_tiles": len(list(args.tiles.glob("*.tif"))),
        "plans": time_plans(args.tiles, PLANS, args.rounds, "default (fitted to each image)"),
    }
    args.output.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print_plans(result["plans"])


if __name__ == "__main__":
    main()
