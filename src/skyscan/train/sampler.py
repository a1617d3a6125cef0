"""Random training chips: pick an image (by labelled area), a centre (often on an object,
rare classes more often; sometimes in a verified vehicle-free region, the hard negatives),
then rotate/flip/scale it (:mod:`skyscan.train.augment`).

Borders (``cut_vehicles``): by default (``"visible"``) a vehicle that a chip's edge cuts is
labelled with its visible part (the clipped box) when at least ``MIN_VISIBLE`` of it is
inside, so the model learns to report vehicles cut by an image's border, as detection asks
of it, and chips stay ``BORDER_BAND_M`` inside their image: labelled sets leave out
vehicles cut by the image border, and a chip that showed them unlabelled (or black beyond
the border) would teach the opposite. ``"centre"`` is how the shipped ``vehicles`` weights
were trained: a vehicle is labelled, whole, when its centre lies in the chip, and chips
reach past the image's border (black there); fine-tuning those weights this way keeps
what they learned (docs/model.md).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import torch

from skyscan.train import CUT_VEHICLES
from skyscan.train.augment import AugmentConfig, chip_affine, photometric, transform_boxes, warp
from skyscan.train.data import TrainImage
from skyscan.train.targets import encode, labelled, region_weight

MIN_VISIBLE = 0.3  # a cut vehicle is labelled (clipped) when this much of it is in the chip
BORDER_BAND_M = 5.0  # chips keep this far inside an image's border (about a car's length)
CENTRE_TRIES = 20  # random centres drawn until one lies where the image is labelled


def centre_inside(
    centre: tuple[float, float], half: tuple[float, float], width: int, height: int, band: float
) -> tuple[float, float]:
    """``centre`` moved so a footprint of ``half`` extents stays ``band`` inside a
    ``width x height`` image; an axis too short for that keeps the image's middle."""
    out = []
    for c, h, size in ((centre[0], half[0], width), (centre[1], half[1], height)):
        lo, hi = band + h, size - band - h
        out.append(float(np.clip(c, lo, hi)) if lo <= hi else size / 2)
    return out[0], out[1]


