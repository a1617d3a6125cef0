"""Border strips (the default ``--border-band 8``) against none (``--border-band 0``): fresh
``skyscan detect`` commands, interleaved rounds, on the 100 MP scene and on the folder of
100 tiles of ``bench_peers.py``.

    python benchmarks/bench_border_band.py --rounds 3 -o benchmarks/results/border_band.json
"""

from __future__ import annotations

from bench_tta import plans_cli

PLANS = {"--border-band 0 (no strips)": ["--border-band", "0"], "default (band 8)": []}


def main() -> None:
    plans_cli(
        __doc__, "bench_border_band.py", PLANS, "--border-band 0 (no strips)", "border_band.json"
    )


if __name__ == "__main__":
    main()
