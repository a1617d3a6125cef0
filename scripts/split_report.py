"""One split of a real-world baseline report as a ``skyscan evaluate`` report, for
``skyscan set-threshold`` (which takes a class's F1-best point from such a report).

    python scripts/split_report.py docs/results/real_world_baseline_t030.json --split validation \
        -o docs/results/threshold_validation_places.json
    skyscan set-threshold src/skyscan/detectors/models/vehicles.onnx docs/results/threshold_validation_places.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("baseline", type=Path, help="a scripts/real_world_baseline.py report")
    ap.add_argument("--split", default="validation", choices=["train", "validation", "test"])
    ap.add_argument("-o", "--output", type=Path, required=True)
    args = ap.parse_args()
    report = json.loads(args.baseline.read_text(encoding="utf-8"))
    split = report["per_split"][args.split]
    classes = ("car", "truck", "bus")
    out = {
        "source": f"{args.baseline} (split {args.split!r})",
        "model": report["model"],
        "images": split["images"],
        "command": split["command"],
        "score_threshold": split.get("score_threshold"),
        "classes": {c: split[c] for c in classes if c in split},
    }
    args.output.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"{args.output}: {args.split} split of {args.baseline}")


if __name__ == "__main__":
    main()
