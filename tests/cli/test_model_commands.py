"""The model tools as skyscan commands: evaluate (its intervals, --against, --angles), render,
set-threshold and quantize, run on a synthetic blob detector (real ONNX Runtime)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from skyscan.cli import cli
from skyscan.detectors.card import load_card
from skyscan.detectors.synthetic import build_blob_model, draw_blobs
from skyscan.evaluate.metrics import wilson_interval

BLOBS = [(30.0, 30.0, 0), (90.0, 60.0, 0), (60.0, 80.0, 1)]  # (col, row, class): two cars, a truck


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_blob_model(tmp_path_factory.mktemp("m") / "blobs.onnx", input_size=64)


@pytest.fixture()
def labelled(tmp_path: Path) -> Path:
    """One 128 x 112 PNG with three blobs and its YOLO labels (12 px boxes, the model's)."""
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    w, h = 128, 112
    img = np.zeros((h, w, 3), np.uint8)
    draw_blobs(img, BLOBS)
    Image.fromarray(img).save(tmp_path / "images" / "a.png")
    lines = [f"{k} {x / w:.6f} {y / h:.6f} {12 / w:.6f} {12 / h:.6f}" for x, y, k in BLOBS]
    (tmp_path / "labels" / "a.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "classes.txt").write_text("car\ntruck\nbus\n")
    return tmp_path


def _evaluate(labelled: Path, model: Path, *extra: str) -> list[str]:
    return [
        "evaluate",
        str(labelled / "images"),
        "--labels",
        str(labelled / "labels"),
        "--format",
        "yolo",
        "--classes",
        str(labelled / "classes.txt"),
        "--model",
        str(model),
        *extra,
    ]


def test_evaluate_angles_scores_each_turned_copy_and_the_pool(labelled: Path, model: Path) -> None:
    report = labelled / "turned.json"
    res = CliRunner().invoke(cli, _evaluate(labelled, model, "--angles", "0,90", "-o", str(report)))
    assert res.exit_code == 0, res.output
    data = json.loads(report.read_text())
    assert set(data["angles"]) == {"0", "90"} and data["images"] == 1
    for scores in [*data["angles"].values(), data["pooled"]]:
        assert scores["classes"]["car"]["n_labels"] in (2, 4)  # one copy, or both pooled
        assert scores["classes"]["car"]["ap50"] > 0.9  # blobs are found at any heading
    assert data["pooled"]["classes"]["car"]["n_labels"] == 4
    assert "    0°  car AP50" in res.output


def test_evaluate_reports_and_prints_the_intervals_of_precision_and_recall(
    labelled: Path, model: Path
) -> None:
    report = labelled / "plain.json"
    res = CliRunner().invoke(cli, _evaluate(labelled, model, "-o", str(report)))
    assert res.exit_code == 0, res.output
    car = json.loads(report.read_text())["classes"]["car"]
    found = round(car["recall"] * car["n_labels"])
    assert car["recall_ci95"] == [
        round(v, 4) for v in wilson_interval(found, car["n_labels"]) or ()
    ]
    lo, hi = car["precision_ci95"]
    assert lo <= car["precision"] <= hi and hi - lo > 0.2  # two labels: a wide interval
    assert f"R {car['recall']:.3f} [{car['recall_ci95'][0]:.2f}, " in res.output


@pytest.mark.parametrize(
    "extra", [["--plot", "x.png"], ["--record-in-card", "k"], ["--angles", "0,x"]]
)
def test_evaluate_angles_refuses_what_does_not_apply(
    labelled: Path, model: Path, extra: list[str]
) -> None:
    angles = [] if "--angles" in extra else ["--angles", "0"]
    res = CliRunner().invoke(
        cli, _evaluate(labelled, model, *angles, *extra, "-o", str(labelled / "r.json"))
    )
    assert res.exit_code == 2, res.output
    assert not (labelled / "r.json").exists()


@pytest.mark.parametrize("linked", [False, True])
def test_evaluate_against_compares_two_models_object_by_object(
    labelled: Path, model: Path, tmp_path: Path, linked: bool
) -> None:
    """The same network with its threshold above every score finds nothing: the two cars
    are found only by the model, the truck is a class of its own. Also with the image
    linked into the folder (as scripts/real_world_baseline.py scores a split)."""
    if linked:
        folder = tmp_path / "linked"
        (folder / "images").mkdir(parents=True)
        (folder / "images" / "a.png").symlink_to(labelled / "images" / "a.png")
        shutil.copytree(labelled / "labels", folder / "labels")
        shutil.copy(labelled / "classes.txt", folder / "classes.txt")
        labelled = folder
    blind = tmp_path / "blind.onnx"
    shutil.copy(model, blind)
    card = json.loads(model.with_suffix(".json").read_text())
    blind.with_suffix(".json").write_text(
        json.dumps({**card, "name": "blind", "score_threshold": 1.0})
    )
    report = labelled / "paired.json"
    res = CliRunner().invoke(
        cli, _evaluate(labelled, model, "--against", str(blind), "-o", str(report))
    )
    assert res.exit_code == 0, res.output
    paired = json.loads(report.read_text())["against"]
    assert paired["baseline"].startswith("blind") and paired["baseline_score_threshold"] == 1.0
    car = paired["classes"]["car"]
    assert (car["found_by_both"], car["found_only_by_model"], car["found_only_by_baseline"]) == (
        0,
        2,
        0,
    )
    assert car["found_by_neither"] == 0 and car["p_found"] == 0.5  # 2 of 2 one way: 2 x 1/4
    assert paired["baseline_scores"]["car"]["recall"] == 0.0
    assert set(paired["classes"]) == {"car", "truck"}  # the classes with labels
    assert "found by both 0, only this model 2, only blind" in res.output


def test_evaluate_against_refuses_turned_copies(labelled: Path, model: Path) -> None:
    res = CliRunner().invoke(
        cli, _evaluate(labelled, model, "--angles", "0,90", "--against", str(model), "-o", "x.json")
    )
    assert res.exit_code == 2 and "--against does not apply" in res.output


def test_render_draws_each_image(labelled: Path, model: Path) -> None:
    out = labelled / "pictures"
    res = CliRunner().invoke(
        cli, ["render", str(labelled / "images" / "a.png"), "-o", str(out), "--model", str(model)]
    )
    assert res.exit_code == 0, res.output
    picture = Image.open(out / "detect_a.png")
    assert picture.size == (256, 224)  # narrower than 400 px: drawn twice as large
    assert "3 detections {'car': 2, 'truck': 1}" in res.output
    red = np.asarray(picture.convert("RGB"))
    assert (
        (red[..., 0] == 255) & (red[..., 1] == 0) & (red[..., 2] == 0)
    ).sum() > 50  # car boxes in red


def test_set_threshold_writes_the_reports_f1_best_point(tmp_path: Path, model: Path) -> None:
    target = tmp_path / "m.onnx"
    shutil.copy(model, target)
    shutil.copy(model.with_suffix(".json"), target.with_suffix(".json"))
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"classes": {"car": {"best_f1": {"threshold": 0.4321}}}}))
    res = CliRunner().invoke(cli, ["set-threshold", str(target), str(report)])
    assert res.exit_code == 0, res.output
    assert load_card(target).score_threshold == 0.4321
    res = CliRunner().invoke(cli, ["set-threshold", str(target), str(report), "--class", "bus"])
    assert res.exit_code == 1 and "no best_f1 operating point for class 'bus'" in res.output


def test_quantize_refuses_to_replace_its_output(tmp_path: Path, model: Path) -> None:
    spec = tmp_path / "data.json"
    spec.write_text("{}")
    out = tmp_path / "int8.onnx"
    out.write_bytes(b"earlier")
    res = CliRunner().invoke(cli, ["quantize", str(model), "--data", str(spec), "-o", str(out)])
    assert res.exit_code == 1 and "exists (pass --overwrite" in res.output
    assert out.read_bytes() == b"earlier"
    res = CliRunner().invoke(
        cli, ["quantize", str(model), "--data", str(spec), "-o", str(out), "--overwrite"]
    )
    assert res.exit_code == 1 and "blobs.onnx: card has no 'gsd'" in res.output
