"""Metric code against hand-computed cases and an independent brute-force implementation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyscan.evaluate.metrics import (
    ClassResult,
    average_precision,
    box_fit,
    box_iou,
    evaluate_detections,
    match_image,
    mean_ap,
    wilson_interval,
)


def test_box_iou_hand_cases() -> None:
    a = [[0, 0, 10, 10]]
    b = [[0, 0, 10, 10], [5, 0, 15, 10], [10, 10, 20, 20], [20, 20, 30, 30], [2, 2, 4, 4]]
    np.testing.assert_allclose(box_iou(a, b)[0], [1.0, 50 / 150, 0.0, 0.0, 4 / 100])


def test_match_prefers_highest_score_and_best_iou() -> None:
    gt = [[0, 0, 10, 10], [20, 0, 30, 10]]
    det = [[0, 0, 10, 10], [1, 0, 11, 10], [20, 0, 30, 10], [50, 50, 60, 60]]
    scores = [0.9, 0.95, 0.5, 0.99]
    # det1 (0.95) takes gt0 first; det0 (0.9) finds gt0 taken -> FP; det2 -> gt1; det3 -> nothing.
    assert match_image(det, scores, gt).tolist() == [False, True, True, False]


def _ranked_tp_fp_tp_fp_tp(score_threshold: float) -> ClassResult:
    """3 labels; 5 detections ranked TP, FP, TP, FP, TP (scores 0.9 down to 0.5)."""
    gt = [[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]]
    det = [[0, 0, 10, 10], [100, 0, 110, 10], [20, 0, 30, 10], [200, 0, 210, 10], [40, 0, 50, 10]]
    return evaluate_detections(
        ["car"],
        [(np.array(gt), np.zeros(3, np.int64))],
        [(np.array(det), np.array([0.9, 0.8, 0.7, 0.6, 0.5]), np.zeros(5, np.int64))],
        score_threshold,
    )["car"]


def test_ap_hand_computed() -> None:
    # 3 labels; ranked detections TP, FP, TP, FP, TP
    # precision 1, 1/2, 2/3, 2/4, 3/5; recall 1/3, 1/3, 2/3, 2/3, 1
    # envelope at recall steps: 1 (r=1/3), 2/3 (r=2/3), 3/5 (r=1)
    # AP = 1/3 * 1 + 1/3 * 2/3 + 1/3 * 3/5 = 0.7555...
    car = _ranked_tp_fp_tp_fp_tp(0.65)
    assert car.ap50 == pytest.approx(1 / 3 + 2 / 9 + 1 / 5)
    # at threshold 0.65: detections 0.9, 0.8, 0.7 -> 2 TP of 3 detections, 2 of 3 labels
    assert car.precision == pytest.approx(2 / 3)
    assert car.recall == pytest.approx(2 / 3)
    assert car.f1 == pytest.approx(2 / 3)
    assert car.n_labels == 3


def test_ap_edge_cases() -> None:
    assert average_precision(np.zeros(0), np.zeros(0)) == 0.0
    res = evaluate_detections(
        ["car", "bus"],
        [(np.zeros((0, 4)), np.zeros(0, np.int64))],
        [(np.array([[0, 0, 1, 1]]), np.array([0.9]), np.array([0]))],
        0.5,
    )
    assert res["car"].n_labels == 0 and res["car"].ap50 == 0.0
    assert mean_ap(res) == 0.0  # no class present
    perfect = evaluate_detections(
        ["car"],
        [(np.array([[0, 0, 5, 5]]), np.array([0]))],
        [(np.array([[0, 0, 5, 5]]), np.array([0.3]), np.array([0]))],
        0.5,
    )
    assert perfect["car"].ap50 == 1.0
    assert perfect["car"].precision == 0.0 and perfect["car"].recall == 0.0  # below the threshold


def test_classes_do_not_match_each_other() -> None:
    gt = (np.array([[0, 0, 10, 10]]), np.array([0]))
    det = (np.array([[0, 0, 10, 10]]), np.array([0.9]), np.array([1]))
    res = evaluate_detections(["car", "bus"], [gt], [det], 0.5)
    assert res["car"].ap50 == 0.0
    assert res["bus"].n_detections == 1


def _brute_force_ap(
    gts: list[np.ndarray], dets: list[tuple[np.ndarray, np.ndarray]], iou_thr: float
) -> float:
    """VOC-devkit style, written independently: loop detections globally by score, then
    11...all-point area with an explicit running max over precision from the right."""
    records = [(float(s), i, k) for i, (_, sc) in enumerate(dets) for k, s in enumerate(sc)]
    records.sort(key=lambda r: -r[0])
    used = [set() for _ in gts]
    npos = sum(len(g) for g in gts)
    tps = []
    for _, i, k in records:
        box = dets[i][0][k]
        best, best_j = -1.0, -1
        for j, g in enumerate(gts[i]):
            ix = max(0.0, min(box[2], g[2]) - max(box[0], g[0]))
            iy = max(0.0, min(box[3], g[3]) - max(box[1], g[1]))
            inter = ix * iy
            union = (box[2] - box[0]) * (box[3] - box[1]) + (g[2] - g[0]) * (g[3] - g[1]) - inter
            iou = inter / union if union > 0 else 0.0
            if j not in used[i] and iou > best:
                best, best_j = iou, j
        if best >= iou_thr:
            used[i].add(best_j)
            tps.append(1)
        else:
            tps.append(0)
    if npos == 0:
        return 0.0
    ap, tp_count = 0.0, 0
    precisions, recalls = [], []
    for n, t in enumerate(tps, 1):
        tp_count += t
        precisions.append(tp_count / n)
        recalls.append(tp_count / npos)
    prev_r = 0.0
    for n in range(len(tps)):
        if recalls[n] > prev_r:
            ap += (recalls[n] - prev_r) * max(precisions[n:])
            prev_r = recalls[n]
    return ap


box_st = st.tuples(
    st.integers(0, 40), st.integers(0, 40), st.integers(2, 15), st.integers(2, 15)
).map(lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(box_st, max_size=6),
            st.lists(st.tuples(box_st, st.floats(0.01, 1.0)), max_size=8),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_ap_matches_brute_force(
    images: list[tuple[list[list[int]], list[tuple[list[int], float]]]],
) -> None:
    gts = [np.array(g, np.float64).reshape(-1, 4) for g, _ in images]
    # distinct scores: tie order is implementation-defined in every AP implementation
    dets = []
    n = 0
    for _, d in images:
        boxes = np.array([b for b, _ in d], np.float64).reshape(-1, 4)
        scores = np.array([s + 1e-6 * (n + k) for k, (_, s) in enumerate(d)])
        n += len(d)
        dets.append((boxes, scores))
    res = evaluate_detections(
        ["car"],
        [(g, np.zeros(len(g), np.int64)) for g in gts],
        [(b, s, np.zeros(len(s), np.int64)) for b, s in dets],
        0.5,
    )
    assert res["car"].ap50 == pytest.approx(_brute_force_ap(gts, dets, 0.5), abs=1e-9)


def test_best_f1_operating_point() -> None:
    # same ranking as test_ap_hand_computed: F1 after k = 1..5 detections:
    # k=1: P1 R1/3 -> 0.5; k=3: P2/3 R2/3 -> 0.667; k=5: P3/5 R1 -> 0.75 (best)
    best = _ranked_tp_fp_tp_fp_tp(0.65).best_f1()
    assert best == {"threshold": 0.5, "precision": 0.6, "recall": 1.0, "f1": 0.75}


def test_wilson_interval_published_values() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, table I, method 3 (Wilson score)
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert wilson_interval(15, 148) == pytest.approx((0.0624, 0.1605), abs=1e-4)
    assert wilson_interval(0, 20) == pytest.approx((0.0, 0.1611), abs=1e-4)
    assert wilson_interval(1, 29) == pytest.approx((0.0061, 0.1718), abs=1e-4)
    assert wilson_interval(0, 0) is None


@given(st.integers(1, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_holds_the_proportion_and_narrows(kn: tuple[int, int]) -> None:
    k, n = kn
    lo, hi = wilson_interval(k, n) or (None, None)
    assert lo is not None and hi is not None
    assert 0.0 <= lo <= k / n <= hi <= 1.0
    lo4, hi4 = wilson_interval(4 * k, 4 * n) or (0.0, 1.0)
    assert hi4 - lo4 < hi - lo  # four times the evidence, a narrower interval


def test_report_carries_the_intervals_of_its_operating_point() -> None:
    """At 0.5 all 5 detections count, 3 of them true: P 3/5, R 3/3."""
    res = _ranked_tp_fp_tp_fp_tp(0.5).to_dict()
    # which labels were found at the threshold: the two the 0.9 and 0.7 detections match
    assert _ranked_tp_fp_tp_fp_tp(0.65).found.tolist() == [True, True, False]
    assert res["precision_ci95"] == [round(v, 4) for v in wilson_interval(3, 5) or ()]
    assert res["recall_ci95"] == [round(v, 4) for v in wilson_interval(3, 3) or ()]


def test_ap50_95_averages_ap_over_coco_iou_thresholds() -> None:
    """One label, one detection with IoU 0.72: a hit at IoU 0.50-0.70 (5 of COCO's 10
    thresholds), a miss above, so AP@[.5:.95] is 0.5 while AP50 is 1."""
    gt = np.array([[0, 0, 100, 10]], np.float64)
    det = np.array([[0, 0, 72, 10]], np.float64)  # IoU = 720 / 1000
    res = evaluate_detections(
        ["car"], [(gt, np.array([0]))], [(det, np.array([0.9]), np.array([0]))], 0.3
    )
    assert res["car"].ap50 == pytest.approx(1.0)
    assert res["car"].ap50_95 == pytest.approx(0.5)
    assert mean_ap(res, "ap50_95") == pytest.approx(0.5)
    assert res["car"].to_dict()["ap50_95"] == pytest.approx(0.5)


def test_box_fit_measures_each_detections_longer_and_shorter_side() -> None:
    """Two matched cars drawn 25 % too wide across (a wide one and a tall one), one match
    below the operating threshold and one false positive: the fit is over the two matches
    at the threshold, by each detection's own longer and shorter side."""
    gt = np.array([[0, 0, 40, 16], [100, 100, 116, 140], [200, 200, 240, 216]], np.float64)
    det = np.array(
        [
            [0, -2, 40, 18],  # wide: shorter side 20 against 16
            [98, 100, 118, 140],  # tall: shorter side 20 against 16
            [200, 200, 240, 216],  # exact, but scored below the threshold
            [400, 400, 440, 416],  # matches nothing
        ],
        np.float64,
    )
    fit = box_fit(
        0,
        [(gt, np.array([0, 0, 0]))],
        [(det, np.array([0.9, 0.8, 0.2, 0.9]), np.zeros(4, int))],
        0.3,
    )
    assert fit is not None and fit.n == 2
    assert fit.scale == pytest.approx((1.0, 0.8))
    assert fit.mean_iou == pytest.approx(16 / 20)
    res = evaluate_detections(
        ["car", "bus"],
        [(gt, np.array([0, 0, 0]))],
        [(det, np.array([0.9, 0.8, 0.2, 0.9]), np.zeros(4, int))],
        0.3,
    )
    assert res["car"].to_dict()["box_fit"]["scale_shorter"] == pytest.approx(0.8)
    assert res["bus"].box_fit is None
