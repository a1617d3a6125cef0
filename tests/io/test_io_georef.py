"""Georeferencing helpers: world files and transform checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyscan.errors import GeoreferenceError
from skyscan.io.georef import check_gsd, check_transform, read_world_file


def test_world_file_centre_to_corner(tmp_path: Path) -> None:
    p = tmp_path / "a.pgw"
    p.write_text("0.5\n0\n0\n-0.5\n100.25\n199.75\n")
    assert read_world_file(p) == (0.5, 0.0, 100.0, 0.0, -0.5, 200.0)
    p.write_text("1\n2\n")
    with pytest.raises(GeoreferenceError, match="six numbers"):
        read_world_file(p)


def test_check_transform() -> None:
    with pytest.raises(GeoreferenceError, match="degenerate"):
        check_transform((0.0, 0.0, 1.0, 0.0, 0.0, 1.0), source="x")
    with pytest.raises(GeoreferenceError, match="non-finite"):
        check_transform((float("nan"), 0.0, 1.0, 0.0, -1.0, 1.0), source="x")


def test_check_gsd() -> None:
    assert check_gsd(0.3, source="x") == 0.3
    with pytest.raises(GeoreferenceError, match="x: GSD must be between"):
        check_gsd(0.0, source="x")
