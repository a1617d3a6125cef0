"""Cards written by ``skyscan evaluate --record-in-card`` name data by its place under the
data root, not by the machine's directory layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyscan.detectors.card import load_card, save_card
from skyscan.train.export import make_card
from skyscan.train.run import record_metrics


def test_recorded_metrics_use_paths_relative_to_the_data_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "shared" / "data"
    monkeypatch.setenv("SKYSCAN_SHARED_DATA", str(data))
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")  # the card is what changes
    save_card(make_card("m", ("car", "truck", "bus"), 64, 0.25, 0.3), model)
    report = {"map50": 0.5, "classes": {}, "n_images": 2}
    command = f"skyscan evaluate {data}/kit/images --labels {data}/kit/labels -o r.json"
    record_metrics(model, "kit", report, command)
    card = load_card(model)
    assert (
        card.extra["metrics"]["kit"]["command"]
        == "skyscan evaluate $DATA/kit/images --labels $DATA/kit/labels -o r.json"
    )
    assert card.extra["data_root"].startswith("$DATA")
    assert str(tmp_path) not in model.with_suffix(".json").read_text()


def test_card_edge_pad_follows_how_training_chips_labelled_cut_vehicles() -> None:
    """Chips kept inside the image (the default) give a card without edge pad; chips that
    reached past the border, as the shipped weights were trained, give the shipped pad."""
    from skyscan.train.export import make_card

    assert make_card("m", ("car",), 256, 0.25, 0.3).edge_pad == 0
    assert make_card("m", ("car",), 256, 0.25, 0.3, cut_vehicles="centre").edge_pad == 32
