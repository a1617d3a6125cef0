"""The exact test behind `skyscan evaluate --against`, against hand-computed binomial tails."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skyscan.evaluate.paired import two_sided_sign_test


@pytest.mark.parametrize(
    ("a", "b", "p"),
    [
        (0, 0, 1.0),  # nothing discordant: no evidence either way
        (1, 1, 1.0),
        (3, 0, 2 / 8),  # all three one way: 2 * (1/2)^3
        (6, 1, 2 * (1 + 7) / 128),  # McNemar's exact p for 6 against 1: 0.125
        (0, 5, 2 / 32),
        (10, 2, 2 * (1 + 12 + 66) / 4096),
    ],
)
def test_sign_test_hand_values(a: int, b: int, p: float) -> None:
    assert two_sided_sign_test(a, b) == pytest.approx(p)


@given(st.integers(0, 60), st.integers(0, 60))
def test_sign_test_is_symmetric_and_a_probability(a: int, b: int) -> None:
    p = two_sided_sign_test(a, b)
    assert p == two_sided_sign_test(b, a) and 0 < p <= 1
    # never below the chance of the most extreme split of a + b events
    assert p >= min(1.0, 2 * 0.5 ** (a + b)) - 1e-12
    if a == b:
        assert p == 1.0
    assert math.isfinite(p)
