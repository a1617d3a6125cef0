"""Recall at image borders with and without the edge pad (skyscan.evaluate.borders).

    python scripts/border_recall.py --edge-pad 0 32 -o docs/results/border_recall.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from skyscan.evaluate.borders import border_recall
from skyscan.labels.read import read_name_list

KIT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "kit-ais-munich"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=KIT.resolve())
    parser.add_argument("--split", default="seqC_MunichStreet02-MOS74-93.txt", help="held-out frames (splits/)")
    parser.add_argument("--edge-pad", type=int, nargs="+", default=[0, 32])
    parser.add_argument("--model", default="vehicles")
    parser.add_argument("--crops-per-image", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    names = read_name_list(args.data / "splits" / args.split)
    runs = [border_recall(args.data / "images", args.data / "labels", args.data / "classes.txt", names=names,
                          gsd=0.13, model=args.model, edge_pad=pad, crops_per_image=args.crops_per_image,
                          seed=args.seed) for pad in args.edge_pad]
    result = {"frames": f"KIT AIS Munich {args.split} (held out from training)", "gsd": 0.13,
              "label_convention": "the clipped box is the label (vehicles cut by the crop border are labelled)",
              "command": "python scripts/border_recall.py " + " ".join(
                  ["--edge-pad", *map(str, args.edge_pad), "--model", args.model, "-o", str(args.output)]),
              "runs": runs}
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for run in runs:
        print(f"edge_pad {run['edge_pad']}: recall near {run['recall_near']:.3f} far {run['recall_far']:.3f} "
              f"ratio {run['recall_near_over_far']:.3f} precision {run['precision']:.3f}")


if __name__ == "__main__":
    main()
