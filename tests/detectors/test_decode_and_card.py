"""Model cards, decoders and the ONNX backend against hand-computed cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from skyscan.detectors.card import ClassSpec, ModelCard, load_card
from skyscan.detectors.decode import decode_boxes, decode_centernet, decode_chip_classifier
from skyscan.detectors.onnx_backend import OnnxDetector
from skyscan.detectors.synthetic import build_blob_model, draw_blobs
from skyscan.errors import ModelError

CARD = ModelCard(
    name="t",
    classes=(ClassSpec("car", 18), ClassSpec("bus", 19)),
    input_size=(16, 16),
    output_format="centernet",
    stride=4,
)


def test_centernet_peak_becomes_box_at_cell_plus_offset() -> None:
    heat = np.zeros((1, 2, 4, 4), np.float32)
    heat[0, 1, 2, 1] = 0.9  # class 1 (bus), row 2, col 1
    heat[0, 1, 2, 2] = 0.5  # a neighbour lower than the peak is not a peak
    wh = np.zeros((1, 2, 4, 4), np.float32)
    wh[0, :, 2, 1] = (8.0, 4.0)
    off = np.zeros((1, 2, 4, 4), np.float32)
    off[0, :, 2, 1] = (0.5, 0.25)
    (det,) = decode_centernet({"heatmap": heat, "wh": wh, "offset": off}, CARD, 0.3)
    # centre = ((1 + 0.5) * 4, (2 + 0.25) * 4) = (6, 9); box = centre ± (4, 2)
    np.testing.assert_allclose(det.boxes, [[2.0, 7.0, 10.0, 11.0]])
    assert det.labels.tolist() == [1] and det.scores.tolist() == pytest.approx([0.9])


def test_centernet_box_scale_shrinks_each_box_by_its_own_longer_and_shorter_side() -> None:
    heat = np.zeros((1, 2, 4, 4), np.float32)
    heat[0, 0, 1, 1] = heat[0, 0, 3, 3] = 0.9
    wh = np.zeros((1, 2, 4, 4), np.float32)
    wh[0, :, 1, 1] = (8.0, 4.0)  # wide: width is its longer side
    wh[0, :, 3, 3] = (4.0, 8.0)  # tall: height is its longer side
    outputs = {"heatmap": heat, "wh": wh, "offset": np.zeros_like(wh)}
    scaled = ModelCard.from_dict(
        {**CARD.to_dict(), "output": {"format": "centernet", "stride": 4, "box_scale": [1.0, 0.5]}}
    )
    (det,) = decode_centernet(outputs, scaled, 0.3)
    sides = np.stack([det.boxes[:, 2] - det.boxes[:, 0], det.boxes[:, 3] - det.boxes[:, 1]], 1)
    np.testing.assert_allclose(sides, [[8.0, 2.0], [2.0, 8.0]])
    (plain,) = decode_centernet(outputs, CARD, 0.3)
    # centres do not move
    np.testing.assert_allclose(
        det.boxes[:, 0] + det.boxes[:, 2], plain.boxes[:, 0] + plain.boxes[:, 2]
    )
    assert "box_scale" not in CARD.to_dict()["output"]
    assert ModelCard.from_dict(scaled.to_dict()).box_scale == (1.0, 0.5)


def test_card_box_scale_is_checked() -> None:
    base = CARD.to_dict()
    with pytest.raises(ModelError, match=r"'output\.box_scale' factors must be in \[0\.5, 2\.0\]"):
        ModelCard.from_dict({**base, "output": {"format": "centernet", "box_scale": [1.0, 0.1]}})
    with pytest.raises(ModelError, match="must be a list of two numbers"):
        ModelCard.from_dict({**base, "output": {"format": "centernet", "box_scale": 0.9}})


def _reference_peaks(heat: np.ndarray, threshold: float) -> list[list[tuple[int, int, int]]]:
    """Per chip, (class, row, col) of cells equal to their 3x3 max-pool and >= threshold."""
    n, c, h, w = heat.shape
    out: list[list[tuple[int, int, int]]] = []
    for b in range(n):
        found = []
        for k in range(c):
            for i in range(h):
                for j in range(w):
                    window = heat[b, k, max(0, i - 1) : i + 2, max(0, j - 1) : j + 2]
                    if heat[b, k, i, j] >= threshold and heat[b, k, i, j] == window.max():
                        found.append((k, i, j))
        out.append(found)
    return out


def test_centernet_peaks_match_a_max_pool_reference_including_plateaus() -> None:
    rng = np.random.default_rng(3)
    # coarse values make ties (plateaus) common; an empty chip checks the batch split
    heat = (rng.integers(0, 6, size=(4, 2, 9, 7)) / 5).astype(np.float32)
    heat[2] = 0.0
    zeros = np.zeros_like(heat)
    dets = decode_centernet({"heatmap": heat, "wh": zeros, "offset": zeros}, CARD, 0.4)
    expected = _reference_peaks(heat, 0.4)
    assert len(dets) == 4 and len(dets[2]) == 0
    for det, peaks in zip(dets, expected, strict=True):
        stride = 16 / 9
        got = sorted(
            (int(label), round(float(cy) / stride), round(float(cx) / stride))
            for label, cx, cy in zip(
                det.labels,
                (det.boxes[:, 0] + det.boxes[:, 2]) / 2,
                (det.boxes[:, 1] + det.boxes[:, 3]) / 2,
                strict=True,
            )
        )
        assert got == sorted(peaks)


def test_centernet_missing_output_names_the_model() -> None:
    with pytest.raises(ModelError, match="no output 'wh'"):
        decode_centernet({"heatmap": np.zeros((1, 2, 4, 4), np.float32)}, CARD, 0.3)


def test_boxes_format_drops_padding_and_checks_labels() -> None:
    card = ModelCard(name="b", classes=(ClassSpec("car"),), input_size=(8, 8))
    boxes = np.array([[[0, 0, 2, 2], [1, 1, 3, 3]]], np.float32)
    scores = np.array([[0.8, 0.0]], np.float32)
    (det,) = decode_boxes({"boxes": boxes, "scores": scores, "labels": np.zeros((1, 2))}, card, 0.3)
    assert len(det) == 1
    with pytest.raises(ModelError, match="outside the card"):
        decode_boxes({"boxes": boxes, "scores": scores, "labels": np.full((1, 2), 5)}, card, 0.3)


def test_chip_classifier_reports_whole_chip_and_skips_background() -> None:
    card = ModelCard(
        name="c",
        classes=(ClassSpec("background"), ClassSpec("car", 18)),
        input_size=(32, 32),
        output_format="chip_classifier",
        task="chip_classification",
    )
    probs = np.array([[0.9, 0.1], [0.2, 0.8]], np.float32)
    a, b = decode_chip_classifier({"probs": probs}, card, 0.5)
    assert len(a) == 0
    np.testing.assert_allclose(b.boxes, [[0, 0, 32, 32]])


def test_card_validation_messages(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"'output\.format' must be one of"):
        ModelCard(name="x", classes=(ClassSpec("car"),), input_size=(8, 8), output_format="yolo")
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    with pytest.raises(ModelError, match="no model card found"):
        load_card(model)
    model.with_suffix(".json").write_text(json.dumps({"name": "m"}))
    with pytest.raises(ModelError, match="invalid model card"):
        load_card(model)


def test_card_that_does_not_match_the_model_is_refused(tmp_path: Path) -> None:
    path = build_blob_model(tmp_path / "m.onnx", input_size=32)
    card = load_card(path)
    wrong = ModelCard.from_dict(
        {**card.to_dict(), "input": {**card.to_dict()["input"], "name": "pixels"}}
    )
    with pytest.raises(ModelError, match="not an input of the model"):
        OnnxDetector(path, wrong)
    four = ModelCard.from_dict({**card.to_dict(), "classes": ["a", "b", "c", "d"]})
    det = OnnxDetector(path, four)
    with pytest.raises(ModelError, match="heatmap has 3 classes but the card lists 4"):
        det.detect_batch(np.zeros((1, 32, 32, 3), np.uint8))


def test_onnx_backend_finds_blobs_in_a_batch(tmp_path: Path) -> None:
    det = OnnxDetector(build_blob_model(tmp_path / "m.onnx", input_size=32))
    chips = np.zeros((2, 32, 32, 3), np.uint8)
    draw_blobs(chips[0], [(10.0, 14.0, 0)])
    draw_blobs(chips[1], [(22.0, 6.0, 2), (6.0, 26.0, 1)])
    a, b = det.detect_batch(chips)
    assert len(a) == 1 and a.labels.tolist() == [0]
    cx, cy = (a.boxes[0, 0] + a.boxes[0, 2]) / 2, (a.boxes[0, 1] + a.boxes[0, 3]) / 2
    assert abs(cx - 10) <= 2 and abs(cy - 14) <= 2
    assert sorted(b.labels.tolist()) == [1, 2]


def test_onnx_calls_of_any_size_give_the_batch_detections(tmp_path: Path) -> None:
    # The pipeline prepares and finishes a batch whole but runs the model in calls of
    # ``chips_per_run`` chips: how the batch is cut must not change what is found.
    path = build_blob_model(tmp_path / "m.onnx", input_size=32)
    rng = np.random.default_rng(3)
    chips = np.zeros((5, 32, 32, 3), np.uint8)
    for chip in chips:
        draw_blobs(
            chip,
            [
                (float(rng.uniform(4, 28)), float(rng.uniform(4, 28)), int(rng.integers(0, 3)))
                for _ in range(int(rng.integers(0, 3)))
            ],
        )
    found = {k: OnnxDetector(path, chips_per_run=k).detect_batch(chips) for k in (1, 2, 5)}
    pairs = OnnxDetector(path, chips_per_run=2)
    assert len(pairs.infer(pairs.prepare(chips))) == 3  # calls of 2, 2 and 1 chips
    for k in (2, 5):
        for a, b in zip(found[1], found[k], strict=True):
            np.testing.assert_array_equal(a.labels, b.labels)
            np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-5)
            np.testing.assert_allclose(a.scores, b.scores, atol=1e-6)
    assert sum(len(d) for d in found[1]) > 0
    with pytest.raises(ModelError, match="chips_per_run must be >= 1"):
        OnnxDetector(path, chips_per_run=0)


def test_calls_are_joined_only_when_their_outputs_line_up() -> None:
    from skyscan.detectors.onnx_backend import _join_calls

    heat = [{"heatmap": np.full((n, 3, 4, 4), n, np.float32)} for n in (2, 1)]
    joined = _join_calls(heat)
    assert joined is not None and joined["heatmap"].shape == (3, 3, 4, 4)
    assert joined["heatmap"][:, 0, 0, 0].tolist() == [2, 2, 1]
    # an end-to-end model that pads its boxes per call: decoded call by call instead
    boxes = [{"boxes": np.zeros((1, k, 4), np.float32)} for k in (5, 7)]
    assert _join_calls(boxes) is None
    assert _join_calls(boxes[:1]) is boxes[0]
    assert _join_calls([]) is None


@pytest.mark.parametrize("name", ["vehicles", "vehicles-int8"])
def test_shipped_cards_record_paths_relative_to_the_data_root(name: str) -> None:
    """A card names no machine's directory layout: data paths are relative to the data
    root, which the card names once."""
    import json
    import re
    from importlib.resources import files

    text = files("skyscan.detectors").joinpath("models", f"{name}.json").read_text()
    card = json.loads(text)
    assert not re.search(r'"/(work|home|tmp|Users|mnt|data)/', text)
    assert not re.search(r"\s/(work|home|tmp|Users|mnt)/", text)
    assert card["data_root"].startswith("$DATA")
    assert card["training"]["sources"][0]["images"] == "kit-ais-munich/images"


def test_portable_paths_in_a_recorded_card(tmp_path: Path) -> None:
    from skyscan.train.run import portable_paths

    report = {
        "sources": [{"images": str(tmp_path / "kit" / "images")}],
        "command": f"skyscan evaluate {tmp_path}/kit/images --labels {tmp_path}/kit/labels",
    }
    assert portable_paths(report, tmp_path) == {
        "sources": [{"images": "kit/images"}],
        "command": "skyscan evaluate $DATA/kit/images --labels $DATA/kit/labels",
    }
    # labels made in the working directory (the repository's data/labels) stay readable there
    repo = tmp_path / "repo"
    made_here = {"labels": str(repo / "data" / "labels"), "command": f"train --ignore {repo}/x.csv"}
    assert portable_paths(made_here, tmp_path / "shared", repo) == {
        "labels": "./data/labels",
        "command": "train --ignore ./x.csv",
    }
