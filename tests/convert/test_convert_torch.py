"""PyTorch models: TorchScript and pickled modules converted to ONNX with a checked card,
and a converted chip classifier run end to end through ``skyscan detect``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from rasters import utm_transform, write_geotiff
from skyscan.convert import build_card, convert
from skyscan.errors import ModelError

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
from torch_nets import BrightChip, Heads, TwoOutputs  # noqa: E402


def script(module: torch.nn.Module) -> torch.jit.ScriptModule:
    """TorchScript, still how most ``.pt`` model files are shipped (the API is deprecated)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.script(module)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    # A pickled module needs its class importable: this file's folder goes on the path.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
        ),
    }
    return subprocess.run(
        [sys.executable, "-m", "skyscan", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_torchscript_chip_classifier_end_to_end(tmp_path: Path) -> None:
    """convert (CLI) → detect (CLI): one detection per bright chip, covering that chip."""
    script(BrightChip()).save(str(tmp_path / "chips.pt"))
    p = run_cli(
        "convert",
        str(tmp_path / "chips.pt"),
        "-o",
        str(tmp_path / "chips.onnx"),
        "--classes",
        "background,car",
        "--input-size",
        "32",
        "--gsd",
        "0.5",
        "--format",
        "chip_classifier",
        "--softmax",
    )
    assert p.returncode == 0, p.stderr
    assert json.loads((tmp_path / "chips.json").read_text())["source"]["framework"] == "torch"
    # 96 x 64 px at 0.5 m = the model's GSD: a 3 x 2 grid of 32 px chips; three are bright,
    # side by side, so a merge across chip seams would drop some of them.
    data = np.full((3, 64, 96), 30, np.uint8)
    bright = [(0, 0), (32, 0), (0, 32)]  # (col_off, row_off), in row-major order
    for col, row in bright:
        data[:, row : row + 32, col : col + 32] = 220
    write_geotiff(tmp_path / "scene.tif", 96, 64, data=data, transform=utm_transform(0.5))
    p = run_cli(
        "-q",
        "detect",
        str(tmp_path / "scene.tif"),
        "-o",
        str(tmp_path / "out"),
        "--model",
        str(tmp_path / "chips.onnx"),
    )  # default overlap: chip classifiers tile
    assert p.returncode == 0, p.stderr
    import geopandas as gpd
    import shapely
    from pyproj import Transformer

    det = gpd.read_parquet(tmp_path / "out" / "detections.parquet").sort_values(
        ["px_ymin", "px_xmin"]
    )
    assert det["class_name"].tolist() == ["car"] * 3 and det["xview_type_id"].tolist() == [18] * 3
    assert (det["score"] > 0.99).all() and set(det["model_id"]) == {"chips@1.0"}
    boxes = det[["px_xmin", "px_ymin", "px_xmax", "px_ymax"]].to_numpy().tolist()
    assert boxes == [[c, r, c + 32, r + 32] for c, r in bright]
    # The footprint is the chip's ground square, in EPSG:4326.
    to_wgs84 = Transformer.from_crs("EPSG:32631", "EPSG:4326", always_xy=True)
    t = utm_transform(0.5)
    for (col, row), geom in zip(bright, det.geometry, strict=True):
        x0, y0 = t @ (col, row)
        x1, y1 = t @ (col + 32, row + 32)
        lon, lat = to_wgs84.transform([x0, x1, x1, x0], [y0, y0, y1, y1])
        expected = shapely.Polygon(zip(lon, lat, strict=True))
        assert geom.symmetric_difference(expected).area < 1e-3 * expected.area


def test_pickled_module_needs_trust(tmp_path: Path) -> None:
    torch.save(BrightChip(), tmp_path / "pickled.pt")
    c = build_card(
        name="p", classes="background,car", input_size=32, output_format="chip_classifier"
    )
    with pytest.raises(ModelError, match=r"pickled\.pt: not a TorchScript file.*--trust-pickle"):
        convert(tmp_path / "pickled.pt", c)
    res = convert(tmp_path / "pickled.pt", c, trust_pickle=True, softmax=True)
    x = np.full((2, 3, 32, 32), 0.9, np.float32)
    x[1] = 0.1
    probs = ort.InferenceSession(str(res.model_path)).run(None, {"images": x})[0]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    assert probs[0, 1] > 0.99 and probs[1, 0] > 0.99


def test_state_dict_is_refused_with_how_to_save(tmp_path: Path) -> None:
    torch.save(Heads().state_dict(), tmp_path / "weights.pth")
    c = build_card(name="w", classes="car,truck,bus", input_size=32, output_format="centernet")
    with pytest.raises(ModelError, match=r"weights\.pth: holds only weights .*torch\.jit\.script"):
        convert(tmp_path / "weights.pth", c)


def test_dict_heads_export_in_card_order_and_match_torch(tmp_path: Path) -> None:
    net = Heads(stride=8).eval()
    torch.save(net, tmp_path / "heads.pt")
    c = build_card(name="h", classes="car,truck,bus", input_size=64, output_format="centernet")
    res = convert(tmp_path / "heads.pt", c, trust_pickle=True, measure_stride=True)
    assert res.card.stride == 8 and res.report.output_shapes["heatmap"] == (2, 3, 8, 8)
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = net(x)
    sess = ort.InferenceSession(str(res.model_path))
    got = dict(
        zip(
            ["heatmap", "wh", "offset"],
            sess.run(["heatmap", "wh", "offset"], {"images": x.numpy()}),
            strict=True,
        )
    )
    for name in ("heatmap", "wh", "offset"):
        np.testing.assert_allclose(got[name], want[name].numpy(), rtol=1e-4, atol=1e-5)


def test_wrong_number_of_outputs_is_a_model_error(tmp_path: Path) -> None:
    script(TwoOutputs()).save(str(tmp_path / "two.pt"))
    c = build_card(name="t", classes="car", input_size=16, output_format="boxes")
    with pytest.raises(
        ModelError,
        match=r"two\.pt: the model returns 2 output\(s\); format 'boxes' needs outputs \['boxes', 'scores', 'labels'\]",
    ):
        convert(tmp_path / "two.pt", c)
    assert not (tmp_path / "two.onnx").exists() and not (tmp_path / "two.json").exists()


def test_cli_card_file_framework_and_allow_pickle_spellings(tmp_path: Path) -> None:
    """The first version of ``skyscan convert`` took ``--card FILE --framework pytorch --allow-pickle``."""
    torch.save(Heads(stride=4).eval(), tmp_path / "heads.pt")
    card = build_card(
        name="heads", classes="car,truck,bus", input_size=32, output_format="centernet", gsd=0.3
    )
    (tmp_path / "card.json").write_text(json.dumps(card.to_dict()))
    args = [
        "convert",
        str(tmp_path / "heads.pt"),
        "--card",
        str(tmp_path / "card.json"),
        "--framework",
        "pytorch",
        "-o",
        str(tmp_path / "m" / "heads.onnx"),
    ]
    p = run_cli(*args, "--allow-pickle")
    assert p.returncode == 0, p.stderr
    written = json.loads((tmp_path / "m" / "heads.json").read_text())
    assert written["gsd"] == 0.3 and written["output"] == {"format": "centernet", "stride": 4}
    p = run_cli(*args, "--allow-pickle", "--classes", "car")
    assert p.returncode == 2 and "drop --classes" in p.stderr
