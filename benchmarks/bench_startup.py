"""Fixed cost of a fresh ``skyscan detect``: this checkout against a baseline commit.

    .venv/bin/python benchmarks/bench_startup.py --baseline COMMIT [--runs 7]

Both run ``python -m skyscan -q detect`` on the same one-chip 256 px GeoTIFF (interpreter
start, imports, model load, one chip, outputs, exit), alternating, in this venv; the
baseline's sources come from a ``git worktree`` of the commit. Reports medians and their
ratio; writes benchmarks/results/startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from bench_detect import RESULTS, ROOT, WORK, compile_sources, make_scene, run_cli


def baseline_tree(commit: str) -> Path:
    """A worktree of ``commit`` under benchmarks/_work (made once, reused)."""
    sha = subprocess.run(
        ["git", "rev-parse", commit], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    tree = WORK / f"baseline-{sha[:10]}"
    if not tree.exists():
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), sha],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    return tree


def fresh_command_s(src: Path, scene: Path, out: Path) -> float:
    """Wall seconds of ``skyscan detect`` run from the sources in ``src``."""
    wall, _ = run_cli(
        ["detect", str(scene), "-o", str(out), "--overwrite"],
        env={**os.environ, "PYTHONPATH": str(src)},
    )
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--baseline", required=True, help="commit to compare with (e.g. the previous release)"
    )
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    scene = make_scene(WORK / "scene_256_0.25.tif", 256, 0.25)
    trees = {"baseline": baseline_tree(args.baseline) / "src", "current": ROOT / "src"}
    for src in trees.values():
        compile_sources(src)
    times: dict[str, list[float]] = {name: [] for name in trees}
    fresh_command_s(trees["current"], scene, WORK / "out_startup")  # warm the page cache for both
    for _ in range(args.runs):
        for name, src in trees.items():  # alternated, so drift hits both alike
            times[name].append(fresh_command_s(src, scene, WORK / f"out_startup_{name}"))
    med = {name: float(np.median(v)) for name, v in times.items()}
    result = {
        "baseline_commit": args.baseline,
        "median_s": {k: round(v, 3) for k, v in med.items()},
        "runs_s": {k: [round(x, 3) for x in v] for k, v in times.items()},
        "current_over_baseline": round(med["current"] / med["baseline"], 3),
        "command": "python benchmarks/bench_startup.py " + " ".join(sys.argv[1:]),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
