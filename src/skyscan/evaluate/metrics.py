"""Detection metrics: greedy IoU matching and all-point interpolated average precision.

The definitions are the PASCAL VOC 2010+ / COCO ones:

* detections of one class, over all images, are sorted by score (descending; ties keep
  input order); each is matched to the unmatched ground-truth box of the same class and
  image with the highest IoU, if that IoU is ≥ ``iou_threshold`` (a true positive),
  otherwise it is a false positive (also when its best box was already taken);
* precision p(k) = TP(k) / k and recall r(k) = TP(k) / n_labels after the k best detections;
* AP = Σ (r(k) - r(k-1)) · max_{k' ≥ k} p(k')  (area under the monotone precision envelope,
  "all-point interpolation");
* AP@[.5:.95] (``ap50_95``, COCO's box-quality figure) is the mean of that AP over the IoU
  thresholds 0.50, 0.55, …, 0.95 (COCO samples the envelope at 101 recall points; the
  all-point area used here differs from it by well under 0.01);
* precision and recall at the operating threshold carry 95 % Wilson score intervals
  (``precision_ci95``, ``recall_ci95``): on a few dozen labels one object moves them by
  several points, and the interval says how far the figure could be from the model's own.

Optional *ignore regions* (KITTI's "DontCare", COCO's crowd boxes): places where an object
is known to be present but unlabelled. A detection that matched no label and lies mostly
inside an ignore region (intersection ≥ 0.5 of the detection's area) is left out of the
scoring: neither a true nor a false positive. Ignore regions never add labels.

Everything here is pure array code; :mod:`skyscan.evaluate.run` feeds it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def box_iou(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """Pairwise IoU of xyxy boxes: (N, 4) × (M, 4) → (N, M)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = iw.clip(0) * ih.clip(0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def match_image(
    det_boxes: npt.ArrayLike,
    det_scores: npt.ArrayLike,
    gt_boxes: npt.ArrayLike,
    iou_threshold: float = 0.5,
) -> npt.NDArray[np.bool_]:
    """True-positive flags for one image and one class, in the order of ``det_scores`` given."""
    return match_pairs(det_boxes, det_scores, gt_boxes, iou_threshold) >= 0


def match_pairs(
    det_boxes: npt.ArrayLike,
    det_scores: npt.ArrayLike,
    gt_boxes: npt.ArrayLike,
    iou_threshold: float = 0.5,
) -> npt.NDArray[np.intp]:
    """The label each detection matched (-1: none), greedily by score: the matching behind
    :func:`match_image`, for callers that also need which labels were found."""
    det = np.asarray(det_boxes, np.float64).reshape(-1, 4)
    scores = np.asarray(det_scores, np.float64).reshape(-1)
    gt = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
    matched = np.full(len(det), -1, np.intp)
    if len(det) == 0 or len(gt) == 0:
        return matched
    ious = box_iou(det, gt)
    taken = np.zeros(len(gt), bool)
    for i in np.argsort(-scores, kind="stable"):
        cand = np.where(taken, -1.0, ious[i])
        j = int(np.argmax(cand))
        if cand[j] >= iou_threshold:
            taken[j] = True
            matched[i] = j
    return matched


def ignored_flags(
    det_boxes: npt.ArrayLike, ignore_boxes: npt.ArrayLike, min_cover: float = 0.5
) -> npt.NDArray[np.bool_]:
    """True for detections covered (intersection / own area ≥ ``min_cover``) by an ignore box."""
    det = np.asarray(det_boxes, np.float64).reshape(-1, 4)
    ign = np.asarray(ignore_boxes, np.float64).reshape(-1, 4)
    if len(det) == 0 or len(ign) == 0:
        return np.zeros(len(det), bool)
    iw = np.minimum(det[:, None, 2], ign[None, :, 2]) - np.maximum(det[:, None, 0], ign[None, :, 0])
    ih = np.minimum(det[:, None, 3], ign[None, :, 3]) - np.maximum(det[:, None, 1], ign[None, :, 1])
    inter = iw.clip(0) * ih.clip(0)
    area = ((det[:, 2] - det[:, 0]) * (det[:, 3] - det[:, 1]))[:, None]
    cover = np.where(area > 0, inter / np.where(area > 0, area, 1.0), 0.0)
    return np.asarray((cover >= min_cover).any(axis=1))


def wilson_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion; ``None`` without trials. Unlike the
    normal approximation it stays inside [0, 1] and holds for small counts and for
    proportions near 0 or 1."""
    if trials <= 0:
        return None
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p, n = successes / trials, trials
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # none or all successes: the bound is exactly 0 or 1 (the formula leaves rounding dust)
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == trials else min(1.0, centre + half)
    return lo, hi


def average_precision(recall: FloatArray, precision: FloatArray) -> float:
    """All-point interpolated AP from a PR curve ordered by decreasing score."""
    if len(recall) == 0:
        return 0.0
    r = np.concatenate([[0.0], recall, [recall[-1]]])
    p = np.concatenate([[1.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]  # monotone envelope
    return float(np.sum((r[1:] - r[:-1]) * p[1:]))


@dataclass(frozen=True)
class ClassResult:
    """Scores for one class: AP, PR curve, and P/R/F1 at the operating threshold."""

    name: str
    ap50: float
    precision: float
    recall: float
    f1: float
    n_labels: int
    n_detections: int
    curve_recall: FloatArray
    curve_precision: FloatArray
    curve_scores: FloatArray
    ap50_95: float | None = None
    box_fit: BoxFit | None = None
    n_true: int = 0  # true positives at the operating threshold
    # per label of the class (images in order): matched by a detection at the threshold
    found: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))

    def best_f1(self) -> dict[str, float] | None:
        """The operating point with the highest F1 along the PR curve (``None`` if empty).

        The threshold is the score of the last detection kept at that point.
        """
        p, r = self.curve_precision, self.curve_recall
        if len(p) == 0 or self.n_labels == 0:
            return None
        f1 = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1.0), 0.0)
        k = int(np.argmax(f1))
        return {
            "threshold": round(float(self.curve_scores[k]), 6),
            "precision": round(float(p[k]), 6),
            "recall": round(float(r[k]), 6),
            "f1": round(float(f1[k]), 6),
        }

    def to_dict(self) -> dict[str, object]:
        return {
            "ap50": round(self.ap50, 6),
            "ap50_95": round(self.ap50_95, 6) if self.ap50_95 is not None else None,
            "precision": round(self.precision, 6),
            "recall": round(self.recall, 6),
            "f1": round(self.f1, 6),
            "n_labels": self.n_labels,
            "n_detections": self.n_detections,
            "best_f1": self.best_f1(),
            "box_fit": self.box_fit.to_dict() if self.box_fit is not None else None,
            "precision_ci95": _rounded(wilson_interval(self.n_true, self.n_detections)),
            "recall_ci95": _rounded(wilson_interval(self.n_true, self.n_labels)),
        }


def _rounded(interval: tuple[float, float] | None) -> list[float] | None:
    return None if interval is None else [round(v, 4) for v in interval]


def evaluate_class(
    name: str,
    tp_flags: list[npt.NDArray[np.bool_]],
    scores: list[FloatArray],
    n_labels: int,
    score_threshold: float,
) -> ClassResult:
    """Combine per-image TP flags and scores of one class into AP and P/R/F1."""
    tp = np.concatenate(tp_flags) if tp_flags else np.zeros(0, bool)
    sc = np.concatenate(scores) if scores else np.zeros(0)
    order = np.argsort(-sc, kind="stable")
    tp, sc = tp[order], sc[order]
    ctp = np.cumsum(tp)
    k = np.arange(1, len(tp) + 1)
    precision = ctp / k if len(tp) else np.zeros(0)
    recall = ctp / n_labels if n_labels else np.zeros(len(tp))
    ap = average_precision(recall, precision) if n_labels else 0.0
    above = sc >= score_threshold
    n_tp = int(tp[above].sum())
    n_det = int(above.sum())
    p_at = n_tp / n_det if n_det else 0.0
    r_at = n_tp / n_labels if n_labels else 0.0
    f1 = 2 * p_at * r_at / (p_at + r_at) if p_at + r_at > 0 else 0.0
    return ClassResult(
        name, ap, p_at, r_at, f1, n_labels, n_det, recall, precision, sc, n_true=n_tp
    )


def evaluate_detections(
    classes: list[str] | tuple[str, ...],
    gts: list[tuple[FloatArray, npt.NDArray[np.int64]]],
    dets: list[tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]],
    score_threshold: float,
    iou_threshold: float = 0.5,
    ignore: list[FloatArray] | None = None,
) -> dict[str, ClassResult]:
    """Per-class results for paired lists of images: ``gts[i] = (boxes, labels)``,
    ``dets[i] = (boxes, scores, labels)``; label ints index ``classes``. ``ignore[i]``
    holds image i's ignore regions (any class; see the module docstring)."""
    if len(gts) != len(dets):
        raise ValueError(f"ground truth for {len(gts)} images but detections for {len(dets)}")
    if ignore is not None and len(ignore) != len(gts):
        raise ValueError(f"ignore regions for {len(ignore)} images but ground truth for {len(gts)}")
    out: dict[str, ClassResult] = {}
    for c, name in enumerate(classes):
        result = evaluate_class(
            name, *_class_flags(c, gts, dets, iou_threshold, ignore), score_threshold
        )
        aps = [average_precision_at(c, gts, dets, iou, ignore) for iou in COCO_IOUS]
        # one matching at the operating threshold serves both the box fit and the labels found
        matches = _matches_at(c, gts, dets, score_threshold, iou_threshold)
        out[name] = replace(
            result,
            ap50_95=float(np.mean(aps)),
            box_fit=_box_fit_of(matches),
            found=_labels_found(matches),
        )
    return out


#: the IoU thresholds of COCO's AP@[.5:.95]
COCO_IOUS = tuple(round(0.5 + 0.05 * k, 2) for k in range(10))


def average_precision_at(
    c: int,
    gts: list[tuple[FloatArray, npt.NDArray[np.int64]]],
    dets: list[tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]],
    iou_threshold: float,
    ignore: list[FloatArray] | None = None,
) -> float:
    """Class ``c``'s AP when a match needs IoU ≥ ``iou_threshold``."""
    return evaluate_class(
        "", *_class_flags(c, gts, dets, iou_threshold, ignore), score_threshold=1.0
    ).ap50