def clip_to_chip(
    boxes: npt.NDArray[np.float32],
    labels: npt.NDArray[np.int64],
    chip: int,
    min_visible: float = MIN_VISIBLE,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Boxes clipped to the chip, kept when at least ``min_visible`` of each is inside."""
    clipped = boxes.clip(0, chip)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    visible = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    keep = (visible > 0) & (visible >= min_visible * area)
    return clipped[keep], labels[keep]


def centred_in_chip(
    boxes: npt.NDArray[np.float32], labels: npt.NDArray[np.int64], chip: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Whole boxes whose centre lies in the chip."""
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    inside = (cx >= 0) & (cx < chip) & (cy >= 0) & (cy < chip)
    return boxes[inside], labels[inside]


class ChipSampler:
    """Draws augmented chip batches with CenterNet targets."""

    def __init__(
        self,
        images: list[TrainImage],
        num_classes: int,
        model_gsd: float,
        chip: int,
        stride: int,
        aug: AugmentConfig,
        seed: int = 0,
        p_object: float = 0.7,
        class_boost: tuple[float, ...] = (1.0, 8.0, 4.0),
        p_negative: float = 0.0,
        cut_vehicles: str = "visible",
    ) -> None:
        if cut_vehicles not in CUT_VEHICLES:
            raise ValueError(f"cut_vehicles must be one of {CUT_VEHICLES} (got {cut_vehicles!r})")
        self.cut_vehicles = cut_vehicles
        self.images = images
        self.num_classes = num_classes
        self.model_gsd = model_gsd
        self.chip = chip
        self.stride = stride
        self.aug = aug
        self.p_object = p_object
        self.rng = np.random.default_rng(seed)
        self.gen = torch.Generator().manual_seed(seed)
        self.tensors = [
            torch.from_numpy(im.pixels.copy()).permute(2, 0, 1).float() for im in images
        ]
        area = np.array(
            [
                im.pixels.shape[0] * im.pixels.shape[1] * im.gsd**2 * labelled_share(im) * im.weight
                for im in images
            ]
        )
        self.p_image = area / area.sum()
        boost = np.asarray(class_boost, np.float64)
        # object-centred draws: every labelled object, rare classes boosted
        self.objects = [(k, n) for k, im in enumerate(images) for n in range(len(im.labels))]
        if self.objects:
            w = np.array(
                [
                    boost[min(images[k].labels[n], len(boost) - 1)] * images[k].weight
                    for k, n in self.objects
                ]
            )
            self.p_object_pick = w / w.sum()
        # hard-negative draws: verified vehicle-free regions, by ground area
        self.negatives = [(k, r) for k, im in enumerate(images) for r in im.negatives]
        self.p_negative = p_negative if self.negatives else 0.0
        if self.negatives:
            a = np.array(
                [
                    (r[2] - r[0]) * (r[3] - r[1]) * images[k].gsd ** 2 * images[k].weight
                    for k, r in self.negatives
                ]
            )
            self.p_negative_pick = a / a.sum()

    def sample(
        self,
    ) -> tuple[
        torch.Tensor, npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.float32] | None
    ]:
        """One chip (3, S, S) in 0..255, its boxes in chip pixels, and its loss weight
        (None where the whole chip is labelled)."""
        draw = self.rng.random()
        if draw < self.p_negative:
            k, r = self.negatives[self.rng.choice(len(self.negatives), p=self.p_negative_pick)]
            im = self.images[k]
            centre = (self.rng.uniform(r[0], r[2]), self.rng.uniform(r[1], r[3]))
        elif self.objects and draw < self.p_negative + (1 - self.p_negative) * self.p_object:
            k, n = self.objects[self.rng.choice(len(self.objects), p=self.p_object_pick)]
            im = self.images[k]
            b = im.boxes[n]
            centre = ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
            spread = self.chip * 0.4 * self.model_gsd / im.gsd
            centre = (
                centre[0] + self.rng.uniform(-spread, spread),
                centre[1] + self.rng.uniform(-spread, spread),
            )
        else:
            k = int(self.rng.choice(len(self.images), p=self.p_image))
            im = self.images[k]
            centre = self._labelled_centre(im)
        j = self.aug.scale_jitter
        gsd_out = self.model_gsd * math.exp(self.rng.uniform(-math.log(j), math.log(j)))
        scale = gsd_out / im.gsd
        angle = self.rng.uniform(0, 2 * math.pi) if self.aug.rotate else 0.0
        flip = bool(self.aug.flip and self.rng.random() < 0.5)
        if self.cut_vehicles == "visible":
            h, w = im.pixels.shape[:2]
            # the rotated chip's half extents in image pixels
            reach = self.chip * scale / 2 * (abs(math.cos(angle)) + abs(math.sin(angle)))
            centre = centre_inside(centre, (reach, reach), w, h, BORDER_BAND_M / im.gsd)
        m = chip_affine(centre, scale, angle, flip, self.chip)
        chip = warp(self.tensors[k], m, self.chip)
        boxes = transform_boxes(im.boxes, np.linalg.inv(m).astype(np.float64))
        if self.cut_vehicles == "visible":
            boxes, labels = clip_to_chip(boxes, im.labels, self.chip)
        else:
            boxes, labels = centred_in_chip(boxes, im.labels, self.chip)
        weight = (
            region_weight(m, self.chip, self.stride, im.ignore, im.negatives)
            if len(im.ignore)
            else None
        )
        return chip, boxes, labels, weight

    def _labelled_centre(self, im: TrainImage) -> tuple[float, float]:
        """A uniform centre, redrawn while it falls where the image is not labelled."""
        h, w = im.pixels.shape[:2]
        for _ in range(CENTRE_TRIES):
            x, y = self.rng.uniform(0, w), self.rng.uniform(0, h)
            if not _ignored(im, np.array(x), np.array(y)):
                break
        return x, y

    def batch(self, n: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        chips, targets = [], []
        for _ in range(n):
            chip, boxes, labels, weight = self.sample()
            chips.append(chip)
            targets.append(
                encode(boxes, labels, self.num_classes, self.chip, self.stride, weight=weight)
            )
        x = photometric(torch.stack(chips), self.aug, self.gen)
        t = {key: torch.from_numpy(np.stack([d[key] for d in targets])) for key in targets[0]}
        return x, t


def _ignored(
    im: TrainImage, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    return labelled(x, y, im.ignore, im.negatives) == 0


def labelled_share(im: TrainImage, grid: int = 64) -> float:
    """The share of an image outside its ignore regions (or inside vehicle-free ones), on a grid."""
    if len(im.ignore) == 0:
        return 1.0
    h, w = im.pixels.shape[:2]
    ys, xs = np.mgrid[0:grid, 0:grid].astype(np.float64)
    return float(1.0 - _ignored(im, (xs + 0.5) * w / grid, (ys + 0.5) * h / grid).mean())
