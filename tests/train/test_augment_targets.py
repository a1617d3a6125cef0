"""Augmentation geometry and CenterNet targets: boxes follow the pixels they label."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skyscan.train.augment import chip_affine, transform_boxes, warp  # noqa: E402
from skyscan.train.loop import learning_rate  # noqa: E402
from skyscan.train.targets import encode  # noqa: E402


@pytest.mark.parametrize("angle", [0.0, 0.3, math.pi / 4, 1.2, math.pi / 2, 2.5, math.pi, 4.0])
@pytest.mark.parametrize("flip", [False, True])
def test_warped_box_matches_warped_pixels(angle: float, flip: bool) -> None:
    """A bright axis-aligned rectangle, warped: its transformed box is the AABB of the
    bright pixels in the chip (within a pixel of resampling)."""
    img = np.zeros((3, 120, 160), np.float32)
    x0, y0, x1, y1 = 70, 50, 100, 64  # a 30x14 'car'
    img[:, y0:y1, x0:x1] = 255
    size = 64
    m = chip_affine(((x0 + x1) / 2, (y0 + y1) / 2), 0.8, angle, flip, size)
    chip = warp(torch.from_numpy(img), m, size)[0].numpy()
    (box,) = transform_boxes(np.array([[x0, y0, x1, y1]], np.float32), np.linalg.inv(m))
    ys, xs = np.nonzero(chip > 127)
    seen = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)
    np.testing.assert_allclose(box, seen, atol=1.6)


def test_scale_maps_source_to_chip_size() -> None:
    m = chip_affine((50.0, 50.0), 2.0, 0.0, False, 32)  # 2 source px per chip px
    (box,) = transform_boxes(np.array([[40, 40, 60, 50]], np.float32), np.linalg.inv(m))
    np.testing.assert_allclose(box, [11, 11, 21, 16], atol=1e-4)


def test_encode_centre_size_offset() -> None:
    t = encode(
        np.array([[10, 20, 30, 28]], np.float32), np.array([1]), num_classes=3, size=64, stride=4
    )
    # centre (20, 24) px -> cell (i=6, j=5), offset (0, 0); size 20x8 px -> log(5), log(2) cells
    assert t["heatmap"].shape == (3, 16, 16)
    assert t["heatmap"][1, 6, 5] == 1.0 and t["heatmap"][0].max() == 0.0
    assert t["reg_mask"].sum() == 1 and t["reg_mask"][0, 6, 5] == 1
    np.testing.assert_allclose(t["wh"][:, 6, 5], np.log([5.0, 2.0]), rtol=1e-6)
    np.testing.assert_allclose(t["offset"][:, 6, 5], [0.0, 0.0], atol=1e-6)
    # elliptic Gaussian: wider along the box's long side
    assert t["heatmap"][1, 6, 6] > t["heatmap"][1, 7, 5]


def test_encode_sub_cell_offset_and_outside_boxes() -> None:
    t = encode(
        np.array([[1, 1, 6, 4], [100, 100, 110, 110]], np.float32), np.array([0, 0]), 1, 32, 4
    )
    # centre (3.5, 2.5) -> cells (0.875, 0.625): cell (0, 0), offset (0.875, 0.625)
    np.testing.assert_allclose(t["offset"][:, 0, 0], [0.875, 0.625], rtol=1e-6)
    assert t["reg_mask"].sum() == 1  # the box centred outside the chip is not a target


def test_learning_rate_schedule() -> None:
    assert learning_rate(1.0, 0.0) == pytest.approx(0.1)
    assert learning_rate(1.0, 0.05) == pytest.approx(1.0)
    assert learning_rate(1.0, 1.0) == pytest.approx(0.02)
    assert learning_rate(1.0, 2.0) == pytest.approx(0.02)


def test_p_object_sets_the_share_of_object_centred_chips() -> None:
    """One small car in a large empty image: object-centred chips nearly always hold it, chips
    drawn anywhere almost never do, so the share with an object follows ``p_object``."""
    from skyscan.train.augment import AugmentConfig
    from skyscan.train.data import TrainImage
    from skyscan.train.sampler import ChipSampler

    image = TrainImage(
        np.zeros((1024, 1024, 3), np.uint8),
        np.array([[500, 500, 516, 508]], np.float32),
        np.array([0]),
        0.25,
        "synthetic",
    )
    for p_object, low, high in ((1.0, 0.9, 1.0), (0.3, 0.2, 0.4), (0.0, 0.0, 0.05)):
        sampler = ChipSampler([image], 3, 0.25, 64, 4, AugmentConfig(), seed=0, p_object=p_object)
        share = np.mean([len(sampler.sample()[1]) > 0 for _ in range(200)])
        assert low <= share <= high, (p_object, share)


def test_cut_vehicles_are_labelled_with_their_visible_part() -> None:
    from skyscan.train.sampler import clip_to_chip

    boxes = np.array(
        [[-10, 0, 10, 10], [-18, 0, 2, 10], [50, 50, 60, 60], [110, 110, 140, 140]], np.float32
    )
    kept, labels = clip_to_chip(boxes, np.array([0, 1, 2, 0]), 128)
    # half visible: clipped and kept; a tenth visible: dropped; inside: as is; a 36 % corner: kept
    assert kept.tolist() == [[0, 0, 10, 10], [50, 50, 60, 60], [110, 110, 128, 128]]
    assert labels.tolist() == [0, 2, 0]


def test_chips_stay_inside_the_border_band() -> None:
    from skyscan.train.sampler import centre_inside

    assert centre_inside((5.0, 500.0), (100.0, 100.0), 1000, 800, 40.0) == (140.0, 500.0)
    assert centre_inside((990.0, 790.0), (100.0, 100.0), 1000, 800, 40.0) == (860.0, 660.0)
    # an axis too short for the footprint keeps the image's middle
    assert centre_inside((10.0, 10.0), (100.0, 300.0), 1000, 500, 40.0) == (140.0, 250.0)


def test_centre_rule_labels_whole_vehicles_whose_centre_is_in_the_chip() -> None:
    from skyscan.train.sampler import centred_in_chip

    boxes = np.array(
        [[-10, 0, 10, 10], [-18, 0, 2, 10], [50, 50, 60, 60], [110, 110, 140, 140]], np.float32
    )
    kept, labels = centred_in_chip(boxes, np.array([0, 1, 2, 0]), 128)
    # centre at x = 0: in, whole; x = -8: out; inside: as is; centre (125, 125): in, whole
    assert kept.tolist() == [[-10, 0, 10, 10], [50, 50, 60, 60], [110, 110, 140, 140]]
    assert labels.tolist() == [0, 2, 0]


def test_centre_rule_lets_chips_reach_past_the_image_border() -> None:
    """With ``cut_vehicles="centre"`` a chip centred on a vehicle at the image's corner
    reaches past it (black there); with the default it is moved inside the border band."""
    from skyscan.train.augment import AugmentConfig
    from skyscan.train.data import TrainImage
    from skyscan.train.sampler import ChipSampler

    pixels = np.full((200, 200, 3), 200, np.uint8)
    box = np.array([[0, 0, 16, 8]], np.float32)
    image = TrainImage(pixels, box, np.array([0]), 0.25, "corner.png")
    plain = AugmentConfig(
        scale_jitter=1.0,
        rotate=False,
        flip=False,
        p_gray=0,
        p_blur=0,
        p_noise=0,
        p_degrade=0,
        brightness=0,
        contrast=0,
        saturation=0,
        colour_cast=0,
    )
    for rule, black in (("centre", True), ("visible", False)):
        sampler = ChipSampler([image], 3, 0.25, 64, 4, plain, p_object=1.0, cut_vehicles=rule)
        chips = [sampler.sample()[0] for _ in range(20)]
        assert any(bool((c == 0).all(dim=0).any()) for c in chips) is black, rule
    with pytest.raises(ValueError, match="cut_vehicles must be one of"):
        ChipSampler([image], 3, 0.25, 64, 4, plain, cut_vehicles="whole")
