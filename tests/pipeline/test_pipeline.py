"""End-to-end pipeline on generated rasters with a real (synthetic) ONNX detector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rasters import utm_transform, write_geotiff
from skyscan.chips import plan_chips
from skyscan.detectors import DetectorRecipe, get_detector
from skyscan.detectors.synthetic import build_blob_model, draw_blobs
from skyscan.io.reader import open_image
from skyscan.pipeline import (
    DetectOptions,
    detect_image,
    detect_units,
    finalize_image,
    plan_units,
)
from skyscan.schema import DETECTION_COLUMNS


@pytest.fixture(scope="module")
def blob_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_blob_model(tmp_path_factory.mktemp("model") / "blobs.onnx", input_size=64)


def _scene(
    tmp_path: Path,
    centres: list[tuple[float, float, int]],
    width: int = 300,
    height: int = 200,
    **kw: object,
) -> Path:
    img = np.zeros((3, height, width), np.uint8)
    draw_blobs(img, centres)
    return write_geotiff(tmp_path / "scene.tif", width, height, data=img, **kw)  # type: ignore[arg-type]


def _options(model: Path, **kw: object) -> DetectOptions:
    return DetectOptions(recipe=DetectorRecipe(model=str(model)), **kw)  # type: ignore[arg-type]


def test_finds_each_object_once_including_seams(tmp_path: Path, blob_model: Path) -> None:
    options = _options(blob_model, overlap=0.25)
    windows = plan_chips(300, 200, chip_src=64, out_size=64, overlap=0.25)
    seam_x = (
        windows[1].col_off + 2
    )  # just inside the second chip: seen whole by one chip, cut by the other
    centres = [
        (30.0, 30.0, 0),
        (float(seam_x), 100.0, 1),
        (150.0, 60.0, 2),
        (250.0, 170.0, 0),
        (62.0, 150.0, 0),
    ]
    ref = open_image(str(_scene(tmp_path, centres)))
    table = detect_image(ref, get_detector(options.recipe), options, run_id="t")
    assert table.column_names[: len(DETECTION_COLUMNS)] == DETECTION_COLUMNS
    assert table.num_rows == len(centres)
    cx = (table.column("px_xmin").to_numpy() + table.column("px_xmax").to_numpy()) / 2
    cy = (table.column("px_ymin").to_numpy() + table.column("px_ymax").to_numpy()) / 2
    names = table.column("class_name").to_pylist()
    for x, y, k in centres:
        d = np.hypot(cx - x, cy - y)
        i = int(np.argmin(d))
        assert d[i] <= 3.0, (x, y, d[i])
        assert names[i] == ("car", "truck", "bus")[k]


def test_rows_are_georeferenced_through_the_affine(tmp_path: Path, blob_model: Path) -> None:
    from pyproj import Transformer

    options = _options(blob_model)
    ref = open_image(str(_scene(tmp_path, [(100.0, 80.0, 0)], transform=utm_transform(0.5))))
    table = detect_image(ref, get_detector(options.recipe), options, run_id="t")
    assert table.num_rows == 1
    row = table.to_pylist()[0]
    px = (row["px_xmin"] + row["px_xmax"]) / 2
    py = (row["px_ymin"] + row["px_ymax"]) / 2
    t = utm_transform(0.5)
    x, y = t @ (px, py)
    lon, lat = Transformer.from_crs("EPSG:32631", "EPSG:4326", always_xy=True).transform(x, y)
    assert row["georeferenced"] and row["src_crs"] == "EPSG:32631"
    assert abs(row["lon"] - lon) < 1e-9 and abs(row["lat"] - lat) < 1e-9
    assert row["xview_type_id"] == 18
    assert row["area_m2"] == pytest.approx(12 * 12 * 0.25, rel=0.05)


def test_unit_order_does_not_change_the_result(tmp_path: Path, blob_model: Path) -> None:
    import pyarrow as pa

    options = _options(blob_model, chips_per_unit=3)
    centres = [
        (float(x), float(y), (x + y) % 3) for x in range(20, 300, 45) for y in range(20, 200, 45)
    ]
    ref = open_image(str(_scene(tmp_path, centres)))
    det = get_detector(options.recipe)
    units = plan_units(ref, det.card, options)
    assert len(units) > 2
    raws = [detect_units([u], det, options) for u in units]
    forward = finalize_image(ref, pa.concat_tables(raws), det.card, "t", options)
    backward = finalize_image(ref, pa.concat_tables(raws[::-1]), det.card, "t", options)
    assert forward.equals(backward)
    assert forward.num_rows == len(centres)


class _PlainDetector:
    """Only ``detect_batch``: the pipeline must not need the staged methods."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.card = inner.card  # type: ignore[attr-defined]

    def detect_batch(self, chips: np.ndarray) -> list:
        return self._inner.detect_batch(chips)  # type: ignore[attr-defined,no-any-return]


