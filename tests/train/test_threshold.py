"""Operating threshold taken from an evaluation report's F1-best point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skyscan.detectors.card import load_card, save_card
from skyscan.errors import InputError
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