def _class_flags(
    c: int,
    gts: list[tuple[FloatArray, npt.NDArray[np.int64]]],
    dets: list[tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]],
    iou_threshold: float,
    ignore: list[FloatArray] | None,
) -> tuple[list[npt.NDArray[np.bool_]], list[FloatArray], int]:
    """Per-image true-positive flags and scores of class ``c`` (ignored detections left out),
    and its number of labels."""
    no_regions = np.zeros((0, 4))
    flags, scores, n = [], [], 0
    for i, ((gb, gl), (db, ds, dl)) in enumerate(zip(gts, dets, strict=True)):
        gsel, dsel = np.asarray(gl) == c, np.asarray(dl) == c
        n += int(gsel.sum())
        s = np.asarray(ds, np.float64)[dsel]
        boxes = np.asarray(db).reshape(-1, 4)[dsel]
        tp = match_image(boxes, s, np.asarray(gb)[gsel], iou_threshold)
        keep = ~(~tp & ignored_flags(boxes, ignore[i] if ignore is not None else no_regions))
        flags.append(tp[keep])
        scores.append(s[keep])
    return flags, scores, n


@dataclass(frozen=True)
class BoxFit:
    """How the sides of matched detections compare with their labels': the mean log of
    label side / detection side, for each detection's longer and shorter side. A model
    whose boxes are too large on one side has a negative mean there."""

    n: int
    log_longer: float
    log_shorter: float
    mean_iou: float

    @property
    def scale(self) -> tuple[float, float]:
        """The (longer, shorter) factors that would make the boxes fit on average."""
        return math.exp(self.log_longer), math.exp(self.log_shorter)

    def to_dict(self) -> dict[str, object]:
        longer, shorter = self.scale
        return {
            "n": self.n,
            "log_longer": round(self.log_longer, 6),
            "log_shorter": round(self.log_shorter, 6),
            "scale_longer": round(longer, 6),
            "scale_shorter": round(shorter, 6),
            "mean_iou": round(self.mean_iou, 6),
        }


