"""Fine-tuning the shipped ONNX model with its folded batch norms frozen, and live.

    python scripts/finetune_bn.py --steps 150 -o docs/results/finetune_bn.json

The export folded every batch norm into its convolution, so ``--init vehicles`` loads them
as the identity (skyscan.train.init). Frozen, they keep those statistics in training;
live, batch statistics replace them from the first step. Both runs fine-tune on KIT seqB
(one street) and are scored by ``skyscan evaluate`` on seqC (another street, never trained
on), beside the shipped model.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from kit_frames import GSD, HELD_OUT, KIT, kit_report

from skyscan.labels.read import read_name_list
from skyscan.options import DetectSettings
from skyscan.train.data import DataSpec, SourceSpec
from skyscan.train.export import export_model, make_card
from skyscan.train.init import load_init
from skyscan.train.loop import TrainConfig, load_checkpoint, train
from skyscan.train.model import model_config

TRAIN, TEST = "seqB_MOS155-179_street.txt", HELD_OUT


def score(data: Path, model: str) -> dict[str, object]:
    report = kit_report(data, DetectSettings(model=model, gsd=GSD))
    car = report["classes"]["car"]
    return {
        "car_ap50": car["ap50"],
        "car_precision": car["precision"],
        "car_recall": car["recall"],
        "map50": report["map50"],
    }


def fine_tune(data: Path, frozen: bool, cfg: TrainConfig, out: Path) -> dict[str, object]:
    source = SourceSpec(
        str(data / "images"),
        str(data / "labels"),
        "yolo",
        GSD,
        str(data / "classes.txt"),
        tuple(read_name_list(data / "splits" / TRAIN)),
    )
    init = load_init("vehicles")
    init.net.frozen_bn = frozen
    t0 = time.monotonic()
    result = train(DataSpec((source,)), out / ("frozen" if frozen else "live"), cfg, None, init)
    net, _ = load_checkpoint(result.checkpoint)
    model = out / f"{'frozen' if frozen else 'live'}.onnx"
    export_model(
        net,
        model,
        make_card(
            model.stem,
            ("car", "truck", "bus"),
            256,
            0.25,
            0.3,
            extra={"architecture": model_config(net)},
        ),
    )
    return {
        "batch_norm": "frozen" if frozen else "live",
        "steps": result.steps,
        "seconds": round(time.monotonic() - t0, 1),
        **score(data, str(model)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=KIT.resolve())
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    cfg = TrainConfig(
        steps=args.steps, lr=args.lr, threads=args.threads, val_every=10**6, time_limit_s=3000
    )
    with tempfile.TemporaryDirectory() as tmp:
        runs = [fine_tune(args.data, frozen, cfg, Path(tmp)) for frozen in (True, False)]
    result = {
        "command": f"python scripts/finetune_bn.py --steps {args.steps} --lr {args.lr} "
        f"--threads {args.threads} -o {args.output}",
        "train": f"KIT {TRAIN}",
        "test": f"KIT {TEST}",
        "lr": args.lr,
        "shipped": score(args.data, "vehicles"),
        "runs": runs,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
