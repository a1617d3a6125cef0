"""The examples in the analytics docstrings run and are right."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["metric", "join", "within", "h3cells", "cluster", "aggregate", "footprints"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"skyscan.analytics.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
