"""Export a trained network to ONNX with its model card."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch

from skyscan.detectors.card import ClassSpec, ModelCard, save_card
from skyscan.schema import XVIEW_TYPE_IDS
from skyscan.train.model import STRIDE, CenterNet, ExportWrapper
from skyscan.types import JsonObject

log = logging.getLogger(__name__)
OPSET = 17


# The network downsamples by 8 at most (its stride-8 stage) and is fully convolutional:
# it takes any chip whose sides are multiples of this (the card's input.size_multiple).
SIZE_MULTIPLE = 8
# The card's input.edge_pad for each way training chips label the vehicles they cut
# (train.sampler): chips that stay inside their image and label cut vehicles by their
# visible part make detection keep its chips inside the image too (a vehicle cut by the
# border is reported, flagged truncated); chips that reach past the border, black there,
# as the shipped weights were trained, get the shipped card's pad (docs/model.md, Edge pad).
EDGE_PAD = {"visible": 0, "centre": 32}
# The longest vehicle the model finds, metres (a bus): the card's max_object_m, from which
# detection derives its default chip overlap.
MAX_OBJECT_M = 18.0


def export_onnx(net: CenterNet, path: str | Path, input_size: int) -> Path:
    """Write ``net`` (sigmoid heatmap, wh, offset; dynamic batch, height and width) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = ExportWrapper(net).eval()
    x = torch.zeros(1, 3, input_size, input_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            (x,),
            str(path),
            input_names=["images"],
            output_names=["heatmap", "wh", "offset"],
            dynamic_axes={
                name: {0: "batch", 2: "height", 3: "width"}
                for name in ("images", "heatmap", "wh", "offset")
            },
            opset_version=OPSET,
            dynamo=False,
        )
    for size in (input_size, 2 * input_size + SIZE_MULTIPLE):  # the native size and a larger one
        _check_outputs(path, net.num_classes, size)
    return path


def _check_outputs(path: Path, num_classes: int, input_size: int) -> None:
    """Run the exported file once: output names and shapes must match the card format."""
    import numpy as np
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outs = sess.run(None, {"images": np.zeros((2, 3, input_size, input_size), np.float32)})
    names = [o.name for o in sess.get_outputs()]
    h = input_size // STRIDE
    want = {"heatmap": (2, num_classes, h, h), "wh": (2, 2, h, h), "offset": (2, 2, h, h)}
    got = {n: tuple(o.shape) for n, o in zip(names, outs, strict=True)}
    if got != want:
        raise RuntimeError(
            f"{path}: exported outputs {got} do not match the centernet format {want}"
        )


def make_card(
    name: str,
    classes: tuple[str, ...],
    input_size: int,
    gsd: float,
    score_threshold: float,
    nms_iou: float = 0.5,
    version: str = "1.0",
    extra: JsonObject | None = None,
    max_object_m: float = MAX_OBJECT_M,
    box_scale: tuple[float, float] = (1.0, 1.0),
    cut_vehicles: str = "visible",
) -> ModelCard:
    return ModelCard(
        name=name,
        classes=tuple(ClassSpec(c, XVIEW_TYPE_IDS.get(c)) for c in classes),
        input_size=(input_size, input_size),
        size_multiple=SIZE_MULTIPLE if input_size % SIZE_MULTIPLE == 0 else None,
        edge_pad=min(EDGE_PAD[cut_vehicles], input_size // 4),
        mean=(0.0, 0.0, 0.0),
        std=(255.0, 255.0, 255.0),
        input_name="images",
        gsd=gsd,
        output_format="centernet",
        stride=STRIDE,
        box_scale=box_scale,
        score_threshold=score_threshold,
        nms_iou=nms_iou,
        version=version,
        task="detection",
        framework="onnx",
        max_object_m=max_object_m,
        extra=extra or {},
    )


def export_model(net: CenterNet, path: str | Path, card: ModelCard) -> tuple[Path, Path]:
    """ONNX file plus its card beside it."""
    onnx_path = export_onnx(net, path, card.input_size[0])
    card_path = save_card(card, onnx_path)
    log.info("exported %s and %s", onnx_path, card_path)
    return onnx_path, card_path
