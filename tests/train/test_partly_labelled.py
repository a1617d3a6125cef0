"""Partly labelled imagery in training: ignore regions switch the background loss off,
vehicle-free regions are drawn as hard negatives, and a source's weight changes how often
it is drawn."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skyscan.errors import InputError  # noqa: E402
from skyscan.train.augment import AugmentConfig, chip_affine, photometric  # noqa: E402
from skyscan.train.data import TrainImage, load_spec  # noqa: E402
from skyscan.train.loss import focal_loss  # noqa: E402
from skyscan.train.sampler import ChipSampler, labelled_share  # noqa: E402
from skyscan.train.targets import region_weight  # noqa: E402

NO_AUG = AugmentConfig(scale_jitter=1.0, rotate=False, flip=False)


def _image(
    ignore: list[list[float]], negatives: list[list[float]], weight: float = 1.0
) -> TrainImage:
    return TrainImage(
        pixels=np.zeros((400, 400, 3), np.uint8),
        boxes=np.zeros((0, 4), np.float32),
        labels=np.zeros(0, np.int64),
        gsd=0.25,
        path="x.tif",
        weight=weight,
        ignore=np.asarray(ignore, np.float32).reshape(-1, 4),
        negatives=np.asarray(negatives, np.float32).reshape(-1, 4),
    )


def test_region_weight_zero_in_ignore_but_one_in_vehicle_free() -> None:
    m = chip_affine((32.0, 32.0), 1.0, 0.0, False, 64)  # chip pixels == source pixels
    ignore = np.array([[0, 0, 32, 64]], np.float32)  # the left half
    free = np.array([[0, 0, 16, 16]], np.float32)  # verified vehicle-free corner inside it
    w = region_weight(m, 64, 8, ignore, free)[0]
    assert w.shape == (8, 8)
    assert w[:, 4:].min() == 1.0  # right half: labelled
    assert w[2:, :4].max() == 0.0  # left half below the corner: ignored
    assert w[:2, :2].min() == 1.0  # the vehicle-free corner counts


def test_region_weight_follows_rotation() -> None:
    """The weight map is computed in the source image, so it rotates with the chip."""
    ignore = np.array([[0, 0, 32, 64]], np.float32)
    m = chip_affine((32.0, 32.0), 1.0, np.pi, False, 64)  # a half turn: left becomes right
    w = region_weight(m, 64, 8, ignore, np.zeros((0, 4), np.float32))[0]
    assert w[:, 4:].max() == 0.0 and w[:, :4].min() == 1.0


def test_focal_loss_weight_switches_background_off() -> None:
    logits = torch.full((1, 1, 4, 4), 3.0)  # confident 'vehicle' everywhere
    target = torch.zeros((1, 1, 4, 4))
    assert float(focal_loss(logits, target)) > 1.0
    assert float(focal_loss(logits, target, weight=torch.zeros((1, 1, 4, 4)))) == 0.0


def test_negative_draws_lie_in_vehicle_free_regions() -> None:
    im = _image(ignore=[[0, 0, 400, 400]], negatives=[[300, 300, 360, 380]])
    s = ChipSampler([im], 3, 0.25, 32, 8, NO_AUG, seed=1, p_object=0.0, p_negative=1.0)
    for _ in range(20):
        _chip, _boxes, _labels, weight = s.sample()
        assert (
            weight is not None and weight[0, 2, 2] == 1.0
        )  # the chip's centre cell is vehicle-free


def test_random_centres_avoid_ignore_regions() -> None:
    im = _image(ignore=[[0, 0, 400, 300]], negatives=[])  # only the bottom quarter is labelled
    assert labelled_share(im) == pytest.approx(0.25, abs=0.02)
    s = ChipSampler([im], 3, 0.25, 32, 8, NO_AUG, seed=2, p_object=0.0)
    centres = [s._labelled_centre(im) for _ in range(200)]
    assert min(y for _x, y in centres) >= 300


def test_weight_and_labelled_area_set_draw_probability() -> None:
    a = _image(ignore=[], negatives=[])
    b = _image(ignore=[[0, 0, 400, 200]], negatives=[], weight=4.0)  # half labelled, drawn 4x
    s = ChipSampler([a, b], 3, 0.25, 32, 8, NO_AUG)
    np.testing.assert_allclose(s.p_image, [1 / 3, 2 / 3], atol=0.01)


def test_spec_reads_regions_and_weight(tmp_path: Path) -> None:
    (tmp_path / "ignore.csv").write_text("image,xmin,ymin,xmax,ymax\na.png,0,0,5,5\n")
    spec = {
        "train": [
            {
                "images": "im",
                "labels": "lb",
                "gsd": 0.3,
                "ignore": "ignore.csv",
                "negatives": "ignore.csv",
                "weight": 3,
            }
        ]
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    (src,) = load_spec(tmp_path / "spec.json").train
    assert src.weight == 3.0 and src.ignore == str(tmp_path / "ignore.csv")
    ignore, negatives = src.regions()
    assert ignore is not None and ignore.for_image("x/a.png").tolist() == [[0, 0, 5, 5]]
    assert negatives is not None
    spec["train"][0]["weight"] = 0
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    with pytest.raises(InputError, match="weight"):
        load_spec(tmp_path / "spec.json")


def test_sensor_augmentations_keep_range_and_shape() -> None:
    cfg = replace(AugmentConfig.sensors(), p_jpeg=1.0, p_shadow=1.0, p_haze=1.0)
    batch = torch.full((4, 3, 32, 32), 200.0)
    out = photometric(batch, cfg, torch.Generator().manual_seed(0))
    assert out.shape == batch.shape and float(out.min()) >= 0 and float(out.max()) <= 255
    # every chip has a shadow: one side is darker than the other
    left, right = out[..., :16].mean((1, 2, 3)), out[..., 16:].mean((1, 2, 3))
    top, bottom = out[..., :16, :].mean((1, 2, 3)), out[..., 16:, :].mean((1, 2, 3))
    assert bool(((left - right).abs() + (top - bottom).abs() > 5).all())
