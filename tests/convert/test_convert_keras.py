"""Keras 3 models (channels-last) converted through Keras's torch backend."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from skyscan.convert import build_card, convert

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("keras") is None,
        reason="keras is not installed (pip install 'skyscan[keras]')",
    ),
    # Keras's torch backend calls np.array(tensor) the NumPy 1 way inside predict().
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def keras() -> Any:
    from skyscan.convert.keras_export import import_keras_torch
    from skyscan.errors import MissingDependencyError

    try:
        return import_keras_torch()
    except MissingDependencyError as exc:  # keras imported earlier on another backend
        pytest.skip(str(exc))


def test_keras_chip_classifier_matches_keras(tmp_path: Path, keras: Any) -> None:
    inp = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inp, out)
    model.save(tmp_path / "chips.keras")
    card = build_card(
        name="chips", classes="background,car,bus", input_size=32, output_format="chip_classifier"
    )
    res = convert(tmp_path / "chips.keras", card)
    assert res.framework == "keras" and res.card.extra["source"]["file"] == "chips.keras"
    x_nhwc = np.random.default_rng(0).random((4, 32, 32, 3), dtype=np.float32)
    want = np.asarray(model.predict(x_nhwc, verbose=0))
    got = ort.InferenceSession(str(res.model_path)).run(
        ["probs"], {"images": x_nhwc.transpose(0, 3, 1, 2).copy()}
    )[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_keras_channels_last_heads_come_out_nchw(tmp_path: Path, keras: Any) -> None:
    inp = keras.Input((32, 32, 3))
    f = keras.layers.Conv2D(8, 4, strides=4, activation="relu")(inp)
    heads = [
        keras.layers.Conv2D(2, 1, activation="sigmoid")(f),  # heatmap, 2 classes
        keras.layers.Conv2D(2, 1)(f),  # wh
        keras.layers.Conv2D(2, 1)(f),  # offset
    ]
    model = keras.Model(inp, heads)
    model.save(tmp_path / "heads.keras")
    card = build_card(name="heads", classes="car,bus", input_size=32, output_format="centernet")
    res = convert(tmp_path / "heads.keras", card, tmp_path / "heads.onnx", measure_stride=True)
    assert res.card.stride == 4 and res.report.output_shapes["heatmap"] == (2, 2, 8, 8)
    x_nhwc = np.random.default_rng(1).random((2, 32, 32, 3), dtype=np.float32)
    want = [np.asarray(o).transpose(0, 3, 1, 2) for o in model.predict(x_nhwc, verbose=0)]
    got = ort.InferenceSession(str(res.model_path)).run(
        ["heatmap", "wh", "offset"], {"images": x_nhwc.transpose(0, 3, 1, 2).copy()}
    )
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
