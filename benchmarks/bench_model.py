"""Throughput of a model through ONNX Runtime: megapixels per second at the model's GSD.

A batch of chips (random uint8 RGB at the card's input size) is kept in memory and run
repeatedly, including the preprocessing the pipeline does (normalise, NCHW) but not the
decode, with ``--threads`` intra-op threads (2 on the reference machine). On a busy machine the
wall-clock rate understates the model; ``mp_per_s_if_cores_free`` divides by the CPU time
the threads actually got instead, and ``load_avg_1m`` says how busy the machine was.
Prints one JSON line per model and round (models alternate within a round); ``--out``
also writes them, with the command, to a JSON file::

    .venv/bin/python benchmarks/bench_model.py [MODEL ...] [--threads 2] [--batch 16] [--repeat 10]
        [--rounds 1] [--out benchmarks/results/FILE.json]

Without MODEL it measures the shipped ``vehicles`` model and, if present, ``vehicles-int8``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def bench(
    model: str, threads: int, batch: int, repeat: int, warmup: int = 2, spin: bool = True
) -> dict[str, object]:
    import onnxruntime as ort

    from skyscan.detectors.card import load_card
    from skyscan.detectors.registry import resolve_model

    path = resolve_model(model)
    card = load_card(path)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if not spin:  # spinning threads burn CPU waiting; on a shared machine that is lost time
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    h, w = card.input_size
    rng = np.random.default_rng(0)
    chips = rng.integers(0, 256, (batch, h, w, 3), dtype=np.uint8)
    mean = np.asarray(card.mean, np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(card.std, np.float32).reshape(1, 3, 1, 1)

    def once() -> tuple[float, float]:
        t, c = time.perf_counter(), time.process_time()
        x = (chips.transpose(0, 3, 1, 2).astype(np.float32) - mean) / std
        sess.run(None, {card.input_name: x})
        return time.perf_counter() - t, time.process_time() - c

    for _ in range(warmup):
        once()
    runs = [once() for _ in range(repeat)]
    times = [r[0] for r in runs]
    cpu = statistics.median(r[1] for r in runs)
    pixels = batch * h * w
    med = statistics.median(times)
    return {
        "model": str(path.name),
        "threads": threads,
        "spin": spin,
        "batch": batch,
        "input": [h, w],
        "gsd": card.gsd,
        "repeat": repeat,
        "median_s": round(med, 4),
        "mp_per_s": round(pixels / med / 1e6, 2),
        "best_mp_per_s": round(pixels / min(times) / 1e6, 2),
        # CPU seconds per batch: on a shared machine, pixels / (cpu / threads) is the rate
        # the threads would give if they had their cores to themselves
        "cpu_s": round(cpu, 4),
        "mp_per_s_if_cores_free": round(pixels / (cpu / threads) / 1e6, 2),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "km2_per_hour_at_gsd": round(pixels / med * (card.gsd or 0) ** 2 * 3600 / 1e6, 2),
        "file_mb": round(path.stat().st_size / 1e6, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--no-spin", action="store_true", help="disable ORT thread spin-waiting")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", type=Path, help="also write every line, with the command, here")
    args = ap.parse_args()
    models = args.models
    if not models:
        from skyscan.detectors.registry import BUILTIN_DIR

        models = [m for m in ("vehicles", "vehicles-int8") if (BUILTIN_DIR / f"{m}.onnx").is_file()]
    lines = []
    for _ in range(args.rounds):
        for m in models:
            lines.append(bench(m, args.threads, args.batch, args.repeat, spin=not args.no_spin))
            print(json.dumps(lines[-1]), flush=True)
    if args.out:
        record = {
            "command": "python benchmarks/bench_model.py " + " ".join(sys.argv[1:]),
            "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "runs": lines,
        }
        args.out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
