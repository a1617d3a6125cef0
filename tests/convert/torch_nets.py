"""Tiny PyTorch models for the convert tests, in a module of their own so that a pickled
instance can be loaded by a ``skyscan convert`` subprocess (PYTHONPATH = this folder)."""

from __future__ import annotations

import torch


class BrightChip(torch.nn.Module):
    """Logits (background, car): car when the chip's mean brightness is above one half."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logit = (x.mean(dim=(1, 2, 3)) - 0.5) * 40.0
        return torch.stack([-logit, logit], dim=1)


class Heads(torch.nn.Module):
    """CenterNet-style heads returned as a dict in an order unlike the card's."""

    def __init__(self, classes: int = 3, stride: int = 4) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Conv2d(3, 8, stride, stride=stride)
        self.heat = torch.nn.Conv2d(8, classes, 1)
        self.wh = torch.nn.Conv2d(8, 2, 1)
        self.off = torch.nn.Conv2d(8, 2, 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = torch.relu(self.body(x))
        return {"offset": self.off(f), "wh": self.wh(f), "heatmap": torch.sigmoid(self.heat(f))}


class TwoOutputs(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x.mean(dim=(2, 3)), x.amax(dim=(2, 3))
