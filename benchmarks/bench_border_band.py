"""Border strips (the default ``--border-band 8``) against none (``--border-band 0``): fresh
``skyscan detect`` commands, interleaved rounds, on the 100 MP scene and on the folder of
100 tiles of ``bench_peers.py``.

    python benchmarks/bench_border_band.py --rounds 3 -o benchmarks/results/border_band.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench_detect import RESULTS
from bench_tta import compare_on_targets

PLANS = {"--border-band 0 (no strips)": ["--border-band", "0"], "default (band 8)": []}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-o", "--output", type=Path, default=RESULTS / "border_band.json")
    args = ap.parse_args()
    command = "python benchmarks/bench_border_band.py " + " ".join(sys.argv[1:])
    compare_on_targets(PLANS, "--border-band 0 (no strips)", args.rounds, args.output, command)


if __name__ == "__main__":
    main()
