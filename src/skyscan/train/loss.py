"""CenterNet losses: penalty-reduced focal loss on the heatmap, L1 on log-size and offset."""

from __future__ import annotations

import torch


def focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    alpha: float = 2.0,
    beta: float = 4.0,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """CenterNet's focal loss (Law & Deng 2018), normalised by the number of centres;
    ``weight`` (N, 1, H, W) switches the background term off where it is 0 (ignore regions)."""
    pred = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    neg = 1 - pos
    pos_loss = torch.log(pred) * (1 - pred) ** alpha * pos
    neg_loss = torch.log(1 - pred) * pred**alpha * (1 - target) ** beta * neg
    if weight is not None:
        neg_loss = neg_loss * weight
    n = pos.sum().clamp(min=1.0)
    return -(pos_loss.sum() + neg_loss.sum()) / n


def centernet_loss(
    out: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    t: dict[str, torch.Tensor],
    wh_weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    heat, wh, off = out
    mask = t["reg_mask"]
    n = mask.sum().clamp(min=1.0)
    l_heat = focal_loss(heat, t["heatmap"], weight=t.get("weight"))
    l_wh = (torch.abs(wh - t["wh"]) * mask).sum() / n
    l_off = (torch.abs(torch.sigmoid(off) - t["offset"]) * mask).sum() / n
    total = l_heat + wh_weight * l_wh + l_off
    return total, {
        "heat": float(l_heat.detach()),
        "wh": float(l_wh.detach()),
        "off": float(l_off.detach()),
    }
