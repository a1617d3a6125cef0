"""AP@[.5:.95] agrees with pycocotools, an independent implementation, on random scenes."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyscan.evaluate.metrics import evaluate_detections

cocoeval = pytest.importorskip("pycocotools.cocoeval")
coco = pytest.importorskip("pycocotools.coco")


def _coco_ap(gts: list[np.ndarray], dets: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """pycocotools' AP@[.5:.95] for one class, every box size, up to 1000 detections an image."""
    images = [{"id": i + 1, "width": 1000, "height": 1000} for i in range(len(gts))]
    anns = [
        {
            "id": k + 1,
            "image_id": i + 1,
            "category_id": 1,
            "iscrowd": 0,
            "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
            "area": float((b[2] - b[0]) * (b[3] - b[1])),
        }
        for k, (i, b) in enumerate((i, b) for i, g in enumerate(gts) for b in g)
    ]
    truth = coco.COCO()
    truth.dataset = {
        "images": images,
        "annotations": anns,
        "categories": [{"id": 1, "name": "car"}],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        truth.createIndex()
        results = [
            {
                "image_id": i + 1,
                "category_id": 1,
                "score": float(s),
                "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
            }
            for i, (boxes, scores) in enumerate(dets)
            for b, s in zip(boxes, scores, strict=True)
        ]
        found = truth.loadRes(results) if results else coco.COCO()
        ev = cocoeval.COCOeval(truth, found, "bbox")
        ev.params.maxDets = [1000]
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"][:, :, 0, 0, 0]  # IoU thresholds x recall points, area 'all'
    return float(precision[precision > -1].mean())


@st.composite
def scenes(draw: st.DrawFn) -> tuple[list[np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    gts, dets = [], []
    for _ in range(draw(st.integers(1, 3))):
        n = int(rng.integers(1, 12))
        xy = rng.uniform(0, 900, (n, 2))
        wh = rng.uniform(20, 60, (n, 2))
        g = np.hstack([xy, xy + wh])
        # detections: jittered copies of some labels plus a few strays
        keep = g[rng.random(n) < 0.8]
        jitter = keep + rng.normal(0, 4, keep.shape)
        stray_xy = rng.uniform(0, 900, (int(rng.integers(0, 4)), 2))
        strays = np.hstack([stray_xy, stray_xy + 30])
        d = np.vstack([jitter, strays])
        d[:, 2:] = np.maximum(d[:, 2:], d[:, :2] + 1)
        gts.append(g)
        dets.append((d, rng.uniform(0.05, 1, len(d))))
    return gts, dets


@settings(max_examples=25, deadline=None)
@given(scenes())
def test_ap50_95_matches_pycocotools(
    scene: tuple[list[np.ndarray], list[tuple[np.ndarray, np.ndarray]]],
) -> None:
    gts, dets = scene
    ours = evaluate_detections(
        ["car"],
        [(g, np.zeros(len(g), np.int64)) for g in gts],
        [(b, s, np.zeros(len(b), np.int64)) for b, s in dets],
        score_threshold=0.3,
    )["car"].ap50_95
    # COCO samples the precision envelope at 101 recall points; the all-point area differs
    # from that by at most about 1/101 per threshold
    assert ours == pytest.approx(_coco_ap(gts, dets), abs=0.012)