def test_overlapped_in_turn_and_plain_detectors_give_the_same_rows(
    tmp_path: Path, blob_model: Path
) -> None:
    from skyscan.detectors import StagedDetector

    options = _options(blob_model, chips_per_unit=4, batch_size=3)  # batches span units
    centres = [
        (float(x), float(y), (x + y) % 3) for x in range(20, 300, 45) for y in range(20, 200, 45)
    ]
    ref = open_image(str(_scene(tmp_path, centres)))
    det = get_detector(options.recipe)
    assert isinstance(det, StagedDetector) and not isinstance(_PlainDetector(det), StagedDetector)
    units = plan_units(ref, det.card, options)
    overlapped = detect_units(units, det, options)
    assert overlapped.num_rows >= len(centres)
    assert detect_units(units, det, options, overlap=False).equals(overlapped)
    assert detect_units(units, _PlainDetector(det), options).equals(overlapped)
    assert set(overlapped.column("unit_index").to_pylist()) == {u.unit_index for u in units}


def test_a_failing_stage_surfaces_from_the_overlapped_pipeline(
    tmp_path: Path, blob_model: Path
) -> None:
    class Broken(_PlainDetector):
        def detect_batch(self, chips: np.ndarray) -> list:
            raise RuntimeError("model exploded")

    options = _options(blob_model)
    ref = open_image(str(_scene(tmp_path, [(40.0, 40.0, 0)])))
    det = get_detector(options.recipe)
    with pytest.raises(RuntimeError, match="model exploded"):
        detect_units(plan_units(ref, det.card, options), Broken(det), options)


def test_image_without_georef_is_processed_in_pixel_space(tmp_path: Path, blob_model: Path) -> None:
    options = _options(blob_model)
    ref = open_image(str(_scene(tmp_path, [(40.0, 40.0, 2)], crs=None)))
    table = detect_image(ref, get_detector(options.recipe), options, run_id="t")
    row = table.to_pylist()[0]
    assert row["georeferenced"] is False and row["georef_source"] == "none"
    assert row["lon"] is None and row["geometry"] is None
    assert row["class_name"] == "bus"


def test_resamples_chips_to_the_model_gsd(tmp_path: Path) -> None:
    """A model at 1 m/px over a 0.5 m/px image: each chip covers 2x the model input in source pixels."""
    model = build_blob_model(tmp_path / "m.onnx", input_size=64, gsd=1.0, box_size=12.0)
    options = _options(model)
    ref = open_image(str(_scene(tmp_path, [(150.0, 100.0, 0)], transform=utm_transform(0.5))))
    assert ref.gsd == pytest.approx(0.5)
    units = plan_units(ref, get_detector(options.recipe).card, options)
    assert all(w.width == 128 and w.out_width == 64 for u in units for w in u.windows)


def test_imagery_far_coarser_than_the_model_is_refused(tmp_path: Path) -> None:
    from skyscan.errors import InputError

    model = build_blob_model(tmp_path / "m.onnx", input_size=64, gsd=0.25)
    ref = open_image(str(_scene(tmp_path, [(10.0, 10.0, 0)], transform=utm_transform(30.0))))
    with pytest.raises(InputError, match="too coarse for model"):
        plan_units(ref, get_detector(_options(model).recipe).card, _options(model))
