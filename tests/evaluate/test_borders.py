"""The crops that measure recall at image borders: their edges cut labelled vehicles, the
clipped box is the label, and slivers are neither a label nor a false positive."""

from __future__ import annotations

import numpy as np

from skyscan.evaluate.borders import Crop, near_border, plan_crops, ratio_interval, score_crops


def test_crop_edges_cut_vehicles_and_clip_their_labels() -> None:
    rng = np.random.default_rng(3)
    boxes = np.array([[100, 100, 140, 120], [300, 200, 340, 220], [500, 400, 540, 420]], float)
    crops = plan_crops("frame.png", 800, 600, boxes, rng, n=20, fraction=0.6, min_visible=0.3)
    cut_any = 0
    for crop in crops:
        x0, y0, w, h = crop.window
        assert (w, h) == (480, 360) and 0 <= x0 <= 320 and 0 <= y0 <= 240
        kept = np.vstack([crop.boxes, crop.ignore])
        assert (kept[:, [0, 2]] >= 0).all() and (kept[:, [0, 2]] <= w).all()
        assert (kept[:, [1, 3]] >= 0).all() and (kept[:, [1, 3]] <= h).all()
        visible = (kept[:, 2] - kept[:, 0]) * (kept[:, 3] - kept[:, 1]) / 800.0
        assert (visible[: len(crop.boxes)] >= 0.3).all() and (
            visible[len(crop.boxes) :] < 0.3
        ).all()
        assert crop.visible is not None
        assert np.allclose(crop.visible, visible[: len(crop.boxes)])  # each label's share shown
        cut_any += int(near_border(crop.boxes, w, h, 0.5).sum())
    assert cut_any >= 10  # the point of the crops: many labels end on a crop edge


def test_near_border_counts_boxes_within_the_distance() -> None:
    boxes = np.array([[0, 50, 10, 60], [7, 50, 20, 60], [50, 50, 60, 60], [85, 50, 100, 60]], float)
    assert near_border(boxes, 100, 100, 8.0).tolist() == [True, True, False, True]
    assert near_border(boxes, 100, 100, 0.5).tolist() == [True, False, False, True]


def test_audited_unlabelled_vehicles_are_ignored_where_a_crop_shows_them() -> None:
    boxes = np.zeros((0, 4))  # no labels: no slivers, crops anywhere
    unlabelled = np.array([[0, 0, 30, 20], [780, 580, 800, 600]], float)  # two frame corners
    crops = plan_crops(
        "f.png", 800, 600, boxes, np.random.default_rng(0), n=12, unlabelled=unlabelled
    )
    for crop in crops:
        x0, y0, w, h = crop.window
        shows = [x0 < r[2] and r[0] < x0 + w and y0 < r[3] and r[1] < y0 + h for r in unlabelled]
        assert len(crop.ignore) == sum(shows)
        for r in crop.ignore:
            assert 0 <= r[0] < r[2] <= w and 0 <= r[1] < r[3] <= h
    assert any(len(c.ignore) for c in crops)


def test_a_lower_threshold_for_truncated_detections_trades_precision_for_border_recall() -> None:
    crop = Crop(
        "frame.png",
        (0, 0, 100, 100),
        np.array([[0.0, 10, 20, 20], [40, 40, 60, 60]]),  # one cut by the left edge, one inside
        np.zeros((0, 4)),
        visible=np.array([0.4, 1.0]),  # the cut one: 40 % of it inside, its centre outside
    )
    detections = [
        (
            np.array([[0.0, 10, 20, 20], [40, 40, 60, 60], [80, 0, 95, 5]]),
            np.array([0.2, 0.5, 0.25]),
            np.array([True, False, True]),
        )
    ]
    plain = score_crops([crop], detections, 0.4, 0.4, near_px=8, iou_threshold=0.5)
    assert (plain["recall_near"], plain["recall_far"], plain["precision"]) == (0.0, 1.0, 1.0)
    lower = score_crops([crop], detections, 0.4, 0.15, near_px=8, iou_threshold=0.5)
    assert (lower["recall_near"], lower["recall_far"]) == (1.0, 1.0)
    assert lower["precision"] == 2 / 3  # the truncated sliver at 0.25 is a false positive
    assert plain["recall_near_cut_by_visible"]["under 0.5"] == {"labels": 1, "recall": 0.0}
    assert lower["recall_near_cut_by_visible"]["under 0.5"] == {"labels": 1, "recall": 1.0}
    assert lower["recall_near_cut_by_visible"]["0.5-0.7"] == {"labels": 0, "recall": None}
    # an untruncated detection below the threshold stays out whatever the truncated rule
    detections[0][2][0] = False
    assert score_crops([crop], detections, 0.4, 0.15, 8, 0.5)["recall_near"] == 0.0


def test_the_ratio_interval_resamples_frames_and_spans_their_spread() -> None:
    # hits rows: near, far, cut, whole, then the visible bins; columns [found, labelled]
    def hits(near_found: int) -> np.ndarray:
        h = np.zeros((7, 2), np.int64)
        h[0], h[1] = (near_found, 10), (10, 10)
        return h

    same = ratio_interval(["a", "a", "b"], [hits(9), hits(9), hits(9)])
    assert same == (0.9, 0.9)  # every resample of equal frames gives the same ratio
    spread = ratio_interval(["a", "b", "c", "d"], [hits(5), hits(7), hits(9), hits(10)])
    assert spread is not None
    assert 0.5 <= spread[0] < 0.775 < spread[1] <= 1.0  # around the pooled 31/40
    assert ratio_interval(["a", "a"], [hits(5), hits(7)]) is None  # one frame: no spread to draw
