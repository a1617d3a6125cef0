"""Start training from an existing model: a training checkpoint or an exported ONNX model.

A checkpoint (``best.pt`` / ``last.pt`` from :func:`skyscan.train.loop.train`) holds the
network's state as trained, batch-norm layers included. An exported ONNX file does not:
``torch.onnx.export`` in eval mode folds every batch norm into the convolution before it
(``W' = W·γ/√(σ²+ε)``, ``b' = β + (b − μ)·γ/√(σ²+ε)``), and γ, β, μ, σ² cannot be told
apart again. The ONNX weights are therefore loaded as the convolution's weight, with the
batch norm after it set to the identity (γ = 1, β = b', μ = 0, σ² = 1 − ε), which
reproduces the ONNX outputs in eval mode (up to float rounding). Training would replace those running
statistics by batch statistics, so such a network is fine-tuned with its batch norms
*frozen* (running statistics kept, γ and β still learned), as detectors are usually
fine-tuned (:attr:`TinyCenterNet.frozen_bn`).

The architecture comes from the model card's ``architecture`` entry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from skyscan.errors import ModelError
from skyscan.types import JsonObject

if TYPE_CHECKING:
    from skyscan.detectors.card import ModelCard
    from skyscan.train.model import CenterNet

FOLDED_BN_NOTE = (
    "batch norm folded into the convolutions at export: loaded as conv weights with identity "
    "batch norms, frozen during fine-tuning"
)


@dataclass(frozen=True)
class InitModel:
    """A network to start from and where it came from (recorded in the new card)."""

    net: CenterNet
    classes: tuple[str, ...]
    source: JsonObject
    # how its training chips labelled the vehicles they cut (skyscan.train.sampler): a
    # fine-tune keeps it unless asked otherwise
    cut_vehicles: str = "visible"


def load_init(model: str | Path) -> InitModel:
    """A ``.pt`` checkpoint, an ``.onnx`` file with its card, or a builtin model name."""
    from skyscan.detectors.registry import resolve_model

    path = resolve_model(model)
    if path.suffix == ".pt":
        return _from_checkpoint(path, str(model))
    if path.suffix == ".onnx":
        return _from_onnx(path, str(model))
    raise ModelError(
        f"--init {model}: expected a training checkpoint (.pt) or an ONNX model (.onnx)"
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _from_checkpoint(path: Path, given: str) -> InitModel:
    from skyscan.train.loop import load_checkpoint

    try:
        net, ckpt = load_checkpoint(path)
    except (KeyError, RuntimeError, OSError) as exc:
        raise ModelError(
            f"--init {path}: not a skyscan training checkpoint ({type(exc).__name__}: {exc})"
        ) from exc
    meta = ckpt["meta"]
    source = {
        "model": given,
        "path": str(path.resolve()),
        "kind": "checkpoint",
        "sha256": _sha256(path),
        "architecture": meta["model"],
        "step": ckpt.get("step"),
        "gsd": meta.get("config", {}).get("gsd"),
    }
    rule = meta.get("config", {}).get("cut_vehicles") or "visible"
    return InitModel(net, tuple(meta["classes"]), source, rule)


def _from_onnx(path: Path, given: str) -> InitModel:
    from skyscan.detectors.card import load_card
    from skyscan.train.model import model_from_config

    card = load_card(path)
    if "quantization" in card.extra:
        raise ModelError(
            f"--init {path}: a quantized model cannot be fine-tuned; start from its float model "
            f"({card.extra['quantization'].get('from', 'the .onnx it was quantized from')})"
        )
    arch = card.extra.get("architecture")
    if not isinstance(arch, dict) or arch.get("arch") != "tiny_centernet":
        raise ModelError(
            f"--init {path}: its card has no 'architecture' entry of a skyscan tiny_centernet "
            f"(got {arch!r}); only models trained by skyscan can be fine-tuned, other "
            "architectures from their checkpoint (best.pt or last.pt)"
        )
    classes = tuple(card.class_names)
    if int(arch["num_classes"]) != len(classes):
        raise ModelError(
            f"--init {path}: architecture has {arch['num_classes']} classes, the card lists {classes}"
        )
    net = model_from_config(arch)
    load_onnx_weights(net, path)
    net.frozen_bn = True
    net.eval()
    source = {
        "model": given,
        "path": str(path.resolve()),
        "kind": "onnx",
        "sha256": _sha256(path),
        "name": card.name,
        "version": card.version,
        "gsd": card.gsd,
        "architecture": net.config(),
        "batch_norm": FOLDED_BN_NOTE,
    }
    return InitModel(net, classes, source, trained_cut_vehicles(card))


def trained_cut_vehicles(card: ModelCard) -> str:
    """How an exported model's training chips labelled cut vehicles: its card's training
    config says, else its edge pad tells (cards made before the config said it): a model
    whose chips reached past image borders is run with a pad."""
    config = card.extra.get("training", {}).get("config", {})
    rule = config.get("cut_vehicles") if isinstance(config, dict) else None
    if isinstance(rule, str):
        return rule
    return "centre" if card.edge_pad > 0 else "visible"


def onnx_conv_weights(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Each ONNX Conv's (weight, bias), keyed by the torch module path it was exported from.

    ``torch.onnx.export`` names a node ``/net/<scope>/<module path>/Conv``, e.g.
    ``/net/stem/stem.0/stem.0.0/Conv`` → ``stem.0.0`` and ``/net/heatmap/Conv`` → ``heatmap``.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        parts = [p for p in node.name.split("/") if p]
        if len(parts) < 3 or parts[-1] != "Conv":
            raise ModelError(
                f"{path}: cannot tell which layer the Conv node {node.name!r} came from"
            )
        module = parts[-2]
        if node.input[1] not in inits or (
            len(node.input) > 2 and node.input[2] and node.input[2] not in inits
        ):
            raise ModelError(f"{path}: the weights of {node.name!r} are not initializers")
        bias = inits[node.input[2]] if len(node.input) > 2 and node.input[2] else None
        out[module] = (inits[node.input[1]], bias)
    return out


def load_onnx_weights(net: CenterNet, path: str | Path) -> None:
    """Copy an exported model's (batch-norm folded) weights into ``net`` (a TinyCenterNet)."""
    import torch
    from torch import nn

    weights = onnx_conv_weights(path)
    modules = dict(net.named_modules())
    convs = {name for name, m in modules.items() if isinstance(m, nn.Conv2d)}
    if set(weights) != convs:
        raise ModelError(
            f"{path}: its convolutions {sorted(weights)} do not match the architecture's {sorted(convs)}"
        )
    with torch.no_grad():
        for name, (w, b) in weights.items():
            conv = modules[name]
            if tuple(conv.weight.shape) != w.shape:
                raise ModelError(
                    f"{path}: {name} has weights {w.shape}, the architecture {tuple(conv.weight.shape)}"
                )
            conv.weight.copy_(torch.from_numpy(w.copy()))
            bias = torch.from_numpy(b.copy()) if b is not None else torch.zeros(w.shape[0])
            parent, _, index = name.rpartition(".")
            bn = modules.get(f"{parent}.{int(index) + 1}") if index.isdigit() else None
            if isinstance(bn, nn.BatchNorm2d):
                assert bn.running_mean is not None and bn.running_var is not None
                bn.weight.fill_(1.0)
                bn.bias.copy_(bias)
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)
            elif conv.bias is not None:
                conv.bias.copy_(bias)
            elif b is not None and np.any(b):
                raise ModelError(
                    f"{path}: {name} has a bias but neither a bias nor a batch norm in the architecture"
                )
