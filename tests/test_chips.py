"""Chip grid maths: coverage, overlap and edge alignment as properties, plus exact cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyscan.chips import (
    axis_offsets,
    chip_boxes_to_image,
    chip_size_in_source,
    fitted_chip_side,
    interior_edges,
    plan_chips,
)
from skyscan.errors import InputError
from skyscan.types import ChipWindow

sizes = st.integers(min_value=1, max_value=3000)
chips = st.integers(min_value=1, max_value=700)
overlaps = st.floats(min_value=0.0, max_value=0.5, allow_nan=False)


@st.composite
def image_and_chip(draw: st.DrawFn) -> tuple[int, int, int]:
    """A chip size and an image at most ~12 chips across (keeps plans small and tests fast)."""
    chip = draw(chips)
    side = st.integers(min_value=1, max_value=min(3000, 12 * chip))
    return draw(side), draw(side), chip


@settings(max_examples=150, deadline=None)
@given(dims=image_and_chip(), overlap=overlaps)
def test_plan_covers_every_pixel_and_stays_inside(
    dims: tuple[int, int, int], overlap: float
) -> None:
    width, height, chip = dims
    plan = plan_chips(width, height, chip_src=chip, out_size=256, overlap=overlap)
    cols = sorted({w.col_off for w in plan})
    rows = sorted({w.row_off for w in plan})
    assert len(plan) == len(cols) * len(rows)  # a full grid, no duplicates
    for w in plan:
        assert (w.width, w.height, w.out_width, w.out_height) == (chip, chip, 256, 256)
        assert 0 <= w.col_off < width and 0 <= w.row_off < height  # no chip starts outside
    # Coverage per axis (the plan is a grid, so per-axis coverage is full coverage).
    for offsets, length in ((cols, width), (rows, height)):
        covered = np.zeros(length, bool)
        for off in offsets:
            covered[off : off + chip] = True
        assert covered.all()
        if length >= chip:
            assert offsets[-1] + chip == length  # last chip aligned to the edge, no padding
        else:
            assert offsets == [0]  # smaller than a chip: one chip, the reader pads


@settings(max_examples=200, deadline=None)
@given(length=sizes, chip=chips, overlap=overlaps)
def test_neighbours_overlap_by_at_least_overlap(length: int, chip: int, overlap: float) -> None:
    offsets = axis_offsets(length, chip, max(1, int(np.floor(chip * (1 - overlap)))))
    gaps = np.diff(offsets)
    assert (gaps > 0).all()  # strictly increasing: no duplicate chips
    if length > chip:
        # neighbours share chip - gap pixels; a 1-pixel chip cannot overlap (stride >= 1)
        assert (chip - gaps >= min(overlap * chip, chip - 1) - 1e-9).all()


def test_plan_is_row_major_and_exact() -> None:
    plan = plan_chips(1000, 600, chip_src=512, out_size=512, overlap=0.2)
    assert [(w.col_off, w.row_off) for w in plan] == [
        (0, 0),
        (409, 0),
        (488, 0),
        (0, 88),
        (409, 88),
        (488, 88),
    ]
    assert plan[0] == ChipWindow(0, 0, 512, 512, 512, 512)


def test_no_overlap_tiles_exactly() -> None:
    plan = plan_chips(1024, 512, chip_src=256, out_size=128, overlap=0.0)
    assert [w.col_off for w in plan if w.row_off == 0] == [0, 256, 512, 768]
    assert sorted({w.row_off for w in plan}) == [0, 256]
    assert plan[0].scale_x == 2.0


def test_small_image_gets_one_padded_chip() -> None:
    assert plan_chips(100, 50, chip_src=512, out_size=512) == [ChipWindow(0, 0, 512, 512, 512, 512)]


@pytest.mark.parametrize("overlap", [-0.1, 0.51, 0.7, float("nan")])
def test_overlap_out_of_range_is_refused(overlap: float) -> None:
    with pytest.raises(InputError, match=r"'overlap' must be in \[0, 0.5\] \(got"):
        plan_chips(100, 100, chip_src=10, out_size=10, overlap=overlap)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"width": 0}, "width"),
        ({"height": -5}, "height"),
        ({"chip_src": 0}, "chip_src"),
        ({"out_size": 1.5}, "out_size"),
    ],
)
def test_bad_sizes_are_refused(kwargs: dict[str, object], name: str) -> None:
    args: dict[str, object] = {"width": 100, "height": 100, "chip_src": 10, "out_size": 10} | kwargs
    with pytest.raises(InputError, match=f"'{name}' must be a positive integer"):
        plan_chips(**args)  # type: ignore[arg-type]


def test_chip_size_in_source() -> None:
    assert chip_size_in_source(512, 0.15, 0.3) == 1024  # finer imagery: read more, downsample
    assert chip_size_in_source(512, 0.6, 0.3) == 256  # coarser imagery: read less, upsample
    assert chip_size_in_source(512, 0.5, 0.3) == round(512 * 0.3 / 0.5) == 307
    assert chip_size_in_source(512, None, 0.3) == 512
    assert chip_size_in_source(512, 0.3, None) == 512
    assert chip_size_in_source(4, 1000.0, 0.3) == 1  # never zero


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0, 0.3, 0.3), "'model_input' must be a positive"),
        ((512, 0.0, 0.3), "'image_gsd' must be a positive"),
        ((512, 0.3, -1.0), "'model_gsd' must be a positive"),
        ((512, float("nan"), 0.3), "'image_gsd' must be a positive"),
    ],
)
def test_chip_size_in_source_refuses_bad_values(args: tuple[int, float, float], match: str) -> None:
    with pytest.raises(InputError, match=match):
        chip_size_in_source(*args)


def test_interior_edges() -> None:
    assert interior_edges(ChipWindow(0, 0, 512, 512, 512, 512), 1000, 512) == (
        False,
        False,
        True,
        False,
    )
    assert interior_edges(ChipWindow(488, 0, 512, 512, 512, 512), 1000, 1000) == (
        True,
        False,
        False,
        True,
    )
    # a padded chip over a small image has no interior edge
    assert interior_edges(ChipWindow(0, 0, 512, 512, 512, 512), 100, 50) == (False,) * 4


def test_chip_boxes_to_image() -> None:
    w = ChipWindow(900, 400, 256, 256, 128, 128)  # scale 2, padded past a 1000x600 image
    out = chip_boxes_to_image(np.array([[0, 0, 10, 5], [40, 90, 80, 127]]), w)
    assert out.tolist() == [[900, 400, 920, 410], [980, 580, 1060, 654]]
    clipped = chip_boxes_to_image(np.array([[40, 90, 80, 127]]), w, 1000, 600)
    assert clipped.tolist() == [[980, 580, 1000, 600]]
    assert chip_boxes_to_image(np.zeros((0, 4)), w).shape == (0, 4)


def test_docstring_examples_run() -> None:
    import doctest

    import skyscan.chips

    assert doctest.testmod(skyscan.chips).failed == 0


def test_a_margin_reaches_past_both_edges_and_still_covers_every_pixel() -> None:
    from skyscan.chips import axis_offsets

    offsets = axis_offsets(1000, 256, 204, margin=30)
    assert offsets[0] == -30 and offsets[-1] == 1000 - 256 + 30
    assert all(b - a <= 204 for a, b in itertools.pairwise(offsets))
    # an axis too short for chip + 2 margins gets one chip, centred
    assert axis_offsets(100, 256, 204, margin=30) == [(100 - 256) // 2]
    assert axis_offsets(100, 256, 204) == [0]


def test_plan_chips_refuses_a_margin_of_a_chip_or_more() -> None:
    import pytest

    from skyscan.chips import plan_chips
    from skyscan.errors import InputError

    with pytest.raises(InputError, match="margin"):
        plan_chips(500, 500, chip_src=64, out_size=64, margin=64)
    windows = plan_chips(500, 300, chip_src=64, out_size=64, overlap=0.25, margin=8)
    assert (
        min(w.col_off for w in windows) == -8 and max(w.col_off + w.width for w in windows) == 508
    )
    assert (
        min(w.row_off for w in windows) == -8 and max(w.row_off + w.height for w in windows) == 308
    )


@given(
    width=st.floats(1, 30_000),
    height=st.floats(1, 30_000),
    cap=st.sampled_from([512, 1024, 2048]),
    overlap=st.integers(0, 250),
)
@settings(max_examples=300, deadline=None)
def test_a_fitted_chip_side_covers_the_span_with_no_more_pixels_than_the_cap(
    width: float, height: float, cap: int, overlap: int
) -> None:
    """From half the cap to the cap, a whole multiple, and never more pixels than a grid
    of chips of the cap itself."""
    side = fitted_chip_side(width, height, cap, overlap, 8)
    assert side % 8 == 0 and side <= cap

    def pixels(s: int) -> int:
        per_axis = [
            1 if span <= s else math.ceil((span - overlap) / (s - overlap))
            for span in (width, height)
        ]
        return per_axis[0] * per_axis[1] * s * s

    assert pixels(side) <= pixels(cap)
    if max(width, height) > cap:
        assert side >= cap // 2


def test_a_fitted_chip_side_shares_the_span_evenly() -> None:
    # eleven chips of 984 px overlapping by 72 cover 10,064 px (a 10,000 px scene with
    # 32 px edge pads); eleven of 1,024 would run 40 px a chip twice
    assert fitted_chip_side(10_064, 10_064, 1024, 72, 8) == 984
    assert 11 * 984 - 10 * 72 >= 10_064
    # a small image is one chip of its own size, rounded up to the multiple
    assert fitted_chip_side(300, 200, 1024, 72, 8) == 304
    with pytest.raises(InputError, match="overlap"):
        fitted_chip_side(5000, 5000, 1024, 600, 8)
