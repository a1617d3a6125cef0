"""Augmentation for overhead imagery: any-angle rotation, flips, GSD jitter, photometry.

A training chip is an affine view of a source image: output pixel centre ``u`` (in chip
pixels) comes from source point ``x = c + s · R(θ) · F · (u - S/2)``, where ``c`` is the
chip centre in the source, ``s`` the source pixels per chip pixel (``gsd_out / gsd_src``,
jittered), ``R(θ)`` a rotation by any angle and ``F`` an optional mirror. Boxes map through
the inverse transform; a rotated box becomes the axis-aligned box of its rotated corners,
which is exact for a vehicle that was axis-aligned in the source (most of the labelled
street traffic) and what an annotator would draw for a vehicle at that angle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    scale_jitter: float = 1.3  # gsd_out / model gsd in [1/j, j], log-uniform
    rotate: bool = True  # any angle in [0, 2π)
    flip: bool = True
    p_gray: float = 0.3  # panchromatic imagery
    p_blur: float = 0.3
    max_blur_sigma: float = 1.2
    p_noise: float = 0.2
    p_degrade: float = (
        0.3  # coarser source imagery (e.g. 0.5 m satellite) upsampled to the model GSD
    )
    max_degrade: float = 2.5
    brightness: float = 0.25
    contrast: float = 0.3
    saturation: float = 0.4
    colour_cast: float = 0.06  # per-channel gain: white balance
    # Other sensors and other light, off by default (see :meth:`sensors`)
    p_haze: float = 0.0  # an additive veil (haze, thin cloud, flat-looking satellite scenes)
    p_shadow: float = 0.0  # a straight-edged shadow across the chip (buildings, low sun)
    p_jpeg: float = 0.0  # JPEG compression at quality 15..70 (web orthophotos, COG JPEG tiles)

    @classmethod
    def sensors(cls) -> AugmentConfig:
        """Imitate other sensors and light: stronger colour casts, haze, shadows and JPEG.
        Off by default: on the KIT street they cost in-domain AP (docs/model.md, the
        generalisation candidates), and what they buy elsewhere is not yet shown."""
        return cls(colour_cast=0.15, p_haze=0.2, p_shadow=0.3, p_jpeg=0.3)


def chip_affine(
    centre: tuple[float, float], scale: float, angle: float, flip: bool, size: int
) -> npt.NDArray[np.float64]:
    """3×3 matrix mapping chip pixel coordinates to source pixel coordinates."""
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]]) * scale
    if flip:
        rot = rot @ np.diag([-1.0, 1.0])
    m = np.eye(3)
    m[:2, :2] = rot
    m[:2, 2] = np.asarray(centre) - rot @ np.array([size / 2, size / 2])
    return m


def transform_boxes(
    boxes: npt.NDArray[np.float32], src_to_chip: npt.NDArray[np.float64]
) -> npt.NDArray[np.float32]:
    """Axis-aligned boxes of the transformed corners of xyxy ``boxes``."""
    if len(boxes) == 0:
        return boxes.reshape(0, 4)
    x0, y0, x1, y1 = boxes.T
    corners = np.stack(
        [np.stack([x0, y0]), np.stack([x1, y0]), np.stack([x1, y1]), np.stack([x0, y1])]
    )  # (4,2,N)
    pts = np.einsum("ij,kjn->kin", src_to_chip[:2, :2], corners) + src_to_chip[:2, 2][None, :, None]
    return np.stack(
        [pts[:, 0].min(0), pts[:, 1].min(0), pts[:, 0].max(0), pts[:, 1].max(0)], axis=1
    ).astype(np.float32)


def warp(image: torch.Tensor, chip_to_src: npt.NDArray[np.float64], size: int) -> torch.Tensor:
    """Sample a (3, size, size) chip from a (3, H, W) float image; outside is black."""
    _, h, w = image.shape
    u = torch.arange(size, dtype=torch.float64) + 0.5
    uu, vv = torch.meshgrid(u, u, indexing="xy")
    m = torch.from_numpy(chip_to_src)
    x = m[0, 0] * uu + m[0, 1] * vv + m[0, 2]
    y = m[1, 0] * uu + m[1, 1] * vv + m[1, 2]
    grid = torch.stack([2 * x / w - 1, 2 * y / h - 1], dim=-1).float()[None]
    return F.grid_sample(
        image[None], grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )[0]


def photometric(batch: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Colour, shadow, haze, grayscale, resolution loss, blur, noise and JPEG on a (N, 3, H, W)
    batch in 0..255: what other sensors and other light do to the same ground."""
    n = batch.shape[0]

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=gen)

    gray = batch.mean(1, keepdim=True)
    sat = 1 + (rand(n, 1, 1, 1) * 2 - 1) * cfg.saturation
    batch = gray + (batch - gray) * sat
    mean = batch.mean((1, 2, 3), keepdim=True)
    con = 1 + (rand(n, 1, 1, 1) * 2 - 1) * cfg.contrast
    bri = 1 + (rand(n, 1, 1, 1) * 2 - 1) * cfg.brightness
    batch = ((batch - mean) * con + mean) * bri
    batch = batch * (1 + (rand(n, 3, 1, 1) * 2 - 1) * cfg.colour_cast)
    batch = _shadow(batch, cfg.p_shadow, gen)
    hazy = (rand(n, 1, 1, 1) < cfg.p_haze).float()
    batch = batch * (1 - 0.3 * hazy * rand(n, 1, 1, 1)) + hazy * rand(n, 1, 1, 1) * 60
    to_gray = rand(n, 1, 1, 1) < cfg.p_gray
    batch = torch.where(to_gray, batch.mean(1, keepdim=True).expand_as(batch), batch)
    for i in range(n):
        if float(rand(1)) < cfg.p_degrade:
            batch[i] = _degrade(batch[i], 1.3 + float(rand(1)) * (cfg.max_degrade - 1.3))
        if float(rand(1)) < cfg.p_blur:
            sigma = 0.3 + float(rand(1)) * (cfg.max_blur_sigma - 0.3)
            batch[i] = _blur(batch[i], sigma)
    noisy = (rand(n, 1, 1, 1) < cfg.p_noise).float()
    batch = (
        batch + noisy * torch.randn(batch.shape, generator=gen) * (rand(n, 1, 1, 1) * 6)
    ).clamp(0, 255)
    for i in range(n):
        if float(rand(1)) < cfg.p_jpeg:
            batch[i] = _jpeg(batch[i], int(15 + float(rand(1)) * 55))
    return batch


