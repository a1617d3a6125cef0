"""Where a command's CPU time goes, from a py-spy profile: each function's share of the
samples it appears in (inclusive), the functions that were running (exclusive) and the
threads.

    py-spy record -r 200 -f raw --threads -o prof.txt -- python -m skyscan -q detect TILES -o OUT --overwrite
    python benchmarks/profile_summary.py prof.txt --command "py-spy record ..." --out benchmarks/results/profile.json

(py-spy is not a dependency of skyscan: ``pip install py-spy``.)
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"(?P<fn>\S+) \((?P<file>[^:()]+):\d+\)")


def frame_name(frame: str) -> str:
    """``function (file.py)`` of a py-spy frame, without the line number and folders."""
    m = FRAME.match(frame)
    return f"{m['fn']} ({Path(m['file']).name})" if m else frame


def summarise(raw: str, top: int) -> dict[str, object]:
    inclusive: Counter[str] = Counter()
    exclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        thread, *frames = stack.split(";")
        threads[re.sub(r"\(\d+\)", "", thread).strip()] += n
        for name in {frame_name(f) for f in frames}:
            inclusive[name] += n
        if frames:
            exclusive[frame_name(frames[-1])] += n

    def shares(c: Counter[str]) -> dict[str, float]:
        return {k: round(v / total, 3) for k, v in c.most_common(top)}

    return {
        "samples": total,
        "threads": shares(threads),
        "inclusive": shares(inclusive),
        "exclusive": shares(exclusive),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile", type=Path, help="py-spy record -f raw output")
    ap.add_argument("--command", required=True, help="the py-spy command that made it")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    result = {
        "command": args.command,
        "summary_command": "python benchmarks/profile_summary.py "
        f"{args.profile.name} --command ... --out {args.out}",
        **summarise(args.profile.read_text(encoding="utf-8"), args.top),
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("samples", "threads")}))


if __name__ == "__main__":
    main()
