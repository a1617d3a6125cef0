"""Ignore regions for evaluation: known but unlabelled objects ("DontCare" boxes).

A CSV with a header ``image,xmin,ymin,xmax,ymax`` (pixel coordinates of the image, any
extra columns such as ``note`` are kept for people and ignored here), one row per region.
``image`` is the image's file name. See :mod:`skyscan.evaluate.metrics` for how regions
change the scoring.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from skyscan.errors import LabelError

COLUMNS = ("image", "xmin", "ymin", "xmax", "ymax")


@dataclass(frozen=True)
class IgnoreRegions:
    """Regions per image file name, and the file they came from."""

    path: str
    by_image: dict[str, npt.NDArray[np.float64]]

    def for_image(self, image_path: str | Path) -> npt.NDArray[np.float64]:
        return self.by_image.get(Path(image_path).name, np.zeros((0, 4)))

    def count(self) -> int:
        return int(sum(len(b) for b in self.by_image.values()))

    def unused(self, image_paths: list[str]) -> int:
        """Regions naming an image that is not among ``image_paths`` (reported, not an error:
        one audit file may cover more images than one evaluation)."""
        names = {Path(p).name for p in image_paths}
        return int(sum(len(b) for n, b in self.by_image.items() if n not in names))


def read_ignore_regions(path: str | Path) -> IgnoreRegions:
    """Parse an ignore-region CSV; malformed rows raise :class:`LabelError` naming file and line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise LabelError(f"{p}: cannot read ignore regions: {exc.strerror or exc}") from exc
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise LabelError(
            f"{p}: ignore-region CSV lacks column(s) {', '.join(missing)} (needs {', '.join(COLUMNS)})"
        )
    rows: dict[str, list[list[float]]] = {}
    for line, row in enumerate(reader, start=2):
        try:
            box = [float(row[c]) for c in COLUMNS[1:]]
        except (TypeError, ValueError):
            raise LabelError(
                f"{p}:{line}: xmin, ymin, xmax, ymax must be numbers (got {row})"
            ) from None
        if not (np.all(np.isfinite(box)) and box[2] > box[0] and box[3] > box[1]):
            raise LabelError(
                f"{p}:{line}: region must have xmax > xmin and ymax > ymin (got {box})"
            )
        name = (row["image"] or "").strip()
        if not name:
            raise LabelError(f"{p}:{line}: empty image name")
        rows.setdefault(Path(name).name, []).append(box)
    return IgnoreRegions(str(p), {k: np.asarray(v, np.float64) for k, v in rows.items()})
