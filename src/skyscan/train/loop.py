"""The training loop: sample augmented chips, optimise, validate by place, export.

Training starts from scratch, or from an existing model (``init``: a checkpoint or an
exported ONNX model, :mod:`skyscan.train.init`) to fine-tune it, with AdamW, warm-up and cosine
decay over the step budget or the time budget, whichever runs out first. Every ``val_every`` steps the model is scored on the validation
split (whole images at the model GSD, AP@0.5 per class); the best checkpoint by
validation (car AP + mAP / 4: car is the target class) is the one exported.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from skyscan.errors import InputError
from skyscan.labels import ClassMapping
from skyscan.train import CUT_VEHICLES
from skyscan.train.augment import AugmentConfig
from skyscan.train.data import DataSpec, TrainImage, load_images
from skyscan.types import JsonObject

if TYPE_CHECKING:
    from skyscan.train.init import InitModel
    from skyscan.train.model import CenterNet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (recorded in the model card)."""

    gsd: float = 0.25  # model metres per pixel
    chip: int = 128  # training chip size (the network is fully convolutional)
    input_size: int = 256  # exported model input size
    steps: int = 3000
    batch: int = 16
    lr: float = 3e-3
    weight_decay: float = 1e-4
    widths: tuple[int, int, int] = (16, 32, 48)
    arch: str = "tiny_centernet"  # or "lite_centernet" (skyscan.train.model)
    val_every: int = 250
    seed: int = 0
    threads: int = 2
    score_threshold: float = 0.3
    time_limit_s: float = 3300.0  # stop early so a full run stays within an hour
    # Exponential moving average of the weights (0 = off). Validation, checkpoints and the
    # export use the averaged weights: with a few thousand small batches the raw weights
    # jitter from step to step, and the average scores more steadily on unseen places.
    ema: float = 0.999
    # Share of training chips centred near a labelled object; the rest are drawn anywhere,
    # which is where the background (roofs, road markings) that causes false positives is.
    p_object: float = 0.7
    # Share of chips drawn inside verified vehicle-free regions (forest, fields, water,
    # roofs): the backgrounds that give false vehicles on imagery unlike the training set.
    p_negative: float = 0.0
    # How a chip's edge labels the vehicles it cuts (skyscan.train.sampler): "visible" (their
    # clipped box; chips stay inside the image) or "centre" (whole, when the centre is in);
    # None: the way the init model was trained, else "visible"
    cut_vehicles: str | None = None
    aug: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        if self.input_size % 32 or self.chip % 32:
            raise InputError(
                f"'input_size' and 'chip' must be multiples of 32 (got {self.input_size}, {self.chip})"
            )
        if not self.gsd > 0:
            raise InputError(f"'gsd' must be > 0 metres (got {self.gsd})")
        if not 0 <= self.p_object <= 1:
            raise InputError(f"'p_object' must be in [0, 1] (got {self.p_object})")
        if not 0 <= self.p_negative <= 1:
            raise InputError(f"'p_negative' must be in [0, 1] (got {self.p_negative})")
        if self.cut_vehicles is not None and self.cut_vehicles not in CUT_VEHICLES:
            raise InputError(
                f"'cut_vehicles' must be one of {list(CUT_VEHICLES)} (got {self.cut_vehicles!r})"
            )
        if not 0 <= self.ema < 1:
            raise InputError(f"'ema' must be in [0, 1) (got {self.ema})")
        if self.steps < 1 or self.batch < 1:
            raise InputError(f"'steps' and 'batch' must be ≥ 1 (got {self.steps}, {self.batch})")


@dataclass
class TrainResult:
    checkpoint: Path
    steps: int
    seconds: float
    val: JsonObject
    history: list[JsonObject]
    cut_vehicles: str  # the rule the run's chips used (TrainConfig.cut_vehicles resolved)


def learning_rate(peak: float, progress: float, warmup: float = 0.05, floor: float = 0.02) -> float:
    """Linear warm-up, then cosine decay to ``floor · peak`` at ``progress`` = 1."""
    if progress < warmup:
        return peak * (0.1 + 0.9 * progress / warmup)
    t = min(1.0, (progress - warmup) / (1 - warmup))
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))


def validate(
    net: CenterNet, images: list[TrainImage], classes: tuple[str, ...], score_threshold: float
) -> JsonObject:
    """AP@0.5 per class on whole validation images (already at the model GSD)."""
    from skyscan.evaluate.metrics import evaluate_detections, mean_ap
    from skyscan.train.infer import predictions

    gts, dets = predictions(net, images)
    net.train()
    res = evaluate_detections(classes, gts, dets, score_threshold)
    return {"map50": mean_ap(res), "classes": {k: v.to_dict() for k, v in res.items()}}


