"""Bring your own model: PyTorch -> ONNX with ``skyscan convert``, checked against its card;
a chip classifier (the original pipeline's model type) runs through the real pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from skyscan.cli import cli

torch = pytest.importorskip("torch")


class ChipClassifier(torch.nn.Module):  # type: ignore[misc]
    """'vehicle' when the chip is bright on average, else 'background'."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = x.mean(dim=(1, 2, 3))
        logits = torch.stack([0.5 - m, m - 0.5], dim=1) * 40
        return torch.softmax(logits, dim=1)


class TinyCenterNetLike(torch.nn.Module):  # type: ignore[misc]
    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, classes + 4, 4, stride=4)
        self.classes = classes

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        y = self.conv(x)
        return torch.sigmoid(y[:, : self.classes]), torch.exp(y[:, self.classes : self.classes + 2]), torch.sigmoid(y[:, -2:])


def _card(path: Path, fmt: str, classes: list[str], size: int = 32) -> Path:
    path.write_text(json.dumps({
        "name": path.stem, "classes": [{"name": c} for c in classes], "task": "chip_classification" if fmt == "chip_classifier" else "detection",
        "input": {"name": "images", "size": [size, size], "mean": [0, 0, 0], "std": [255, 255, 255]},
        "gsd": 0.5, "output": {"format": fmt, "stride": 4}, "score_threshold": 0.5,
    }))
    return path


def test_convert_torchscript_chip_classifier_and_detect(tmp_path: Path) -> None:
    scripted = torch.jit.script(ChipClassifier())
    src = tmp_path / "clf.pt"
    torch.jit.save(scripted, str(src))
    card = _card(tmp_path / "card.json", "chip_classifier", ["background", "vehicle"])
    out = tmp_path / "models" / "clf.onnx"
    res = CliRunner().invoke(cli, ["convert", str(src), "--card", str(card), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.with_suffix(".json").is_file()

    # a 64x32 image: left half bright, right half dark -> one 'vehicle' chip on the left
    img = np.zeros((32, 64, 3), np.uint8)
    img[:, :32] = 230
    Image.fromarray(img).save(tmp_path / "scene.png")
    import skyscan

    gdf = skyscan.detect(tmp_path / "scene.png", model=str(out), gsd=0.5, overlap=0.0)
    assert list(gdf["class_name"]) == ["vehicle"]
    row = gdf.iloc[0]
    assert (row.px_xmin, row.px_ymin, row.px_xmax, row.px_ymax) == (0, 0, 32, 32)


def test_convert_centernet_and_reject_mismatched_card(tmp_path: Path) -> None:
    src = tmp_path / "det.pt"
    torch.jit.save(torch.jit.trace(TinyCenterNetLike(3).eval(), torch.zeros(1, 3, 32, 32)), str(src))
    good = _card(tmp_path / "good.json", "centernet", ["car", "truck", "bus"])
    res = CliRunner().invoke(cli, ["convert", str(src), "--card", str(good), "-o", str(tmp_path / "det.onnx")])
    assert res.exit_code == 0, res.output

    bad = _card(tmp_path / "bad.json", "centernet", ["car", "bus"])  # model has 3 heatmap channels
    res = CliRunner().invoke(cli, ["convert", str(src), "--card", str(bad), "-o", str(tmp_path / "bad.onnx")])
    assert res.exit_code == 1
    assert "do not match 2 card classes" in res.output

    wrong_fmt = _card(tmp_path / "fmt.json", "chip_classifier", ["car", "truck", "bus"])
    res = CliRunner().invoke(cli, ["convert", str(src), "--card", str(wrong_fmt), "-o", str(tmp_path / "f.onnx")])
    assert res.exit_code == 1 and "needs 1 (['probs'])" in res.output


def test_convert_refuses_pickle_without_flag(tmp_path: Path) -> None:
    src = tmp_path / "pickled.pt"
    torch.save(ChipClassifier(), str(src))
    card = _card(tmp_path / "card.json", "chip_classifier", ["background", "vehicle"])
    res = CliRunner().invoke(cli, ["convert", str(src), "--card", str(card), "-o", str(tmp_path / "p.onnx")])
    assert res.exit_code == 1 and "--allow-pickle" in res.output
    res = CliRunner().invoke(cli, ["convert", str(src), "--card", str(card), "-o", str(tmp_path / "p.onnx"), "--allow-pickle"])
    assert res.exit_code == 0, res.output


def test_onnx_model_checked_against_card(tmp_path: Path) -> None:
    src = tmp_path / "det.pt"
    torch.jit.save(torch.jit.trace(TinyCenterNetLike(3).eval(), torch.zeros(1, 3, 32, 32)), str(src))
    good = _card(tmp_path / "good.json", "centernet", ["car", "truck", "bus"])
    model = tmp_path / "det.onnx"
    assert CliRunner().invoke(cli, ["convert", str(src), "--card", str(good), "-o", str(model)]).exit_code == 0
    stride8 = json.loads(good.read_text())
    stride8["output"]["stride"] = 8
    (tmp_path / "s8.json").write_text(json.dumps(stride8))
    res = CliRunner().invoke(cli, ["convert", str(model), "--framework", "onnx", "--card", str(tmp_path / "s8.json"),
                                   "-o", str(tmp_path / "copy.onnx")])
    assert res.exit_code == 1 and "card says stride 8" in res.output
