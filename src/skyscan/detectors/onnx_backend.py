"""ONNX Runtime detector backend."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from skyscan.detectors.card import ModelCard, load_card
from skyscan.detectors.decode import DECODERS
from skyscan.detectors.merge import nms_per_chip
from skyscan.detectors.tta import AVERAGED, average_back, check_views, views
from skyscan.errors import ModelError, require
from skyscan.types import ChipDetections

logger = logging.getLogger(__name__)


class OnnxDetector:
    """A :class:`~skyscan.detectors.base.Detector` running an ONNX model on the CPU.

    Stateless after construction: ``InferenceSession.run`` is thread-safe, so one
    instance serves every thread of a process. With ``tta`` views (CenterNet models) each
    chip also runs mirrored and the heatmaps and sizes are averaged
    (:mod:`skyscan.detectors.tta`).
    """

    def __init__(
        self,
        model_path: str | Path,
        card: ModelCard | None = None,
        *,
        threads: int = 0,
        score_threshold: float | None = None,
        chips_per_run: int = 1,
        tta: int = 1,
    ) -> None:
        ort = require("onnxruntime", None)
        if chips_per_run < 1:
            raise ModelError(f"chips_per_run must be >= 1 (got {chips_per_run})")
        self.chips_per_run = chips_per_run
        self.model_path = Path(model_path)
        self.card = card or load_card(model_path)
        self.score_threshold = (
            self.card.score_threshold if score_threshold is None else score_threshold
        )
        check_views(tta)
        if tta > 1 and self.card.output_format != "centernet":
            raise ModelError(
                f"{self.model_path}: test-time augmentation (tta) needs a model with CenterNet "
                f"outputs; model {self.card.model_id} gives {self.card.output_format!r}"
            )
        self.tta = tta
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or (os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        # ORT's workers spin while idle; with a reader thread (or other Spark tasks) on the
        # same cores the spinning steals the time the reads need.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(
                str(self.model_path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"{self.model_path}: cannot load ONNX model ({exc})") from exc
        inputs = self._session.get_inputs()
        names = [i.name for i in inputs]
        if self.card.input_name not in names:
            raise ModelError(
                f"{self.model_path}: card input {self.card.input_name!r} is not an input of the "
                f"model (inputs: {names})"
            )
        self._output_names = [o.name for o in self._session.get_outputs()]
        self._decode = DECODERS[self.card.output_format]
        mean = np.asarray(self.card.mean, np.float32).reshape(1, 3, 1, 1)
        std = np.asarray(self.card.std, np.float32).reshape(1, 3, 1, 1)
        # (x - mean) / std == x * scale + bias, one fused pass over the batch
        self._scale = (1.0 / std).astype(np.float32)
        self._bias = (-mean / std).astype(np.float32)

    def preprocess(self, chips: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """uint8 NHWC RGB → normalised float32 NCHW.

        Fast when ``chips`` is a channels-last view of channels-first planes, as
        :meth:`ImageReader.read_chips` returns: the transpose is then contiguous and this
        is one cast (about 8x less time than de-interleaving a contiguous NHWC batch).
        """
        x = np.ascontiguousarray(chips.transpose(0, 3, 1, 2), dtype=np.float32)
        x *= self._scale
        x += self._bias
        return x

    def prepare(self, chips: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Check the batch shape and normalise it (the ``prepare`` stage)."""
        h, w = self.card.input_size
        if (
            chips.ndim != 4
            or chips.shape[3] != 3
            or not self._takes_size(chips.shape[1], chips.shape[2])
        ):
            sizes = (
                f"({h}, {w})"
                if not self.card.size_multiple
                else f"multiples of {self.card.size_multiple}"
            )
            raise ModelError(
                f"{self.model_path}: chips must be (N, H, W, 3) uint8 with (H, W) {sizes} (got {chips.shape})"
            )
        return self.preprocess(chips)

    def _takes_size(self, h: int, w: int) -> bool:
        if (h, w) == self.card.input_size:
            return True
        m = self.card.size_multiple
        return m is not None and min(h, w) >= m and h % m == 0 and w % m == 0

    def infer(self, prepared: npt.NDArray[np.float32]) -> list[dict[str, np.ndarray]]:
        """Run the model on a prepared batch, ``chips_per_run`` chips per ONNX Runtime
        call; each call's outputs by name (the ``infer`` stage).

        A batch is read, prepared and finished whole, but run in small calls: the
        activations of one 256 px chip stay in the CPU's caches, those of 16 do not
        (docs/performance.md).
        """
        step = self.chips_per_run
        return [self._run(prepared[i : i + step]) for i in range(0, len(prepared), step)]

    def _run(self, prepared: npt.NDArray[np.float32]) -> dict[str, np.ndarray]:
        if self.tta > 1:  # every view of the chips in one call
            prepared = views(prepared, self.tta)
        values = self._session.run(self._output_names, {self.card.input_name: prepared})
        out = dict(zip(self._output_names, values, strict=True))
        if self.tta > 1:
            n = len(prepared) // self.tta
            out = {name: v[:n] for name, v in out.items()} | {
                name: average_back(out[name], self.tta) for name in AVERAGED
            }
        return out

    def finish(self, outputs: list[dict[str, np.ndarray]]) -> list[ChipDetections]:
        """Decode the calls' outputs, then NMS within each chip (the ``finish`` stage).

        Calls whose outputs differ only in their batch axis (every fixed-shape head) are
        joined and decoded at once, which is cheaper than decoding each call.
        """
        joined = _join_calls(outputs)
        calls = [joined] if joined is not None else outputs
        decoded = [
            chip for call in calls for chip in self._decode(call, self.card, self.score_threshold)
        ]
        if self.card.output_format == "chip_classifier":
            return decoded
        return nms_per_chip(decoded, self.card.nms_iou)

    def run_raw(self, chips: npt.NDArray[np.uint8]) -> dict[str, np.ndarray]:
        """Run the model on ``chips`` in one call and return its outputs by name (no decoding)."""
        return self._run(self.prepare(chips))

    def detect_batch(self, chips: npt.NDArray[np.uint8]) -> list[ChipDetections]:
        if len(chips) == 0:
            return []
        return self.finish(self.infer(self.prepare(chips)))


def _join_calls(calls: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray] | None:
    """The calls' outputs joined along the batch axis, or ``None`` when some output's other
    axes differ between calls (an end-to-end model padding its boxes per call)."""
    if len(calls) <= 1:
        return calls[0] if calls else None
    first = calls[0]
    if any(call[name].shape[1:] != first[name].shape[1:] for call in calls[1:] for name in first):
        return None
    return {name: np.concatenate([call[name] for call in calls]) for name in first}