_Matches = list[tuple[FloatArray, FloatArray, npt.NDArray[np.intp]]]


def _matches_at(
    c: int,
    gts: list[tuple[FloatArray, npt.NDArray[np.int64]]],
    dets: list[tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]],
    score_threshold: float,
    iou_threshold: float,
) -> _Matches:
    """Per image: class ``c``'s detections at ``score_threshold``, its labels, and the label
    each detection matched (-1: none)."""
    out: _Matches = []
    for (gb, gl), (db, ds, dl) in zip(gts, dets, strict=True):
        dsel = (np.asarray(dl) == c) & (np.asarray(ds, np.float64) >= score_threshold)
        det = np.asarray(db, np.float64).reshape(-1, 4)[dsel]
        gt = np.asarray(gb, np.float64).reshape(-1, 4)[np.asarray(gl) == c]
        out.append((det, gt, match_pairs(det, np.asarray(ds, np.float64)[dsel], gt, iou_threshold)))
    return out


def _labels_found(matches: _Matches) -> npt.NDArray[np.bool_]:
    """Per label (images in order, labels in file order): whether a detection matched it."""
    found = []
    for _, gt, matched in matches:
        hit = np.zeros(len(gt), bool)
        hit[matched[matched >= 0]] = True
        found.append(hit)
    return np.concatenate(found) if found else np.zeros(0, bool)


