"""One object, one row: the merge across classes, and rows that never depend on the score floor.

A run at threshold T must give exactly the rows of a run at a lower floor filtered at T
(so ``skyscan evaluate``, which runs at a floor of 0.01, scores what ``skyscan detect``
ships), and no two rows of one image may overlap at IoU >= 0.5 whatever their classes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rasters import utm_transform, write_geotiff
from skyscan.detectors import DetectorRecipe, get_detector
from skyscan.detectors.synthetic import build_blob_model
from skyscan.evaluate.metrics import box_iou
from skyscan.io.reader import open_image
from skyscan.pipeline import DetectOptions, detect_image

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
KIT = SHARED / "kit-ais-munich"
# what a row is, without its run and its number among the image's rows
ROW_COLUMNS = (
    "class_name",
    "score",
    "px_xmin",
    "px_ymin",
    "px_xmax",
    "px_ymax",
    "chip_col_off",
    "chip_row_off",
    "truncated",
    "lon",
    "lat",
)


@pytest.fixture(scope="module")
def blob_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_blob_model(
        tmp_path_factory.mktemp("model") / "blobs.onnx", input_size=64, score_threshold=0.3
    )


def _paint(
    img: np.ndarray, x: float, y: float, k: int, amplitude: float, sigma: float = 3.0
) -> None:
    yy, xx = np.mgrid[0 : img.shape[1], 0 : img.shape[2]]
    blob = amplitude * 255.0 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    np.maximum(img[k], blob.astype(np.uint8), out=img[k])


def _rows(table: pa.Table, threshold: float = 0.0) -> list[tuple[object, ...]]:
    cols = [table.column(c).to_pylist() for c in ROW_COLUMNS]
    rows = [tuple(values) for values in zip(*cols, strict=True)]
    return sorted(r for r in rows if r[1] >= threshold)  # type: ignore[operator]


def _run(path: Path, model: str, threshold: float, **kw: object) -> pa.Table:
    options = DetectOptions(recipe=DetectorRecipe(model=model, score_threshold=threshold), **kw)  # type: ignore[arg-type]
    return detect_image(
        open_image(str(path), options.read), get_detector(options.recipe), options, run_id="t"
    )


def _no_overlaps(table: pa.Table) -> None:
    boxes = np.stack(
        [table.column(c).to_numpy() for c in ("px_xmin", "px_ymin", "px_xmax", "px_ymax")], axis=1
    )
    iou = box_iou(boxes, boxes)
    np.fill_diagonal(iou, 0.0)
    assert (iou < 0.5).all(), f"{int((iou >= 0.5).sum()) // 2} pairs of rows overlap at IoU >= 0.5"


blobs = st.lists(
    st.tuples(
        st.floats(2, 238), st.floats(2, 158), st.integers(0, 2), st.floats(0.45, 1.0), st.booleans()
    ),
    min_size=1,
    max_size=14,
)


@pytest.fixture(scope="module")
def any_size_blob_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_blob_model(
        tmp_path_factory.mktemp("model") / "blobs.onnx",
        input_size=64,
        score_threshold=0.3,
        any_size=True,
    )


# the plain merge, and the merge with border strips (an edge pad on a model that takes any
# size): which boxes the strips report is decided by geometry, never by score
PLANS = {"chips": ("blob_model", {}), "strips": ("any_size_blob_model", {"edge_pad": 16})}


@pytest.mark.parametrize("plan", sorted(PLANS))
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    objects=blobs, threshold=st.sampled_from([0.3, 0.5, 0.8]), floor=st.sampled_from([0.01, 0.1])
)
def test_a_run_at_t_is_a_lower_floor_run_filtered_at_t(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    plan: str,
    objects: list[tuple[float, float, int, float, bool]],
    threshold: float,
    floor: float,
) -> None:
    fixture, extra = PLANS[plan]
    model = str(request.getfixturevalue(fixture))
    img = np.zeros((3, 160, 240), np.uint8)
    for x, y, k, amplitude, twin in objects:
        _paint(img, x, y, k, amplitude)
        if twin:  # the same object seen as a second class too
            _paint(img, x + 1, y, (k + 1) % 3, amplitude * 0.9)
    path = write_geotiff(tmp_path / "scene.tif", 240, 160, data=img, transform=utm_transform(0.25))
    at_t = _run(path, model, threshold, overlap=0.25, **extra)
    low = _run(path, model, floor, overlap=0.25, **extra)
    assert _rows(at_t) == _rows(low, threshold)
    _no_overlaps(low)


def test_one_object_seen_as_two_classes_is_one_row_with_both_scores(
    tmp_path: Path, blob_model: Path
) -> None:
    img = np.zeros((3, 64, 64), np.uint8)
    _paint(img, 30, 30, 0, 1.0)  # a car ...
    _paint(img, 31, 30, 2, 0.8)  # ... that the model also calls a bus, less surely
    path = write_geotiff(tmp_path / "one.tif", 64, 64, data=img, transform=utm_transform(0.25))
    table = _run(path, str(blob_model), 0.3)
    assert table.column("class_name").to_pylist() == ["car"]
    scores = table.column("class_scores").to_pylist()[0]
    assert len(scores) == 3 and scores[0] == pytest.approx(table.column("score")[0].as_py())
    assert 0.3 < scores[2] < scores[0] and scores[1] < 0.01
    aware = _run(path, str(blob_model), 0.3, class_aware_merge=True)
    assert sorted(aware.column("class_name").to_pylist()) == ["bus", "car"]


def test_vehicles_at_the_border_are_reported_and_flagged_truncated(
    tmp_path: Path, blob_model: Path
) -> None:
    img = np.zeros((3, 100, 160), np.uint8)
    _paint(img, 1, 50, 0, 1.0)  # cut by the left border
    _paint(img, 80, 50, 1, 1.0)  # well inside
    path = write_geotiff(tmp_path / "edge.tif", 160, 100, data=img, transform=utm_transform(0.25))
    table = _run(path, str(blob_model), 0.3, edge_pad=0)
    flags = dict(
        zip(
            table.column("class_name").to_pylist(),
            table.column("truncated").to_pylist(),
            strict=True,
        )
    )
    assert flags == {"car": True, "truck": False}


@pytest.mark.skipif(not KIT.is_dir(), reason=f"needs the shared KIT AIS frames in {KIT}")
def test_shipped_model_rows_do_not_depend_on_the_floor_on_a_real_frame() -> None:
    frame = KIT / "images" / "MunichStreet02-MOS80.png"
    at_t = _run(frame, "vehicles", 0.3, read=_kit_read())
    low = _run(frame, "vehicles", 0.01, read=_kit_read())
    assert at_t.num_rows > 20
    assert _rows(at_t) == _rows(low, 0.3)
    _no_overlaps(low)


@pytest.mark.skipif(not KIT.is_dir(), reason=f"needs the shared KIT AIS frames in {KIT}")
def test_evaluate_scores_the_rows_that_detect_ships(tmp_path: Path) -> None:
    import skyscan.api
    from skyscan.evaluate.run import evaluate
    from skyscan.options import DetectSettings

    names = ["MunichStreet02-MOS80.png", "MunichStreet02-MOS85.png"]
    report = evaluate(
        KIT / "images",
        KIT / "labels",
        "yolo",
        classes=KIT / "classes.txt",
        names=names,
        settings=DetectSettings(gsd=0.13),
    )
    shipped = skyscan.api.detect([str(KIT / "images" / n) for n in names], gsd=0.13)
    scored = report.detections
    key = ["image_path", "class_name", "score", "px_xmin", "px_ymin", "px_xmax", "px_ymax"]
    at_t = (
        scored[scored["score"] >= report.score_threshold][key]
        .sort_values(key)
        .reset_index(drop=True)
    )
    assert len(at_t) > 20
    assert at_t.equals(shipped[key].sort_values(key).reset_index(drop=True))
    # every class as one vehicle: all labels, all rows at the threshold
    assert report.any_class is not None
    assert report.any_class.n_labels == sum(r.n_labels for r in report.results.values())
    assert report.any_class.n_detections == len(at_t)


def _kit_read() -> object:
    from skyscan.io.reader import ReadOptions

    return ReadOptions(gsd=0.13)
