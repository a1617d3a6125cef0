"""Card calibrations from evaluation reports: the operating threshold (F1-best point) and
the box-size correction (matched boxes' side ratios)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from skyscan.detectors.card import load_card, save_card
from skyscan.errors import InputError
from skyscan.train.box_scale import box_scale_from_reports, set_box_scale
from skyscan.train.export import make_card
from skyscan.train.threshold import set_threshold, threshold_from_report


def test_threshold_from_report_into_card(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")  # the card is what changes; the model file is not read
    save_card(
        make_card("m", ("car", "truck", "bus"), 64, 0.25, 0.3, extra={"training": {"x": 1}}), model
    )
    report = tmp_path / "r.json"
    report.write_text(
        json.dumps(
            {"classes": {"car": {"best_f1": {"threshold": 0.4312}}, "bus": {"best_f1": None}}}
        )
    )
    t = threshold_from_report(report)
    card = set_threshold(model, t, "test")
    assert card.score_threshold == 0.4312
    reloaded = load_card(model)
    assert reloaded.score_threshold == 0.4312 and reloaded.extra["training"] == {"x": 1}
    assert reloaded.extra["threshold_source"] == "test"
    with pytest.raises(InputError, match="no best_f1 operating point for class 'bus'"):
        threshold_from_report(report, "bus")
    with pytest.raises(InputError, match=r"must be in \(0, 1\)"):
        set_threshold(model, 1.5, "x")
    # the F1-best point is a detection's score: rounding must keep that detection in
    assert set_threshold(model, 0.419282, "x").score_threshold == 0.4192
    assert set_threshold(model, 0.29, "x").score_threshold == 0.29  # already 4 decimals


def test_a_report_scored_from_a_high_threshold_says_how_to_search_lower(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    report = tmp_path / "r.json"
    best = {"car": {"best_f1": {"threshold": 0.41}}}
    report.write_text(json.dumps({"score_threshold": 0.3665, "classes": best}))
    with caplog.at_level("WARNING"):
        assert threshold_from_report(report) == 0.41
    assert "--score-threshold 0.01" in caplog.text and "0.3665" in caplog.text
    caplog.clear()
    report.write_text(json.dumps({"score_threshold": 0.01, "classes": best}))
    with caplog.at_level("WARNING"):
        threshold_from_report(report)
    assert caplog.text == ""


def _fit_report(path: Path, n: int, log_shorter: float, used: list[float]) -> Path:
    fit = {"n": n, "log_longer": 0.0, "log_shorter": log_shorter}
    path.write_text(json.dumps({"box_scale": used, "classes": {"car": {"box_fit": fit}}}))
    return path


def test_box_scale_pools_reports_by_matches_and_never_compounds(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    card = make_card("m", ("car", "truck", "bus"), 64, 0.25, 0.3, extra={"training": {"x": 1}})
    save_card(card, model)
    a = _fit_report(tmp_path / "a.json", 300, math.log(0.8), [1.0, 1.0])
    b = _fit_report(tmp_path / "b.json", 100, math.log(0.9), [1.0, 1.0])
    scale, n = box_scale_from_reports([a, b])
    assert n == 400
    assert scale[0] == pytest.approx(1.0)
    assert scale[1] == pytest.approx(math.exp((300 * math.log(0.8) + 100 * math.log(0.9)) / 400))
    new = set_box_scale(model, scale, "test")
    assert load_card(model).box_scale == pytest.approx(scale, abs=1e-4)  # stored to 4 places
    assert new.extra["box_scale_source"] == "test"
    # a report of the corrected model that still finds the boxes 5 % too long across
    again = _fit_report(tmp_path / "c.json", 50, math.log(0.95), list(new.box_scale))
    assert box_scale_from_reports([again])[0][1] == pytest.approx(new.box_scale[1] * 0.95)
    # a report whose boxes fit exactly keeps the factors it was made with
    exact = _fit_report(tmp_path / "d.json", 50, 0.0, list(new.box_scale))
    assert box_scale_from_reports([exact])[0] == pytest.approx(new.box_scale)
    with pytest.raises(InputError, match="no box_fit for class 'bus'"):
        box_scale_from_reports([a], "bus")


def test_box_scale_fitted_on_images_through_the_torch_network(tmp_path: Path) -> None:
    """A network whose every box is 10 % too long across: the fit over the images' labels
    undoes it, and an image with no match leaves the fit alone."""
    torch = pytest.importorskip("torch")
    from skyscan.train.box_scale import fit_on_images
    from skyscan.train.data import TrainImage

    class Fixed(torch.nn.Module):  # one car at (18, 10), labelled 16 x 8 px, drawn 16 x 8.8
        num_classes = 1

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            n, _, h, w = x.shape
            heat = torch.full((n, 1, h // 4, w // 4), -10.0)
            heat[:, 0, 2, 4] = 10.0  # cell (row 2, col 4) + offset 0.5: centre (18, 10)
            wh = torch.zeros((n, 2, h // 4, w // 4))
            wh[:, 0], wh[:, 1] = math.log(16.0 / 4), math.log(8.8 / 4)
            off = torch.zeros((n, 2, h // 4, w // 4))  # sigmoid(0) = 0.5 cell
            return heat, wh, off

    pixels = np.zeros((32, 32, 3), np.uint8)
    box = np.array([[10.0, 6.0, 26.0, 14.0]], np.float32)
    labelled = TrainImage(pixels, box, np.array([0]), 0.25, "a.png")
    empty = TrainImage(pixels, np.zeros((0, 4), np.float32), np.zeros(0, np.int64), 0.25, "b.png")
    scale, n = fit_on_images(Fixed(), [labelled, empty], 1, 0.3)  # type: ignore[arg-type]
    assert n == 1
    assert scale == pytest.approx((1.0, 8.0 / 8.8), rel=1e-4)
    assert fit_on_images(Fixed(), [empty], 1, 0.3) == ((1.0, 1.0), 0)  # type: ignore[arg-type]
