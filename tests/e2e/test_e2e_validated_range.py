"""Imagery outside the model's validated range: processed with a warning and a column,
refused under --strict-range, summarised in run.json and told by `skyscan inspect`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from e2e_support import skyscan

from rasters import utm_transform, write_geotiff
from skyscan.detectors.card import load_card, save_card
from skyscan.detectors.synthetic import build_blob_model, draw_blobs
from skyscan.detectors.validated import ValidatedRange


@pytest.fixture(scope="module")
def ranged_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The blob detector at 0.5 m, validated on RGB imagery of 0.4-0.6 m."""
    path = build_blob_model(
        tmp_path_factory.mktemp("model") / "ranged.onnx", input_size=64, gsd=0.5
    )
    card = load_card(path)
    object.__setattr__(card, "validated", ValidatedRange(0.4, 0.6, ("rgb",), "test scenes"))
    save_card(card, path)
    return path


def _scene(path: Path, gsd: float, count: int = 3) -> Path:
    img = np.zeros((3, 120, 120), np.uint8)
    draw_blobs(img, [(40.0, 40.0, 0), (80.0, 80.0, 0)])
    data = img if count == 3 else img[:1]
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_geotiff(path, 120, 120, count=count, data=data, transform=utm_transform(gsd))


def test_out_of_range_images_are_flagged_warned_and_summarised(
    tmp_path: Path, ranged_model: Path
) -> None:
    inside = _scene(tmp_path / "in" / "inside.tif", 0.5)
    coarse = _scene(tmp_path / "in" / "coarse.tif", 1.0)
    pan = _scene(tmp_path / "in" / "pan.tif", 0.5, count=1)
    res = skyscan("detect", tmp_path / "in", "-o", tmp_path / "out", "--model", ranged_model)
    assert res.returncode == 0, res.stderr
    assert f"{coarse}: GSD 1 m (validated: 0.4-0.6 m), outside the validated range" in res.stderr
    assert f"{pan}: pan imagery (validated: rgb), outside the validated range" in res.stderr
    assert "in 2 images outside the model's validated range" in res.stderr
    table = pq.read_table(tmp_path / "out" / "detections.parquet")
    flags = dict(
        zip(
            table.column("image_path").to_pylist(),
            table.column("in_validated_range").to_pylist(),
            strict=False,
        )
    )
    assert flags == {str(inside): True, str(coarse): False, str(pan): False}
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["images_outside_validated_range"] == sorted([str(coarse), str(pan)])
    assert run["model"]["validated"]["gsd_m"] == [0.4, 0.6]
    outside = sum(1 for v in table.column("in_validated_range").to_pylist() if v is False)
    assert outside > 0 and run["counts"]["detections_in_validated_range"]["false"] == outside


def test_strict_range_refuses_them_with_an_error_row_each(
    tmp_path: Path, ranged_model: Path
) -> None:
    inside = _scene(tmp_path / "in" / "inside.tif", 0.5)
    coarse = _scene(tmp_path / "in" / "coarse.tif", 1.0)
    res = skyscan(
        "detect", tmp_path / "in", "-o", tmp_path / "out", "--model", ranged_model, "--strict-range"
    )
    assert res.returncode == 3, res.stderr
    errors = pq.read_table(tmp_path / "out" / "errors.parquet").to_pylist()
    assert [(e["path"], e["stage"]) for e in errors] == [(str(coarse), "detect")]
    assert (
        "refused under --strict-range" in errors[0]["message"] and "GSD 1 m" in errors[0]["message"]
    )
    table = pq.read_table(tmp_path / "out" / "detections.parquet")
    assert set(table.column("image_path").to_pylist()) == {str(inside)}


def test_inspect_says_whether_each_image_lies_in_the_range(
    tmp_path: Path, ranged_model: Path
) -> None:
    inside = _scene(tmp_path / "inside.tif", 0.5)
    coarse = _scene(tmp_path / "coarse.tif", 1.0)
    res = skyscan("inspect", inside, coarse, "--model", ranged_model, "--json")
    assert res.returncode == 0, res.stderr
    records = {r["path"]: r["model_range"] for r in json.loads(res.stdout)}
    assert records[str(inside)]["in_validated_range"] is True
    assert (
        records[str(coarse)]["in_validated_range"] is False
        and "GSD 1 m" in records[str(coarse)]["reason"]
    )


def test_a_long_run_lists_a_few_out_of_range_images_and_counts_the_rest(
    tmp_path: Path, ranged_model: Path
) -> None:
    for k in range(6):
        _scene(tmp_path / "in" / f"coarse{k}.tif", 1.0)
    res = skyscan("detect", tmp_path / "in", "-o", tmp_path / "out", "--model", ranged_model)
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("outside the validated range of model") == 3
    assert (
        "more images outside the model's validated range (not listed; -v lists them" in res.stderr
    )
    verbose = skyscan(
        "-v", "detect", tmp_path / "in", "-o", tmp_path / "out2", "--model", ranged_model
    )
    assert verbose.stderr.count("outside the validated range of model") == 6
