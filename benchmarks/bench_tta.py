"""Test-time augmentation (``--tta 2``, ``--tta 4``) against a plain run: fresh ``skyscan detect`` commands,
interleaved rounds, on the 100 MP scene and on the folder of 100 tiles of ``bench_peers.py``.

    python benchmarks/bench_tta.py --rounds 3 -o benchmarks/results/tta.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench_detect import RESULTS, WORK
from bench_fitted_chips import print_plans, time_plans

PLANS = {"default": [], "--tta 2": ["--tta", "2"], "--tta 4": ["--tta", "4"]}
TARGETS = {
    "scene of 100 MP (10,000 px square, 0.25 m)": WORK / "real_10000.tif",
    "folder of 100 tiles of 1024 px": WORK / "real_tiles_100",
}


def compare_on_targets(
    plans: dict[str, list[str]], baseline: str, rounds: int, output: Path, command: str
) -> None:
    """Time ``plans`` on the scene and on the tiles, write the report to ``output``."""
    missing = [str(p) for p in TARGETS.values() if not p.exists()]
    if missing:
        sys.exit(f"missing {missing}: run benchmarks/bench_peers.py once to build them")
    result: dict[str, Any] = {"command": command}
    for name, target in TARGETS.items():
        print(name)
        result[name] = time_plans(target, plans, rounds, baseline)
        print_plans(result[name])
    output.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


def plans_cli(doc: str, script: str, plans: dict[str, list[str]], baseline: str, out: str) -> None:
    """A benchmark command that times ``plans`` against ``baseline`` (``--rounds``, ``-o``)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-o", "--output", type=Path, default=RESULTS / out)
    args = ap.parse_args()
    command = f"python benchmarks/{script} " + " ".join(sys.argv[1:])
    compare_on_targets(plans, baseline, args.rounds, args.output, command)


def main() -> None:
    plans_cli(__doc__, "bench_tta.py", PLANS, "default", "tta.json")


if __name__ == "__main__":
    main()
