"""Train and export in one call: what ``skyscan train`` runs."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skyscan.detectors.card import ModelCard, card_path_for, rewrite_card
from skyscan.errors import InputError, OutputExistsError
from skyscan.labels import ClassMapping
from skyscan.train.data import DataSpec
from skyscan.train.loop import TrainConfig, TrainResult, load_checkpoint, train
from skyscan.types import JsonObject

if TYPE_CHECKING:
    from skyscan.train.model import CenterNet

log = logging.getLogger(__name__)

#: how a card names the folders its training and evaluation data came from, once
DATA_ROOT_NOTE = (
    "$DATA: the shared data folder (../shared/data beside the repository, or $SKYSCAN_SHARED_DATA); "
    "data paths in this card are relative to it, and paths starting ./ to the directory the "
    "command ran in (the repository, for the shipped models)"
)


def data_root() -> Path:
    """The shared data folder: ``$SKYSCAN_SHARED_DATA``, else ``../shared/data``."""
    return Path(os.environ.get("SKYSCAN_SHARED_DATA", "../shared/data")).absolute()


def portable_paths(value: Any, root: str | Path, workdir: str | Path | None = None) -> Any:
    """``value`` (JSON) with paths under ``root`` made relative to it (``$DATA/...`` inside a
    command line) and other paths under ``workdir`` (default: the current directory) made
    ``./``-relative, so that a card records no machine's directory layout.

    >>> paths = {"images": "/d/kit/images", "labels": "/w/lab", "command": "train /d/kit/a /w/b"}
    >>> portable_paths(paths, "/d", "/w")
    {'images': 'kit/images', 'labels': './lab', 'command': 'train $DATA/kit/a ./b'}
    """
    prefixes = [(str(Path(root)).rstrip("/") + "/", "", "$DATA/")]
    work = str(Path(workdir or Path.cwd())).rstrip("/")
    if work:  # not the filesystem root, under which every path lies
        prefixes.append((work + "/", "./", "./"))
    if isinstance(value, dict):
        return {k: portable_paths(v, root, workdir) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(portable_paths(v, root, workdir) for v in value)
    if isinstance(value, str):
        for prefix, whole, _ in prefixes:
            if value.startswith(prefix) and " " not in value:
                return whole + value[len(prefix) :]
        for prefix, _, inside in prefixes:
            value = value.replace(prefix, inside)
    return value


def train_and_export(
    spec: DataSpec,
    output: str | Path,
    cfg: TrainConfig,
    *,
    run_dir: str | Path | None = None,
    name: str | None = None,
    command: str | None = None,
    overwrite: bool = False,
    mapping: ClassMapping | None = None,
    init: str | Path | None = None,
) -> tuple[Path, ModelCard, TrainResult]:
    """Train on ``spec`` and write ``output`` (.onnx) plus its card; checkpoints go to ``run_dir``.

    ``init`` fine-tunes an existing model (a ``.pt`` checkpoint, an ``.onnx`` model with its
    card, or a builtin name) instead of starting from scratch; its architecture is used.
    """
    from skyscan.train.export import export_model, make_card
    from skyscan.train.init import load_init

    out = Path(output)
    if out.suffix != ".onnx":
        raise InputError(f"output must end in .onnx (got {out})")
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} exists; pass overwrite=True / --overwrite to replace it")
    run = Path(run_dir) if run_dir else out.parent / f"{out.stem}-run"
    start = load_init(init) if init is not None else None
    if start is not None:  # the network's shape comes from the init model
        shape = start.net.config()
        cfg = replace(cfg, arch=shape["arch"], widths=tuple(shape.get("widths", cfg.widths)))
        log.info("network %s taken from the init model %s", shape, init)
    if start is not None and start.source.get("gsd") not in (None, cfg.gsd):
        log.warning(
            "fine-tuning %s (trained at %s m) at a model GSD of %s m",
            init,
            start.source["gsd"],
            cfg.gsd,
        )
    result = train(spec, run, cfg, mapping, start)
    net, ckpt = load_checkpoint(result.checkpoint)
    meta = ckpt["meta"]
    extra: JsonObject = {
        "data_root": DATA_ROOT_NOTE,
        "architecture": meta["model"],
        "training": {
            "framework": "pytorch",
            "from_scratch": start is None,
            "init": meta.get("init"),
            "sources": meta["train_sources"],
            "labelled_objects": meta["train_counts"],
            "label_issues": meta["label_issues"],
            "config": meta["config"],
            "steps_run": result.steps,
            "best_step": ckpt["step"],
            "seconds": round(result.seconds, 1),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": command,
        },
        "validation": {
            "note": "in-training check: whole images at the model GSD, torch, no NMS; "
            "see 'metrics' for the pipeline evaluation",
            "sources": meta["val_sources"],
            "labelled_objects": meta["val_counts"],
            "map50": ckpt["val"].get("map50"),
            "classes": ckpt["val"].get("classes"),
        },
    }
    scale, matches = fit_box_scale(spec, cfg, net, mapping)
    extra["box_scale_source"] = (
        f"mean side ratio of {matches} matched boxes on the training images (skyscan train)"
    )
    card = make_card(
        name or out.stem,
        tuple(meta["classes"]),
        cfg.input_size,
        cfg.gsd,
        cfg.score_threshold,
        extra=portable_paths(extra, data_root()),
        box_scale=(round(scale[0], 4), round(scale[1], 4)),
        cut_vehicles=result.cut_vehicles,
    )
    export_model(net, out, card)
    return out, card, result


def fit_box_scale(
    spec: DataSpec, cfg: TrainConfig, net: CenterNet, mapping: ClassMapping | None
) -> tuple[tuple[float, float], int]:
    """The card's box-size correction, fitted on the training images at the model GSD
    (:mod:`skyscan.train.box_scale`): held-out images stay held out."""
    from skyscan.train.box_scale import fit_on_images
    from skyscan.train.data import load_images

    # read again at the model GSD, the scale detection sees (training holds them finer)
    images, _ = load_images(spec.train, mapping or ClassMapping(), cfg.gsd)
    scale, matches = fit_on_images(net, images, net.num_classes, cfg.score_threshold)
    log.info("box_scale: longer x%.4f, shorter x%.4f (%d matched boxes)", *scale, matches)
    return scale, matches


def record_metrics(
    model_path: str | Path, key: str, report: JsonObject, command: str | None
) -> Path:
    """Store an evaluation report (and the command that measured it) in a model's card."""

    def edit(data: JsonObject) -> None:
        metrics = dict(data.get("metrics", {}))
        metrics[key] = {
            "map50": report["map50"],
            "classes": report["classes"],
            # every class as one vehicle: what a count of vehicles depends on
            "any_class": report.get("any_class"),
            "image_gsd": report.get("image_gsd"),
            "n_images": report.get("n_images"),
            "score_threshold": report.get("score_threshold"),
            "command": command,
        }
        data["metrics"] = portable_paths(metrics, data_root())
        data.setdefault("data_root", DATA_ROOT_NOTE)

    rewrite_card(model_path, edit)
    return card_path_for(model_path)
