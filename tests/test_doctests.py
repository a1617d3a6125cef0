"""The examples in docstrings that the API reference shows run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "name", ["skyscan.text", "skyscan.viz.build", "skyscan.io.sources", "skyscan.io.stac.query"]
)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted and result.failed == 0
