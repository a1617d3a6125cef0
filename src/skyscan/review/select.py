"""Which detections become crops and which parts of each image become views (pure)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


def pick_crops(
    scores: npt.NDArray[np.floating], max_crops: int, order: str = "score", seed: int = 0
) -> npt.NDArray[np.intp]:
    """Indices of at most ``max_crops`` rows: the highest scores, or a seeded random sample.

    >>> pick_crops(np.array([0.2, 0.9, 0.5]), 2).tolist()
    [1, 2]
    """
    n = len(scores)
    if order == "sample":
        chosen = (
            np.sort(np.random.default_rng(seed).permutation(n)[:max_crops])
            if n > max_crops
            else np.arange(n)
        )
        return chosen[np.argsort(-np.nan_to_num(scores[chosen], nan=-1.0), kind="stable")]
    return np.argsort(-np.nan_to_num(scores, nan=-1.0), kind="stable")[:max_crops]


def crop_window(
    box: tuple[float, float, float, float],
    gsd: float | None,
    context_m: float = 12.0,
    min_px: int = 64,
    max_px: int = 1024,
) -> tuple[int, int, int]:
    """A square (col_off, row_off, side) around a pixel box: three box sizes or ``context_m``.

    >>> crop_window((100, 100, 120, 110), 0.25)
    (78, 73, 64)
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    side = round(
        min(
            max(3 * max(x1 - x0, y1 - y0), context_m / gsd if gsd else 0.0, float(min_px)),
            float(max_px),
        )
    )
    return round((x0 + x1 - side) / 2), round((y0 + y1 - side) / 2), side


@dataclass(frozen=True)
class ViewTile:
    """A square window of one image shown to add missed vehicles (source pixels)."""

    image: int
    col_off: int
    row_off: int
    width: int
    height: int


def plan_views(
    sizes: list[tuple[int, int]], centres: list[npt.NDArray[np.floating]], tile: int, max_views: int
) -> tuple[list[ViewTile], int]:
    """Tiles of ``tile`` px over every image; when there are more than ``max_views``, those
    with the most detections (``centres``: (N, 2) per image) come first. Returns (views, total).

    >>> views, total = plan_views([(600, 300)], [np.array([[550.0, 10.0]])], 512, 1)
    >>> total, views[0].col_off, views[0].width
    (2, 512, 88)
    """
    cands: list[tuple[int, int, ViewTile]] = []
    for i, ((w, h), c) in enumerate(zip(sizes, centres, strict=True)):
        nx, ny = -(-w // tile), -(-h // tile)
        counts = np.zeros(nx * ny, np.int64)
        if len(c):  # detections per tile, by the tile their centre falls in
            tx = np.clip(c[:, 0] // tile, 0, nx - 1).astype(np.int64)
            ty = np.clip(c[:, 1] // tile, 0, ny - 1).astype(np.int64)
            counts = np.bincount(ty * nx + tx, minlength=nx * ny)
        for k in range(nx * ny):
            row, col = (k // nx) * tile, (k % nx) * tile
            cands.append(
                (
                    -int(counts[k]),
                    len(cands),
                    ViewTile(i, col, row, min(tile, w - col), min(tile, h - row)),
                )
            )
    total = len(cands)
    if total > max_views:
        cands = sorted(cands)[:max_views]
        cands.sort(key=lambda t: t[1])  # back to image and reading order
    return [v for _, _, v in cands], total
