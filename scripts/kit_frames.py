"""The KIT AIS Munich frames the scripts score on, and one ``skyscan evaluate`` of them.

Imported by scripts/border_recall.py, finetune_bn.py and chip_shape_trial.py (run as
``python scripts/NAME.py``, so this folder is on the import path).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from skyscan.evaluate.run import evaluate
from skyscan.labels.read import read_name_list
from skyscan.options import DetectSettings
from skyscan.train.run import data_root

ROOT = Path(__file__).resolve().parents[1]
KIT = data_root() / "kit-ais-munich"  # $SKYSCAN_SHARED_DATA, else ../shared/data
HELD_OUT = "seqC_MunichStreet02-MOS74-93.txt"  # the held-out street (splits/)
GSD = 0.13


def kit_report(
    data: Path, settings: DetectSettings, split: str = HELD_OUT, ignore: Path | None = None
) -> dict[str, Any]:
    """The ``skyscan evaluate`` report of ``settings`` on one split of the frames in ``data``."""
    return evaluate(
        data / "images",
        data / "labels",
        "yolo",
        classes=data / "classes.txt",
        names=read_name_list(data / "splits" / split),
        settings=settings,
        ignore_regions=ignore,
    ).to_dict()
