"""Merging what overlapping chips both saw: one detection per object.

All functions take arrays of boxes in one pixel frame (xyxy, ``x2 >= x1``, ``y2 >= y1``)
and return indices of the boxes to keep, so callers take rows with ``table.take(keep)``.

Why more than NMS: an object lying across a chip seam is seen whole by one chip and
cut by the other. The cut box is much smaller than the whole one, so their IoU is low
and plain NMS keeps both. :func:`merge_detections` knows which boxes touch an interior
chip edge (``cut``) and treats a cut box that lies inside another box as the same object
(see its docstring for the exact rules). By default boxes of different classes are
merged too: one object, one row, whatever class its views were given.

Boxes are visited by score alone, so a box is kept or dropped by higher-scoring boxes
only: the rows above any threshold T never depend on boxes below T, and a run at T is
exactly a run at a lower score floor filtered at T.

Results depend only on the boxes, scores, labels and flags, never on input order: the
local and the Spark engine (which gather chips in different orders) keep the same rows.
Overlapping pairs are found with a ``shapely.STRtree`` query and scored with numpy; the
only Python loop is the greedy pass over boxes that have an overlapping neighbour.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import shapely

from skyscan.chips import interior_edges
from skyscan.errors import InputError
from skyscan.types import ChipDetections, ChipWindow

__all__ = [
    "box_touches_chip_edge",
    "merge_detections",
    "nms",
    "nms_per_chip",
    "touches_interior_edge",
]

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def nms(
    boxes: npt.ArrayLike, scores: npt.ArrayLike, labels: npt.ArrayLike, iou_threshold: float
) -> IntArray:
    """Class-aware greedy non-maximum suppression.

    Boxes are visited by score (descending); a box is dropped when its IoU with an
    already kept box of the same label is ``>= iou_threshold``. Returns kept indices in
    visiting order: score descending, ties broken by ``(x1, y1, x2, y2, label)`` and
    finally by index (only identical rows tie there, so the kept rows never depend on
    input order).

    >>> nms([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10]], [0.9, 0.8, 0.7], [0, 0, 1], 0.5)
    array([0, 2])
    """
    b, s, lab, _ = _validate(boxes, scores, labels, None)
    _check_fraction("iou_threshold", iou_threshold)
    rank = _rank(np.lexsort((lab, b[:, 3], b[:, 2], b[:, 1], b[:, 0], -s)))
    i, j, inter = _overlapping_pairs(b, lab)
    area = _areas(b)
    forward = rank[i] < rank[j]
    i, j, inter = i[forward], j[forward], inter[forward]
    suppress = _iou(inter, area[i], area[j]) >= iou_threshold
    return _greedy(rank, i[suppress], j[suppress])


def nms_per_chip(chips: Sequence[ChipDetections], iou_threshold: float) -> list[ChipDetections]:
    """:func:`nms` within each chip of a batch, in one call for the whole batch.

    Each chip's boxes are shifted along x by a multiple of the batch's whole x extent, so
    boxes of different chips never overlap; IoU is translation-invariant and the order
    within a chip is unchanged, so every chip keeps exactly what ``nms`` alone keeps, in
    the same order. One call instead of one per chip: the spatial index is built once.
    """
    counts = np.array([len(c) for c in chips], np.intp)
    if counts.sum() < 2:
        return list(chips)
    boxes = np.concatenate([np.asarray(c.boxes, np.float64).reshape(-1, 4) for c in chips])
    chip_of = np.repeat(np.arange(len(chips)), counts)
    extent = float(boxes[:, [0, 2]].max() - boxes[:, [0, 2]].min()) + 1.0
    shifted = boxes + (chip_of * extent)[:, None] * np.array([1.0, 0.0, 1.0, 0.0])
    keep = nms(
        shifted,
        np.concatenate([c.scores for c in chips]),
        np.concatenate([c.labels for c in chips]),
        iou_threshold,
    )
    keep = keep[np.argsort(chip_of[keep], kind="stable")]  # by chip, each in nms order
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    bounds = np.searchsorted(chip_of[keep], np.arange(len(chips) + 1))
    out = []
    for k, chip in enumerate(chips):
        local = keep[bounds[k] : bounds[k + 1]] - starts[k]
        out.append(chip.take(local))
    return out


def merge_detections(
    boxes: npt.ArrayLike,
    scores: npt.ArrayLike,
    labels: npt.ArrayLike,
    *,
    cut: npt.ArrayLike,
    class_aware: bool = False,
    iou_threshold: float = 0.5,
    containment_threshold: float = 0.7,
    seam_iou_threshold: float = 0.7,
) -> IntArray:
    """Merge detections from all chips of one image into one detection per object.

    ``boxes`` are in image pixels; ``cut[i]`` says box ``i`` touches an edge of its chip
    that lies inside the image (see :func:`box_touches_chip_edge`), so the object may
    continue in a neighbouring chip.

    Boxes are visited by score (descending), ties broken by ``(x1, y1, x2, y2, label)``,
    then uncut before cut. A kept box ``k`` drops every later box ``j`` (of any class;
    of its own class only with ``class_aware``) when

    1. ``IoU(k, j) >= iou_threshold`` (plain NMS), or
    2. one of them is cut and lies inside the other,
       ``area(k ∩ j) >= containment_threshold * area(cut one)``: a piece of the object
       the other box saw (more) whole, or
    3. both are cut and their extents along one axis agree,
       ``max(IoU_x, IoU_y) >= seam_iou_threshold`` with the 1-D IoU of the x and y
       intervals (boxes also overlap in area): two pieces of an object larger than
       the chip overlap, seen from the two sides of a seam.

    A box dropped by rule 2 because the kept box is a piece inside it is *absorbed*: it
    gives no row (the piece is its object's row) but still drops later boxes as if kept,
    so the object's other pieces go too.

    Every output box is one that a chip actually saw, with its own window, class and
    score: the highest-scoring view of its object. Score order is what makes the merge
    independent of the score floor (a box below T never decides about one above it);
    a whole view usually scores higher than a piece, so the whole box is the one kept.

    Returns the kept indices in visiting order. The result is independent of input
    order (identical rows are interchangeable).
    """
    b, s, lab, c = _validate(boxes, scores, labels, cut)
    for name, value in (
        ("iou_threshold", iou_threshold),
        ("containment_threshold", containment_threshold),
        ("seam_iou_threshold", seam_iou_threshold),
    ):
        _check_fraction(name, value)
    area = _areas(b)
    rank = _rank(np.lexsort((c, lab, b[:, 3], b[:, 2], b[:, 1], b[:, 0], -s)))
    i, j, inter = _overlapping_pairs(b, lab if class_aware else None)
    forward = rank[i] < rank[j]
    i, j, inter = i[forward], j[forward], inter[forward]

    # k (a piece) lies inside j: j is the object k stands for, and still drops j's other pieces
    absorb = c[i] & (inter >= containment_threshold * area[i])
    suppress = absorb | (_iou(inter, area[i], area[j]) >= iou_threshold)
    suppress |= c[j] & (inter >= containment_threshold * area[j])
    both_cut = c[i] & c[j]
    if both_cut.any():
        iou_x = _iou_1d(b[i, 0], b[i, 2], b[j, 0], b[j, 2])
        iou_y = _iou_1d(b[i, 1], b[i, 3], b[j, 1], b[j, 3])
        suppress |= both_cut & (np.maximum(iou_x, iou_y) >= seam_iou_threshold)
    return _greedy(rank, i[suppress], j[suppress], absorb[suppress])


def box_touches_chip_edge(
    boxes_chip_px: npt.ArrayLike,
    chip_w: float,
    chip_h: float,
    window: ChipWindow,
    image_w: int,
    image_h: int,
    margin: float = 2.0,
) -> BoolArray:
    """Which boxes (in chip pixels, the chip being ``chip_w × chip_h``) touch an interior
    chip edge, i.e. lie within ``margin`` chip pixels of an edge of ``window`` that is
    inside the image. Edges on the image border do not count: nothing lies beyond them.

    >>> w = ChipWindow(100, 0, 512, 512, 512, 512)
    >>> box_touches_chip_edge([[0, 50, 20, 60], [200, 0, 220, 10]], 512, 512, w, 1000, 512)
    array([ True, False])
    """
    b = np.asarray(boxes_chip_px, dtype=np.float64).reshape(-1, 4)
    edges = np.broadcast_to(np.array(interior_edges(window, image_w, image_h), bool), (len(b), 4))
    return touches_interior_edge(b, chip_w, chip_h, edges, margin)


def touches_interior_edge(
    boxes_chip_px: FloatArray,
    chip_w: float | FloatArray,
    chip_h: float | FloatArray,
    edges: BoolArray,
    margin: float = 2.0,
) -> BoolArray:
    """:func:`box_touches_chip_edge` for boxes of many chips: ``edges`` is ``(N, 4)``
    (left, top, right, bottom interior, per box) and the chip sizes are per box or one."""
    if margin < 0:
        raise InputError(f"'margin' must be >= 0 chip pixels (got {margin})")
    b = boxes_chip_px
    return (
        (edges[:, 0] & (b[:, 0] <= margin))
        | (edges[:, 1] & (b[:, 1] <= margin))
        | (edges[:, 2] & (b[:, 2] >= chip_w - margin))
        | (edges[:, 3] & (b[:, 3] >= chip_h - margin))
    )


# -- helpers -------------------------------------------------------------------------


def _validate(
    boxes: npt.ArrayLike, scores: npt.ArrayLike, labels: npt.ArrayLike, cut: npt.ArrayLike | None
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64], BoolArray]:
    b = np.asarray(boxes, dtype=np.float64)
    if b.size == 0:
        b = b.reshape(0, 4)
    if b.ndim != 2 or b.shape[1] != 4:
        raise InputError(f"'boxes' must have shape (N, 4) xyxy (got {b.shape})")
    n = len(b)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    lab = np.asarray(labels).reshape(-1)
    c = np.zeros(n, bool) if cut is None else np.asarray(cut).reshape(-1)
    for name, arr in (("scores", s), ("labels", lab), ("cut", c)):
        if len(arr) != n:
            raise InputError(f"{name!r} must have one value per box ({n}) (got {len(arr)})")
    if not np.issubdtype(lab.dtype, np.integer):
        raise InputError(f"'labels' must be integers (got dtype {lab.dtype})")
    if c.dtype != np.bool_:
        raise InputError(f"'cut' must be a boolean array (got dtype {c.dtype})")
    if not (np.isfinite(b).all() and np.isfinite(s).all()):
        raise InputError("'boxes' and 'scores' must be finite (got NaN or inf)")
    bad = (b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1])
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"'boxes' must be xyxy with x2 >= x1 and y2 >= y1 (got {b[k].tolist()} at row {k})"
        )
    return b, s, lab.astype(np.int64), c


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 < value <= 1.0:
        raise InputError(f"{name!r} must be in (0, 1] (got {value})")


def _rank(order: IntArray) -> IntArray:
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank


def _areas(b: FloatArray) -> FloatArray:
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def _overlapping_pairs(
    b: FloatArray, lab: npt.NDArray[np.int64] | None
) -> tuple[IntArray, IntArray, FloatArray]:
    """All ordered pairs (i, j), i != j, of boxes whose intersection has area > 0, with
    that area; of the same label only when ``lab`` is given. An STRtree keeps this near
    O(N log N) for thousands of boxes."""
    if len(b) < 2:
        empty = np.zeros(0, np.intp)
        return empty, empty, np.zeros(0)
    geoms = shapely.box(b[:, 0], b[:, 1], b[:, 2], b[:, 3])
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = (i != j) if lab is None else (i != j) & (lab[i] == lab[j])
    i, j = i[keep].astype(np.intp), j[keep].astype(np.intp)
    w = np.minimum(b[i, 2], b[j, 2]) - np.maximum(b[i, 0], b[j, 0])
    h = np.minimum(b[i, 3], b[j, 3]) - np.maximum(b[i, 1], b[j, 1])
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    pos = inter > 0
    return i[pos], j[pos], inter[pos]


def _iou(inter: FloatArray, area_a: FloatArray, area_b: FloatArray) -> FloatArray:
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _iou_1d(a0: FloatArray, a1: FloatArray, b0: FloatArray, b1: FloatArray) -> FloatArray:
    inter = np.clip(np.minimum(a1, b1) - np.maximum(a0, b0), 0, None)
    union = np.maximum(a1, b1) - np.minimum(a0, b0)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _greedy(
    rank: IntArray, src: IntArray, dst: IntArray, absorb: BoolArray | None = None
) -> IntArray:
    """Greedy suppression along edges ``src -> dst`` (``rank[src] < rank[dst]``).

    Visits boxes with outgoing edges in rank order; a box that still acts (kept, or
    absorbed) drops its targets: an ``absorb`` edge makes its target absorbed (no row,
    but it acts), any other edge suppresses it unless it is absorbed. Every decision
    about a box is made by boxes ranked before it. Returns kept indices in rank order.
    """
    n = len(rank)
    dropped = np.zeros(n, bool)
    absorbed = np.zeros(n, bool)
    if len(src):
        absorb = np.zeros(len(src), bool) if absorb is None else absorb
        by_src = np.lexsort((dst, rank[src]))
        src, dst, absorb = src[by_src], dst[by_src], absorb[by_src]
        starts = np.flatnonzero(np.r_[True, src[1:] != src[:-1]])
        ends = np.r_[starts[1:], len(src)]
        for a, z in zip(starts.tolist(), ends.tolist(), strict=True):
            if absorbed[src[a]] or not dropped[src[a]]:
                dropped[dst[a:z]] = True
                absorbed[dst[a:z][absorb[a:z]]] = True
    kept = np.flatnonzero(~dropped)
    return kept[np.argsort(rank[kept], kind="stable")]