def box_fit(
    c: int,
    gts: list[tuple[FloatArray, npt.NDArray[np.int64]]],
    dets: list[tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]],
    score_threshold: float,
    iou_threshold: float = 0.5,
) -> BoxFit | None:
    """Side ratios of class ``c``'s true positives at ``score_threshold`` (``None``: none)."""
    return _box_fit_of(_matches_at(c, gts, dets, score_threshold, iou_threshold))


def _box_fit_of(matches: _Matches) -> BoxFit | None:
    logs, ious = [], []
    for det, gt, matched in matches:
        hit = matched >= 0
        if not hit.any():
            continue
        d, g = det[hit], gt[matched[hit]]
        dw, dh = d[:, 2] - d[:, 0], d[:, 3] - d[:, 1]
        gw, gh = g[:, 2] - g[:, 0], g[:, 3] - g[:, 1]
        wide = dw >= dh  # the detection's longer side is its width
        longer = np.where(wide, gw / dw, gh / dh)
        shorter = np.where(wide, gh / dh, gw / dw)
        logs.append(np.log(np.stack([longer, shorter], axis=1)))
        ious.append(box_iou(d, g).diagonal())
    if not logs:
        return None
    both = np.concatenate(logs)
    return BoxFit(
        len(both),
        float(both[:, 0].mean()),
        float(both[:, 1].mean()),
        float(np.concatenate(ious).mean()),
    )


def mean_ap(results: dict[str, ClassResult], iou: str = "ap50") -> float:
    """Mean AP (``ap50`` or ``ap50_95``) over the classes that have at least one label."""
    present = [getattr(r, iou) for r in results.values() if r.n_labels > 0]
    present = [v for v in present if v is not None]
    return float(np.mean(present)) if present else 0.0
