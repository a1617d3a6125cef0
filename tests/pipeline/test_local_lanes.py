"""The local engine's lanes: how many, and how an image's work units are split."""

from __future__ import annotations

import pytest

from skyscan.detectors import DetectorRecipe
from skyscan.engines.local import lanes_for, split_units
from skyscan.pipeline import DetectOptions, WorkUnit
from skyscan.types import ChipWindow, ImageRef


def _units(sizes: list[int]) -> list[WorkUnit]:
    ref = ImageRef(image_id="i", path="i.tif", width=10, height=10, count=3, dtype="uint8")
    window = ChipWindow(0, 0, 8, 8, 8, 8)
    return [WorkUnit(ref, (window,) * n, i, len(sizes)) for i, n in enumerate(sizes)]


@pytest.mark.parametrize(
    ("threads", "cpus", "lanes", "lane_threads"),
    [(0, 2, 2, 1), (0, 8, 8, 1), (1, 4, 4, 1), (2, 2, 1, 2), (2, 8, 4, 2), (16, 2, 1, 16)],
)
def test_lanes_follow_cores_and_threads(threads: int, cpus: int, lanes: int, lane_threads: int) -> None:
    options = DetectOptions(recipe=DetectorRecipe(threads=threads))
    n, lane_options = lanes_for(options, cpus=cpus)
    assert (n, lane_options.recipe.threads) == (lanes, lane_threads)


@pytest.mark.parametrize(
    ("sizes", "parts", "expected"),
    [
        ([64] * 38, 2, [19, 19]),
        ([64] * 5 + [33], 2, [3, 3]),
        ([64, 64, 10], 2, [1, 2]),
        ([64], 4, [1]),
        ([64] * 3, 4, [1, 1, 1]),
        ([64] * 9, 3, [3, 3, 3]),
    ],
)
def test_split_units_gives_contiguous_runs_of_near_equal_work(sizes: list[int], parts: int, expected: list[int]) -> None:
    units = _units(sizes)
    runs = split_units(units, parts)
    assert [len(r) for r in runs] == expected
    assert [u for r in runs for u in r] == units  # every unit once, in order