def train(
    spec: DataSpec,
    out_dir: str | Path,
    cfg: TrainConfig,
    mapping: ClassMapping | None = None,
    init: InitModel | None = None,
) -> TrainResult:
    """Train (from scratch, or from ``init``); writes ``best.pt``, ``last.pt`` and ``log.jsonl`` under ``out_dir``."""
    import torch

    from skyscan.train.loss import centernet_loss
    from skyscan.train.model import STRIDE, build_model
    from skyscan.train.sampler import ChipSampler

    # None: fine-tune the way the init model learned
    rule = cfg.cut_vehicles or (init.cut_vehicles if init is not None else "visible")
    cfg = replace(cfg, cut_vehicles=rule)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    mapping = mapping or ClassMapping()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # Base resolution for training images: fine enough for the finest jittered GSD.
    base_gsd = cfg.gsd / cfg.aug.scale_jitter
    train_images, train_labels = load_images(spec.train, mapping, base_gsd)
    train_labels.issues.log_summary()
    val_images, val_labels = load_images(spec.val, mapping, cfg.gsd) if spec.val else ([], None)
    log.info(
        "train: %d images %s; val: %d images %s",
        len(train_images),
        train_labels.counts(),
        len(val_images),
        val_labels.counts() if val_labels else {},
    )
    classes = mapping.targets
    sampler = ChipSampler(
        train_images,
        len(classes),
        cfg.gsd,
        cfg.chip,
        STRIDE,
        cfg.aug,
        seed=cfg.seed,
        p_object=cfg.p_object,
        p_negative=cfg.p_negative,
        cut_vehicles=rule,
    )
    if init is None:
        net = build_model(len(classes), cfg.widths, cfg.arch)
    else:
        if init.classes != tuple(classes):
            raise InputError(
                f"the init model's classes {list(init.classes)} differ from the training classes "
                f"{list(classes)}"
            )
        shape = init.net.config()
        if shape["arch"] != cfg.arch or tuple(shape.get("widths", cfg.widths)) != cfg.widths:
            raise InputError(
                f"'arch' {cfg.arch} with 'widths' {list(cfg.widths)} differ from the init "
                f"model's {shape}"
            )
        net = init.net
    net.train()
    averaged = WeightAverage(net, cfg.ema) if cfg.ema > 0 else None
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    meta = {
        "model": net.config(),
        "config": _jsonable(asdict(cfg)),
        "classes": list(classes),
        "train_sources": [s.to_dict() for s in spec.train],
        "val_sources": [s.to_dict() for s in spec.val],
        "train_counts": train_labels.counts(),
        "val_counts": val_labels.counts() if val_labels else {},
        "label_issues": train_labels.issues.summary(),
        "init": init.source if init is not None else None,
        "frozen_bn": bool(net.frozen_bn),
    }
    history: list[JsonObject] = []
    best_score, best_val = -1.0, {}
    t0 = time.monotonic()
    logf = (out / "log.jsonl").open("w", encoding="utf-8")
    step = 0
    try:
        for step in range(1, cfg.steps + 1):
            elapsed = time.monotonic() - t0
            # Progress is steps or wall time, whichever is further along, so the learning
            # rate is annealed properly even when a busy machine makes steps slow.
            progress = max((step - 1) / cfg.steps, elapsed / cfg.time_limit_s)
            for group in opt.param_groups:
                group["lr"] = learning_rate(cfg.lr, progress)
            x, t = sampler.batch(cfg.batch)
            loss, parts = centernet_loss(net(x / 255.0), t)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
            opt.step()
            if averaged is not None:
                averaged.update(net, step)
            if not math.isfinite(float(loss.detach())):
                raise RuntimeError(f"training diverged at step {step} (loss {float(loss)})")
            elapsed = time.monotonic() - t0
            last = step == cfg.steps or elapsed >= cfg.time_limit_s
            if step % 25 == 0 or last:
                rec: JsonObject = {
                    "step": step,
                    "s": round(elapsed, 1),
                    "loss": round(float(loss.detach()), 4),
                    **{k: round(v, 4) for k, v in parts.items()},
                }
                scored = averaged.net if averaged is not None else net
                if (step % cfg.val_every == 0 or last) and val_images:
                    val = validate(scored, val_images, classes, cfg.score_threshold)
                    rec["val_map50"] = round(val["map50"], 4)
                    rec["val_ap"] = {k: round(v["ap50"], 4) for k, v in val["classes"].items()}
                    score = val["classes"][classes[0]]["ap50"] + 0.25 * val["map50"]
                    if score > best_score:
                        best_score, best_val = score, val
                        torch.save(
                            {"state": scored.state_dict(), "meta": meta, "step": step, "val": val},
                            out / "best.pt",
                        )
                history.append(rec)
                logf.write(json.dumps(rec) + "\n")
                logf.flush()
                log.info("%s", rec)
            if last:
                break
    finally:
        logf.close()
    seconds = time.monotonic() - t0
    final = averaged.net if averaged is not None else net
    torch.save(
        {"state": final.state_dict(), "meta": meta, "step": step, "val": best_val}, out / "last.pt"
    )
    if not val_images:
        torch.save(
            {"state": final.state_dict(), "meta": meta, "step": step, "val": {}}, out / "best.pt"
        )
    return TrainResult(out / "best.pt", step, seconds, best_val, history, rule)


class WeightAverage:
    """An exponential moving average of a network's weights (batch-norm statistics copied).

    The decay ramps up as ``(1 + step) / (10 + step)`` so the average is not dominated by the
    random initial weights early in short runs.
    """

    def __init__(self, net: CenterNet, decay: float) -> None:
        import copy

        self.decay = decay
        self.net = copy.deepcopy(net)
        self.net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)

    def update(self, net: CenterNet, step: int) -> None:
        import torch

        d = min(self.decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for avg, cur in zip(self.net.parameters(), net.parameters(), strict=True):
                avg.mul_(d).add_(cur.detach(), alpha=1 - d)
            for avg_b, cur_b in zip(self.net.buffers(), net.buffers(), strict=True):
                avg_b.copy_(cur_b)


def load_checkpoint(path: str | Path) -> tuple[CenterNet, JsonObject]:
    """The network and metadata stored by :func:`train`."""
    import torch

    from skyscan.train.model import model_from_config

    ckpt = torch.load(str(path), map_location="cpu", weights_only=False)
    net = model_from_config(ckpt["meta"]["model"])
    net.load_state_dict(ckpt["state"])
    net.frozen_bn = bool(ckpt["meta"].get("frozen_bn", False))
    net.eval()
    return net, ckpt


def _jsonable(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj
