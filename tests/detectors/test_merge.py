"""Merging detections across chip overlaps: NMS by hand, seams, order independence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyscan.chips import chip_boxes_to_image, plan_chips
from skyscan.detectors.merge import box_touches_chip_edge, merge_detections, nms, nms_per_chip
from skyscan.errors import InputError
from skyscan.types import ChipDetections, ChipWindow

# -- plain NMS, hand-computed ------------------------------------------------------------


def test_nms_hand_computed() -> None:
    boxes = [[0, 0, 10, 10], [5, 0, 15, 10], [1, 0, 11, 10]]
    scores = [0.9, 0.8, 0.85]
    labels = [0, 0, 0]
    # IoU(A, B) = 50/150 = 0.333, IoU(A, C) = 90/110 = 0.818, IoU(B, C) = 60/140 = 0.429
    assert nms(boxes, scores, labels, 0.5).tolist() == [0, 1]
    assert nms(boxes, scores, labels, 0.3).tolist() == [0]
    assert nms(boxes, scores, labels, 0.9).tolist() == [0, 2, 1]  # score order


def test_nms_suppressed_box_does_not_suppress() -> None:
    # IoU(A, B) = IoU(B, C) = 60/140 = 0.43, IoU(A, C) = 20/180: A drops B, so C survives.
    boxes = [[0, 0, 10, 10], [4, 0, 14, 10], [8, 0, 18, 10]]
    assert nms(boxes, [0.9, 0.8, 0.7], [1, 1, 1], 0.4).tolist() == [0, 2]


def test_nms_is_class_aware_and_handles_empty() -> None:
    boxes = [[0, 0, 10, 10], [0, 0, 10, 10]]
    assert nms(boxes, [0.5, 0.9], [0, 1], 0.5).tolist() == [1, 0]
    assert nms(boxes, [0.5, 0.9], [2, 2], 0.5).tolist() == [1]
    assert nms(np.zeros((0, 4)), [], np.zeros(0, int), 0.5).tolist() == []


def test_nms_ties_broken_by_coordinates() -> None:
    boxes = [[20, 0, 30, 10], [0, 0, 10, 10], [10, 0, 20, 10]]
    assert nms(boxes, [0.5, 0.5, 0.5], [0, 0, 0], 0.5).tolist() == [1, 2, 0]


# -- reference implementations (plain loops) to check the vectorized code -----------------


def _ref_iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _ref_nms(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, thr: float) -> list[int]:
    order = sorted(range(len(boxes)), key=lambda k: (-scores[k], *boxes[k], labels[k], k))
    kept: list[int] = []
    for k in order:
        if all(labels[q] != labels[k] or _ref_iou(boxes[q], boxes[k]) < thr for q in kept):
            kept.append(k)
    return kept


def _ref_merge(
    boxes: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    cut: np.ndarray,
    class_aware: bool = False,
) -> list[int]:
    """merge_detections' documented rules with loops (thresholds 0.5 / 0.7 / 0.7)."""

    def area(b: np.ndarray) -> float:
        return float((b[2] - b[0]) * (b[3] - b[1]))

    def iou_1d(a0: float, a1: float, b0: float, b1: float) -> float:
        union = max(a1, b1) - min(a0, b0)
        return max(0.0, min(a1, b1) - max(a0, b0)) / union if union > 0 else 0.0

    def drops(k: int, j: int) -> bool:
        a, b = boxes[k], boxes[j]
        inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(
            0.0, min(a[3], b[3]) - max(a[1], b[1])
        )
        if (class_aware and labels[k] != labels[j]) or inter <= 0:
            return False
        if (
            _ref_iou(a, b) >= 0.5
            or (cut[j] and inter >= 0.7 * area(b))
            or (cut[k] and inter >= 0.7 * area(a))
        ):
            return True
        seam = max(iou_1d(a[0], a[2], b[0], b[2]), iou_1d(a[1], a[3], b[1], b[3]))
        return bool(cut[k] and cut[j] and seam >= 0.7)

    def absorbs(k: int, j: int) -> bool:  # k is a piece inside j: j goes on acting
        a, b = boxes[k], boxes[j]
        inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(
            0.0, min(a[3], b[3]) - max(a[1], b[1])
        )
        return bool(
            cut[k]
            and inter > 0
            and inter >= 0.7 * area(a)
            and not (class_aware and labels[k] != labels[j])
        )

    kept: list[int] = []
    acting: list[int] = []
    for k in sorted(range(len(boxes)), key=lambda k: (-scores[k], *boxes[k], labels[k], cut[k], k)):
        by = [q for q in acting if drops(q, k)]
        if not by:
            kept.append(k)
            acting.append(k)
        elif any(absorbs(q, k) for q in by):
            acting.append(k)
    return kept


@st.composite
def detections(draw: st.DrawFn, max_n: int = 40) -> tuple[np.ndarray, ...]:
    """Boxes on a coarse integer grid with few score values, so ties and duplicates occur."""
    n = draw(st.integers(0, max_n))
    xy = draw(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=n, max_size=n))
    wh = draw(st.lists(st.tuples(st.integers(0, 25), st.integers(0, 25)), min_size=n, max_size=n))
    boxes = np.array(
        [[x, y, x + w, y + h] for (x, y), (w, h) in zip(xy, wh, strict=True)], float
    ).reshape(-1, 4)
    scores = np.array(
        draw(st.lists(st.sampled_from([0.3, 0.5, 0.9]), min_size=n, max_size=n)), float
    )
    labels = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), np.int64)
    cut = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
    return boxes, scores, labels, cut


def _rows(keep: np.ndarray, *arrays: np.ndarray) -> list[tuple[float, ...]]:
    return [tuple(float(v) for a in arrays for v in np.atleast_1d(a[k])) for k in keep]


@settings(max_examples=60, deadline=None)
@given(det=detections(), thr=st.sampled_from([0.3, 0.5, 0.7]))
def test_nms_matches_reference(det: tuple[np.ndarray, ...], thr: float) -> None:
    boxes, scores, labels, _ = det
    assert nms(boxes, scores, labels, thr).tolist() == _ref_nms(boxes, scores, labels, thr)


@settings(max_examples=40, deadline=None)
@given(
    chips=st.lists(detections(max_n=12), min_size=0, max_size=5), thr=st.sampled_from([0.3, 0.5])
)
def test_nms_per_chip_equals_nms_on_each_chip(
    chips: list[tuple[np.ndarray, ...]], thr: float
) -> None:
    batch = [
        ChipDetections(b.astype(np.float32), s.astype(np.float32), lab) for b, s, lab, _ in chips
    ]
    for got, chip in zip(nms_per_chip(batch, thr), batch, strict=True):
        keep = nms(chip.boxes, chip.scores, chip.labels, thr)
        assert got.boxes.tolist() == chip.boxes[keep].tolist()
        assert got.scores.tolist() == chip.scores[keep].tolist()
        assert got.labels.tolist() == chip.labels[keep].tolist()


@settings(max_examples=60, deadline=None)
@given(det=detections(), class_aware=st.booleans())
def test_merge_matches_reference(det: tuple[np.ndarray, ...], class_aware: bool) -> None:
    boxes, scores, labels, cut = det
    got = merge_detections(boxes, scores, labels, cut=cut, class_aware=class_aware)
    assert got.tolist() == _ref_merge(boxes, scores, labels, cut, class_aware)


@settings(max_examples=80, deadline=None)
@given(det=detections(), threshold=st.sampled_from([0.3, 0.5, 0.9]), class_aware=st.booleans())
def test_merge_does_not_depend_on_the_score_floor(
    det: tuple[np.ndarray, ...], threshold: float, class_aware: bool
) -> None:
    # merging only the boxes >= T keeps exactly the rows >= T of merging everything
    boxes, scores, labels, cut = det
    everything = merge_detections(boxes, scores, labels, cut=cut, class_aware=class_aware)
    above = np.flatnonzero(scores >= threshold)
    only_above = above[
        merge_detections(
            boxes[above], scores[above], labels[above], cut=cut[above], class_aware=class_aware
        )
    ]
    assert only_above.tolist() == [k for k in everything.tolist() if scores[k] >= threshold]


@settings(max_examples=60, deadline=None)
@given(det=detections())
def test_no_two_kept_boxes_overlap_whatever_their_classes(det: tuple[np.ndarray, ...]) -> None:
    boxes, scores, labels, cut = det
    keep = merge_detections(boxes, scores, labels, cut=cut).tolist()
    for a in keep:
        for b in keep:
            assert a == b or _ref_iou(boxes[a], boxes[b]) < 0.5


@settings(max_examples=60, deadline=None)
@given(det=detections(), seed=st.integers(0, 2**32 - 1))
def test_kept_rows_do_not_depend_on_input_order(det: tuple[np.ndarray, ...], seed: int) -> None:
    boxes, scores, labels, cut = det
    perm = np.random.default_rng(seed).permutation(len(boxes))
    pb, ps, pl, pc = boxes[perm], scores[perm], labels[perm], cut[perm]
    expected = _rows(merge_detections(boxes, scores, labels, cut=cut), boxes, scores, labels, cut)
    assert _rows(merge_detections(pb, ps, pl, cut=pc), pb, ps, pl, pc) == expected
    assert _rows(nms(pb, ps, pl, 0.5), pb, ps, pl) == _rows(
        nms(boxes, scores, labels, 0.5), boxes, scores, labels
    )


# -- seams: simulate a detector on a chip plan -------------------------------------------


def _simulate(
    objects: np.ndarray,
    width: int,
    height: int,
    *,
    chip_src: int,
    out_size: int,
    overlap: float,
    min_visible: float = 0.2,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What a perfect detector reports per chip: the visible part of each object (when at
    least ``min_visible`` of it is in the chip), in chip pixels, mapped back to image pixels
    the way the pipeline does, plus the cut flags."""
    rng = np.random.default_rng(seed)
    all_boxes, all_cut = [], []
    for w in plan_chips(width, height, chip_src=chip_src, out_size=out_size, overlap=overlap):
        x0 = np.clip(objects[:, 0], w.col_off, w.col_off + w.width)
        y0 = np.clip(objects[:, 1], w.row_off, w.row_off + w.height)
        x1 = np.clip(objects[:, 2], w.col_off, w.col_off + w.width)
        y1 = np.clip(objects[:, 3], w.row_off, w.row_off + w.height)
        seen = (x1 - x0) * (y1 - y0) >= min_visible * (objects[:, 2] - objects[:, 0]) * (
            objects[:, 3] - objects[:, 1]
        )
        chip_px = np.stack(
            [
                (x0 - w.col_off) / w.scale_x,
                (y0 - w.row_off) / w.scale_y,
                (x1 - w.col_off) / w.scale_x,
                (y1 - w.row_off) / w.scale_y,
            ],
            axis=1,
        )[seen]
        all_cut.append(box_touches_chip_edge(chip_px, w.out_width, w.out_height, w, width, height))
        all_boxes.append(chip_boxes_to_image(chip_px, w, width, height))
    boxes = np.concatenate(all_boxes)
    scores = rng.uniform(0.3, 1.0, len(boxes))  # a cut piece may well score higher
    return boxes, scores, np.zeros(len(boxes), np.int64), np.concatenate(all_cut)


@st.composite
def scattered_objects(
    draw: st.DrawFn, width: int, height: int, cell: int, max_size: int
) -> np.ndarray:
    """Disjoint objects: at most one per ``cell``-sized cell, each at most ``max_size`` wide."""
    out = []
    for cy in range(0, height - cell + 1, cell):
        for cx in range(0, width - cell + 1, cell):
            if not draw(st.booleans()):
                continue
            w, h = draw(st.integers(3, max_size)), draw(st.integers(3, max_size))
            x, y = cx + draw(st.integers(0, cell - w - 1)), cy + draw(st.integers(0, cell - h - 1))
            out.append([x, y, x + w, y + h])
    return np.array(out, float).reshape(-1, 4)


@settings(max_examples=40, deadline=None)
@given(objects=scattered_objects(300, 260, cell=36, max_size=32), seed=st.integers(0, 1000))
def test_objects_across_seams_are_detected_once_and_whole(objects: np.ndarray, seed: int) -> None:
    # chips of 128 source px at scale 2, overlap 0.25 -> neighbours share >= 32 px, so every
    # object (<= 32 px) is whole in some chip while its neighbours see cut pieces.
    boxes, scores, labels, cut = _simulate(
        objects, 300, 260, chip_src=128, out_size=64, overlap=0.25, seed=seed, min_visible=0.5
    )
    keep = merge_detections(boxes, scores, labels, cut=cut)
    owner = np.array(
        [
            next(
                k
                for k, o in enumerate(objects)
                if (b[0] >= o[0]) & (b[2] <= o[2]) & (b[1] >= o[1]) & (b[3] <= o[3])
            )
            for b in boxes
        ],
        np.intp,
    ).reshape(-1)
    # whatever the scores, every object keeps its best-scoring view. Two pieces that both
    # outscore the object's whole view and barely overlap (cut on two sides at a chip
    # corner) stay two rows: only the lower whole box links them, and a lower score never
    # decides (the documented limit).
    best = {
        o: max(range(len(boxes)), key=lambda i: (owner[i] == o, scores[i]))
        for o in range(len(objects))
    }
    assert set(best.values()) <= set(keep.tolist())
    assert np.bincount(owner[keep], minlength=len(objects)).max(initial=0) <= 2
    # when whole views score higher, as a real detector's do, the whole boxes are kept
    whole_first = scores + (~cut).astype(float)
    got = sorted(map(tuple, boxes[merge_detections(boxes, whole_first, labels, cut=cut)].tolist()))
    assert got == sorted(map(tuple, objects.tolist()))


def test_plain_nms_keeps_seam_duplicates_but_merge_does_not() -> None:
    # one 20x10 object across the seam of two 128-px chips sharing x=96..128 (overlap 0.25)
    obj = np.array([[120.0, 50.0, 140.0, 60.0]])
    boxes, scores, labels, cut = _simulate(obj, 224, 128, chip_src=128, out_size=128, overlap=0.25)
    assert len(boxes) == 2 and cut.tolist() == [True, False]  # left chip: cut piece; right: whole
    assert boxes[0].tolist() == [120.0, 50.0, 128.0, 60.0]
    scores = np.array([0.6, 0.9])  # the whole view scores higher, as a detector's does
    assert len(nms(boxes, scores, labels, 0.5)) == 2  # IoU 8/20 = 0.4: plain NMS keeps both
    keep = merge_detections(boxes, scores, labels, cut=cut)
    assert boxes[keep].tolist() == obj.tolist()


def test_seam_piece_with_low_iou_is_dropped_for_the_whole_box() -> None:
    whole = [100.0, 0.0, 140.0, 10.0]
    piece = [100.0, 0.0, 112.0, 10.0]  # IoU 0.3, lies inside the whole box
    keep = merge_detections([piece, whole], [0.6, 0.95], [0, 0], cut=np.array([True, False]))
    assert keep.tolist() == [1]
    assert len(nms([piece, whole], [0.6, 0.95], [0, 0], 0.5)) == 2
    # a piece that scored higher is the object's row: a lower score never decides
    assert merge_detections(
        [piece, whole], [0.95, 0.6], [0, 0], cut=np.array([True, False])
    ).tolist() == [0]
    # classes are merged unless asked not to; an uncut small box inside is a separate object
    assert (
        len(merge_detections([piece, whole], [0.6, 0.95], [1, 0], cut=np.array([True, False]))) == 1
    )
    assert (
        len(
            merge_detections(
                [piece, whole], [0.6, 0.95], [1, 0], cut=np.array([True, False]), class_aware=True
            )
        )
        == 2
    )
    assert (
        len(merge_detections([piece, whole], [0.6, 0.95], [0, 0], cut=np.array([False, False])))
        == 2
    )


def test_one_object_with_three_classes_is_one_row() -> None:
    car, bus, truck = [10.0, 10.0, 30.0, 20.0], [9.0, 10.0, 31.0, 21.0], [10.0, 9.0, 30.0, 20.0]
    keep = merge_detections([car, bus, truck], [0.5, 0.8, 0.4], [0, 2, 1], cut=np.zeros(3, bool))
    assert keep.tolist() == [1]
    keep = merge_detections(
        [car, bus, truck], [0.5, 0.8, 0.4], [0, 2, 1], cut=np.zeros(3, bool), class_aware=True
    )
    assert sorted(keep.tolist()) == [0, 1, 2]


def test_object_larger_than_overlap_is_kept_once_as_larger_piece() -> None:
    # a 60-px truck across one vertical seam: chips share only 32 px, neither sees it whole
    obj = np.array([[80.0, 40.0, 140.0, 60.0]])
    boxes, scores, labels, cut = _simulate(obj, 224, 128, chip_src=128, out_size=64, overlap=0.25)
    assert len(boxes) == 2 and cut.all()
    keep = merge_detections(boxes, scores, labels, cut=cut)
    assert len(keep) == 1
    assert boxes[keep[0]].tolist() == [80.0, 40.0, 128.0, 60.0]  # left chip saw 48 of 60 px
    # two distinct big objects, stacked, each across the seam, stay two
    objs = np.array([[80.0, 10.0, 140.0, 30.0], [80.0, 40.0, 140.0, 60.0]])
    boxes, scores, labels, cut = _simulate(objs, 224, 128, chip_src=128, out_size=64, overlap=0.25)
    assert len(merge_detections(boxes, scores, labels, cut=cut)) == 2


def test_merge_of_chips_with_no_overlap_keeps_touching_neighbours() -> None:
    # with overlap 0 pieces on both sides of a seam never overlap in area, so both stay:
    # the documented limit (the pipeline must use an overlap above the object size)
    obj = np.array([[120.0, 40.0, 136.0, 50.0]])
    boxes, scores, labels, cut = _simulate(obj, 256, 128, chip_src=128, out_size=128, overlap=0.0)
    assert len(merge_detections(boxes, scores, labels, cut=cut)) == 2


# -- edge flags and validation -------------------------------------------------------


def test_box_touches_chip_edge() -> None:
    w = ChipWindow(100, 200, 256, 256, 128, 128)  # interior on all sides of a 1000x1000 image
    boxes = np.array(
        [
            [0, 50, 10, 60],
            [50, 1, 60, 10],
            [120, 50, 127, 60],
            [50, 50, 60, 126.5],
            [50, 50, 60, 60],
        ]
    )
    assert box_touches_chip_edge(boxes, 128, 128, w, 1000, 1000).tolist() == [
        True,
        True,
        True,
        True,
        False,
    ]
    assert (
        box_touches_chip_edge(boxes, 128, 128, w, 1000, 1000, margin=0.0).tolist()
        == [True] + [False] * 4
    )
    # the same chip at the image corner: its left/top edges are the image border
    corner = ChipWindow(0, 0, 256, 256, 128, 128)
    assert box_touches_chip_edge(boxes, 128, 128, corner, 1000, 1000).tolist() == [
        False,
        False,
        True,
        True,
        False,
    ]
    assert box_touches_chip_edge(np.zeros((0, 4)), 128, 128, corner, 1000, 1000).shape == (0,)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"boxes": [[0, 0, 1]]}, r"'boxes' must have shape \(N, 4\)"),
        ({"scores": [0.5, 0.5]}, r"'scores' must have one value per box \(1\) \(got 2\)"),
        ({"labels": [0.0]}, r"'labels' must be integers"),
        ({"cut": np.array([1])}, r"'cut' must be a boolean array"),
        (
            {"boxes": [[5, 0, 1, 1]]},
            r"x2 >= x1 and y2 >= y1 \(got \[5.0, 0.0, 1.0, 1.0\] at row 0\)",
        ),
        ({"boxes": [[0, 0, np.nan, 1]]}, r"must be finite"),
        ({"iou_threshold": 0.0}, r"'iou_threshold' must be in \(0, 1\] \(got 0.0\)"),
        ({"containment_threshold": 1.5}, r"'containment_threshold' must be in \(0, 1\]"),
    ],
)
def test_merge_refuses_bad_input(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {
        "boxes": [[0, 0, 1, 1]],
        "scores": [0.5],
        "labels": [0],
        "cut": np.array([False]),
    }
    args |= kwargs
    with pytest.raises(InputError, match=match):
        merge_detections(args.pop("boxes"), args.pop("scores"), args.pop("labels"), **args)  # type: ignore[arg-type]


def test_merge_scales_to_thousands_of_boxes() -> None:
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 20_000, (20_000, 2))
    boxes = np.hstack([xy, xy + rng.uniform(5, 40, (20_000, 2))])
    keep = merge_detections(
        boxes, rng.uniform(size=20_000), rng.integers(0, 3, 20_000), cut=rng.random(20_000) < 0.1
    )
    assert 0 < len(keep) <= 20_000 and len(np.unique(keep)) == len(keep)


def test_docstring_examples_run() -> None:
    import doctest

    import skyscan.detectors.merge

    result = doctest.testmod(skyscan.detectors.merge)
    assert result.failed == 0 and result.attempted >= 2
