"""Score a model on the real-world labels in data/labels (per image and per split) and on
their vehicle-free regions, and write one JSON report.

    python scripts/real_world_baseline.py ../shared/data/georef -o docs/results/real_world_baseline.json \
        [--model vehicles] [--edge-pad N] [--score-threshold T] [--against MODEL]

``--score-threshold`` scores the labelled places at T instead of the card's threshold (a
report to search a new operating point from with ``skyscan set-threshold``); the
vehicle-free regions are always counted at the card's threshold and at 0.5. ``--against``
also scores MODEL on every place and split and compares the two object by object
(``against`` in each entry).

Every figure comes from ``skyscan evaluate`` (run as a command, with the ignore regions of
data/labels/ignore_regions.csv) and from scripts/negatives_fp.py; the exact commands are in
the report. A split is scored as one set: its images are linked (never copied) into a
temporary folder with their sidecar files, and its label files into another.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "data" / "labels"


def places() -> dict[str, tuple[str, str, str]]:
    """label folder -> (image path under the imagery folder, label folder, split), from images.csv."""
    with (LABELS / "images.csv").open(encoding="utf-8") as fh:
        return {r["labels"]: (r["path"], r["labels"], r["split"]) for r in csv.DictReader(fh)}


SIDE_SUFFIXES = (".wld", ".jgw", ".tfw", ".pgw", ".prj", ".aux.xml")


def evaluate(
    images: Path, labels: Path, out: Path, model: str, options: list[str], shown: tuple[str, str]
) -> tuple[dict[str, Any], str]:
    args = [
        "evaluate",
        str(images),
        "--labels",
        str(labels),
        "--format",
        "yolo",
        "--classes",
        str(LABELS / "classes.txt"),
        "--ignore-regions",
        str(LABELS / "ignore_regions.csv"),
        "--model",
        model,
        "-o",
        str(out),
        "--overwrite",
        *options,
    ]
    subprocess.run([sys.executable, "-m", "skyscan", "-q", *args], check=True)
    report = json.loads(out.read_text(encoding="utf-8"))
    command = "skyscan " + " ".join([*args[: -3 - len(options)], *options, "-o", "REPORT.json"])
    command = command.replace(str(images), shown[0]).replace(str(labels), shown[1])
    command = command.replace(str(ROOT) + "/", "")
    return report, command


#: what each place and split keeps of its report, per class
FIGURES = (
    "ap50",
    "precision",
    "recall",
    "f1",
    "n_labels",
    "n_detections",
    "precision_ci95",
    "recall_ci95",
)


def summary(report: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "score_threshold": report["score_threshold"],
        "n_images": report["n_images"],
    }
    for cls, c in report["classes"].items():
        row = {k: c.get(k) for k in FIGURES}
        row["best_f1"] = c.get("best_f1")
        out[cls] = row
    anyc = report.get("any_class")  # every class as one vehicle (skyscan evaluate)
    if anyc is not None:
        out["any_class"] = {k: anyc.get(k) for k in FIGURES}
    out["map50"] = report.get("map50")
    out["ignore_regions"] = report.get("ignore_regions")
    if report.get("against"):
        out["against"] = {k: v for k, v in report["against"].items() if k != "baseline_scores"}
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("imagery", help="the georef folder of the shared data")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--model", default="vehicles")
    ap.add_argument("--edge-pad", type=int, default=None)
    ap.add_argument("--score-threshold", type=float, default=None)
    ap.add_argument("--tta", type=int, default=1, help="views per chip (skyscan --tta)")
    ap.add_argument(
        "--against", default=None, help="also compare with this model (skyscan evaluate --against)"
    )
    args = ap.parse_args(argv)
    options = [] if args.edge_pad is None else ["--edge-pad", str(args.edge_pad)]
    if args.against:
        options += ["--against", args.against]
    if args.score_threshold is not None:
        options += ["--score-threshold", str(args.score_threshold)]
    if args.tta > 1:
        options += ["--tta", str(args.tta)]
    imagery = Path(args.imagery)
    shown_root = args.imagery.rstrip("/")

    result: dict[str, Any] = {
        "model": args.model,
        "edge_pad": args.edge_pad,
        "score_threshold": args.score_threshold,
        "tta": args.tta,
        "command": "python scripts/real_world_baseline.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "per_image": {},
        "per_split": {},
    }
    with tempfile.TemporaryDirectory(prefix="skyscan-baseline-") as tmp:
        t = Path(tmp)
        for place, (rel, labdir, split) in places().items():
            report, cmd = evaluate(
                imagery / rel,
                LABELS / labdir,
                t / f"{place}.json",
                args.model,
                options,
                (f"{shown_root}/{rel}", f"data/labels/{labdir}"),
            )
            result["per_image"][place] = {
                "image": rel,
                "split": split,
                "command": cmd,
                **summary(report),
            }
        for split in ("train", "validation", "test"):
            img_dir, lab_dir = t / split / "images", t / split / "labels"
            img_dir.mkdir(parents=True)
            lab_dir.mkdir(parents=True)
            names = []
            for rel, labdir, s in places().values():
                if s != split:
                    continue
                src = (imagery / rel).resolve()
                (img_dir / src.name).symlink_to(src)
                for suffix in SIDE_SUFFIXES:
                    for side in (src.with_suffix(suffix), src.parent / (src.name + suffix)):
                        if side.is_file() and not (img_dir / side.name).exists():
                            (img_dir / side.name).symlink_to(side)
                shutil.copy(LABELS / labdir / f"{src.stem}.txt", lab_dir / f"{src.stem}.txt")
                names.append(rel)
            report, cmd = evaluate(
                img_dir,
                lab_dir,
                t / f"split_{split}.json",
                args.model,
                options,
                ("SPLIT_IMAGES", "SPLIT_LABELS"),
            )
            result["per_split"][split] = {
                "images": names,
                "command": cmd,
                "note": "SPLIT_IMAGES / SPLIT_LABELS: a folder linking the split's "
                "images (with sidecars) and one with their label files",
                **summary(report),
            }

    from negatives_fp import main as negatives

    neg_out = Path(args.output).with_name(Path(args.output).stem + "_negatives.json")
    neg_args = [
        str(LABELS / "negative_regions.csv"),
        args.imagery,
        "-o",
        str(neg_out),
        "--model",
        args.model,
    ]
    if args.edge_pad is not None:
        neg_args += ["--edge-pad", str(args.edge_pad)]
    if args.tta > 1:
        neg_args += ["--tta", str(args.tta)]
    neg = negatives(neg_args)
    shown_out = neg_out.resolve()
    result["negatives"] = {
        "report": str(shown_out.relative_to(ROOT))
        if shown_out.is_relative_to(ROOT)
        else str(neg_out),
        "command": neg["command"].replace(str(ROOT) + "/", ""),
        "pooled": neg["pooled"],
        "by_split": neg["by_split"],
        "by_kind": neg["by_kind"],
        "by_image": neg["by_image"],
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    for place, r in result["per_image"].items():
        c = r["car"]
        print(
            f"{place:14s} {r['split']:10s} car AP50 {c['ap50']}  P {c['precision']:.3f}  R {c['recall']}  "
            f"labels {c['n_labels']}  detections {c['n_detections']}"
        )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
