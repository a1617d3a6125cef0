"""Ignore regions ("DontCare" boxes) in evaluation: hand-computed cases and bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skyscan.errors import LabelError
from skyscan.evaluate.ignore import read_ignore_regions
from skyscan.evaluate.metrics import evaluate_detections, ignored_flags


def test_ignored_flags_uses_cover_of_the_detection() -> None:
    dets = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]], float)
    # first region covers 60 % of the detection, second 40 %; the far detection is untouched
    assert ignored_flags(dets[:1], [[4, 0, 30, 10]]).tolist() == [True]
    assert ignored_flags(dets[1:2], [[6, 0, 30, 10]]).tolist() == [False]
    assert ignored_flags(dets, np.zeros((0, 4))).tolist() == [False, False, False]


def test_false_positive_in_an_ignore_region_is_not_scored() -> None:
    gts = [(np.array([[0, 0, 10, 10]], float), np.array([0]))]
    # scores: FP in an unlabelled-vehicle region (0.9), TP (0.8), FP elsewhere (0.7)
    boxes = np.array([[100, 100, 110, 110], [0, 0, 10, 10], [200, 200, 210, 210]], float)
    dets = [(boxes, np.array([0.9, 0.8, 0.7]), np.array([0, 0, 0]))]
    plain = evaluate_detections(["car"], gts, dets, score_threshold=0.5)["car"]
    # without regions: ranks FP, TP, FP -> precision at the TP is 1/2 -> AP 0.5
    assert plain.ap50 == pytest.approx(0.5)
    assert plain.precision == pytest.approx(1 / 3)
    ignore = [np.array([[98, 98, 112, 112]], float)]
    res = evaluate_detections(["car"], gts, dets, score_threshold=0.5, ignore=ignore)["car"]
    assert res.ap50 == pytest.approx(1.0)
    assert res.precision == pytest.approx(1 / 2)
    assert res.n_detections == 2 and res.n_labels == 1


def test_a_true_positive_inside_a_region_still_counts() -> None:
    gts = [(np.array([[0, 0, 10, 10]], float), np.array([0]))]
    dets = [(np.array([[0, 0, 10, 10]], float), np.array([0.9]), np.array([0]))]
    res = evaluate_detections(["car"], gts, dets, 0.5, ignore=[np.array([[0, 0, 10, 10]], float)])[
        "car"
    ]
    assert res.ap50 == pytest.approx(1.0) and res.n_detections == 1


def test_region_count_must_match_images() -> None:
    with pytest.raises(ValueError, match="ignore regions for 2 images"):
        evaluate_detections(
            ["car"],
            [(np.zeros((0, 4)), np.zeros(0, int))],
            [(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int))],
            0.5,
            ignore=[np.zeros((0, 4)), np.zeros((0, 4))],
        )


def test_read_ignore_regions(tmp_path: Path) -> None:
    f = tmp_path / "regions.csv"
    f.write_text(
        "image,xmin,ymin,xmax,ymax,note\na.png,1,2,3,4,car at border\nsub/a.png,5,6,7,8,\nb.png,0,0,1,1,\n"
    )
    regions = read_ignore_regions(f)
    assert regions.count() == 3
    assert regions.for_image("/x/y/a.png").tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert regions.for_image("c.png").shape == (0, 4)
    assert regions.unused(["/x/a.png"]) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("image,xmin,ymin,xmax\na.png,1,2,3\n", "lacks column"),
        (
            "image,xmin,ymin,xmax,ymax\na.png,1,2,x,4\n",
            ":2: xmin, ymin, xmax, ymax must be numbers",
        ),
        (
            "image,xmin,ymin,xmax,ymax\na.png,1,2,3,4\na.png,5,2,3,4\n",
            ":3: region must have xmax > xmin",
        ),
        ("image,xmin,ymin,xmax,ymax\n,1,2,3,4\n", ":2: empty image name"),
    ],
)
def test_bad_ignore_region_files_name_file_and_line(
    tmp_path: Path, text: str, message: str
) -> None:
    f = tmp_path / "regions.csv"
    f.write_text(text)
    with pytest.raises(LabelError, match=message) as info:
        read_ignore_regions(f)
    assert str(f) in str(info.value)