def _shadow(batch: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    """Darken one side of a random line across each chosen chip (soft 2 px edge)."""
    n, _, h, w = batch.shape
    chosen = torch.rand(n, generator=gen) < p
    if not bool(chosen.any()):
        return batch
    angle = torch.rand(n, generator=gen) * 2 * math.pi
    offset = (torch.rand(n, generator=gen) - 0.5) * min(h, w)
    ys, xs = torch.meshgrid(torch.arange(h) - h / 2, torch.arange(w) - w / 2, indexing="ij")
    dist = (
        xs[None] * torch.cos(angle)[:, None, None]
        + ys[None] * torch.sin(angle)[:, None, None]
        - offset[:, None, None]
    )
    side = torch.sigmoid(dist / 2)  # 1 on the shadowed side
    depth = 0.35 + torch.rand(n, generator=gen) * 0.4  # the shadow keeps 25..60 % of the light
    factor = 1 - side * (depth * chosen.float())[:, None, None]
    return batch * factor[:, None]


def _jpeg(img: torch.Tensor, quality: int) -> torch.Tensor:
    """A (3, H, W) 0..255 image through JPEG encoding at ``quality`` and back."""
    import io

    from PIL import Image

    arr = img.round().clamp(0, 255).byte().permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    out = np.asarray(Image.open(buf).convert("RGB"))
    return torch.from_numpy(out.copy()).permute(2, 0, 1).float()


def _degrade(img: torch.Tensor, factor: float) -> torch.Tensor:
    """Down-sample by ``factor`` (area) and back up (bilinear): what a pipeline does to
    imagery coarser than the model GSD."""
    h, w = img.shape[-2:]
    small = F.interpolate(
        img[None], size=(max(1, round(h / factor)), max(1, round(w / factor))), mode="area"
    )
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)[0]


def _blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    r = max(1, math.ceil(2 * sigma))
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    k = k / k.sum()
    c = img.shape[0]
    out = F.conv2d(
        F.pad(img[None], (r, r, 0, 0), mode="replicate"),
        k.view(1, 1, 1, -1).repeat(c, 1, 1, 1),
        groups=c,
    )
    out = F.conv2d(
        F.pad(out, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c
    )
    return out[0]
