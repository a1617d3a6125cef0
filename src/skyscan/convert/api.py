"""``convert``: any supported model file → an ONNX model plus its checked card.

Flow, for every source framework::

    source ──load/export──► ONNX (temp) ──layout/names──► ONNX (temp) ──check_model──► target + card

Nothing is written at ``target`` until the converted model has run once and matched its
card, and both files are moved into place atomically; an existing model or card is only
replaced with ``overwrite=True``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from skyscan.convert.check import CheckReport, check_model
from skyscan.convert.spec import output_names as format_output_names
from skyscan.detectors.card import ModelCard, card_path_for, load_card
from skyscan.errors import InputError, ModelError, OutputExistsError

logger = logging.getLogger(__name__)

FRAMEWORKS = ("onnx", "torch", "keras", "tensorflow")
_SUFFIXES = {
    ".onnx": "onnx",
    ".pt": "torch",
    ".pth": "torch",
    ".ts": "torch",
    ".torchscript": "torch",
    ".ptl": "torch",
    ".keras": "keras",
    ".h5": "keras",
}


@dataclass(frozen=True)
class ConvertResult:
    """The written model and card, the framework converted from, and the check's findings."""

    model_path: Path
    card_path: Path
    card: ModelCard
    framework: str
    report: CheckReport


def detect_framework(source: str | Path) -> str:
    """The source framework from the file: ``.onnx``, ``.pt``/``.pth``, ``.keras``/``.h5``, or
    a TensorFlow SavedModel directory."""
    from skyscan.convert.tensorflow_export import is_saved_model

    path = Path(source)
    if path.is_dir():
        if is_saved_model(path):
            return "tensorflow"
        raise InputError(
            f"{path}: a directory is only accepted as a TensorFlow SavedModel (no saved_model.pb)"
        )
    if not path.exists():
        raise InputError(f"{path}: model file not found")
    try:
        return _SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise InputError(
            f"{path}: cannot tell the framework from the suffix {path.suffix!r} "
            f"(known: {sorted(_SUFFIXES)}); pass framework= one of {FRAMEWORKS}"
        ) from None


def check_card(model_path: str | Path) -> tuple[ModelCard, CheckReport]:
    """Load the card beside an ONNX model and check the model's real outputs against it."""
    card = load_card(model_path)
    return card, check_model(model_path, card)


def convert(
    source: str | Path,
    card: ModelCard,
    target: str | Path | None = None,
    *,
    framework: str | None = None,
    output_names: Sequence[str] | None = None,
    softmax: bool = False,
    channels_last: bool | None = None,
    trust_pickle: bool = False,
    measure_stride: bool = False,
    overwrite: bool = False,
    opset: int = 17,
) -> ConvertResult:
    """Convert ``source`` to ONNX at ``target`` (default: beside the source, ``.onnx``) and
    write ``card`` beside it, after checking the model against the card.

    ``output_names`` are the source model's output names in the order of the card
    format's outputs, used to rename them (PyTorch and Keras outputs are already named
    by position). ``softmax`` appends a softmax to a chip classifier that returns logits.
    ``channels_last`` adapts an NHWC model to skyscan's NCHW input (default: detected for
    Keras, assumed for TensorFlow, off otherwise). ``trust_pickle`` allows loading a
    pickled PyTorch module (runs code from the file: trusted files only).
    ``measure_stride`` writes the CenterNet stride measured from the model into the card.
    ``opset`` is the ONNX opset of PyTorch and Keras exports.
    """
    src = Path(source)
    fw = framework or detect_framework(src)
    if fw not in FRAMEWORKS:
        raise InputError(f"'framework' must be one of {FRAMEWORKS} (got {fw!r})")
    out = Path(target) if target is not None else src.with_suffix(".onnx")
    if out.suffix.lower() != ".onnx":
        raise InputError(f"'target' must be a .onnx file (got {out})")
    in_place = fw == "onnx" and out.resolve() == src.resolve()
    if in_place and (output_names or channels_last or softmax) and not overwrite:
        raise OutputExistsError(
            f"{out}: renaming outputs or changing the layout rewrites the model; pass a new "
            "target (-o) or overwrite=True (--overwrite)"
        )
    if not overwrite:
        for path in ([] if in_place else [out]) + [card_path_for(out)]:
            if path.exists():
                raise OutputExistsError(
                    f"{path} exists; pass overwrite=True (--overwrite) to replace it"
                )
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.stem}.", dir=out.parent) as tmpdir:
        tmp = Path(tmpdir) / "model.onnx"
        try:
            card = _to_onnx(
                src, fw, tmp, card, output_names, softmax, channels_last, trust_pickle, opset
            )
        except ModelError as exc:
            if str(src) in str(exc):
                raise
            raise ModelError(f"{src}: {exc}") from exc
        written = tmp if tmp.exists() else src
        label = str(src) if written == src else f"{src} (converted to ONNX)"
        report = check_model(written, card, measure_stride=measure_stride, label=label)
        if card.output_format == "centernet" and report.stride is not None:
            card = dataclasses.replace(card, stride=report.stride)
        card = dataclasses.replace(card, extra={**card.extra, "source": _source_info(src, fw)})
        if written == src and not in_place:
            shutil.copyfile(src, tmp)
        if tmp.exists():
            os.replace(tmp, out)
        card_path = _write_card(card, out, tmpdir)
    logger.info("converted %s (%s) -> %s + %s", src, fw, out, card_path)
    return ConvertResult(out, card_path, card, fw, report)


def _to_onnx(
    src: Path,
    fw: str,
    tmp: Path,
    card: ModelCard,
    output_names: Sequence[str] | None,
    softmax: bool,
    channels_last: bool | None,
    trust_pickle: bool,
    opset: int,
) -> ModelCard:
    """Write the source as ONNX at ``tmp`` and return the card with the model's input name.

    Every framework goes through the same ONNX-level steps after export: NHWC → NCHW
    input, output renames, softmax. An ONNX source that needs none of them is left
    alone (``tmp`` is not written).
    """
    from skyscan.convert.graph import append_softmax, graph_io_names, nchw_input, rename_io

    stage = iter(range(1, 100))

    def next_path() -> Path:
        return tmp.with_name(f"stage{next(stage)}.onnx")

    current = src
    if fw in ("torch", "keras"):
        from skyscan.convert.torch_export import export_torch

        if fw == "torch":
            from skyscan.convert.torch_export import load_torch_module

            model = load_torch_module(src, trust_pickle=trust_pickle)
            channels_last = bool(channels_last)
        else:
            from skyscan.convert.keras_export import is_channels_last, load_keras_model

            model = load_keras_model(src)
            if channels_last is None:
                channels_last = is_channels_last(model, src)
        current = export_torch(model, next_path(), card, channels_last=channels_last, opset=opset)
    elif fw == "tensorflow":
        from skyscan.convert.tensorflow_export import saved_model_to_onnx

        current = saved_model_to_onnx(src, next_path())
        channels_last = True if channels_last is None else channels_last
    ins, outs = graph_io_names(current)
    if len(ins) != 1:
        raise ModelError(f"{src}: expected one image input, the model has {ins}")
    card = dataclasses.replace(card, input_name=ins[0])
    if channels_last:
        spatial = tuple(outs) if card.output_format == "centernet" else ()
        current = nchw_input(current, next_path(), transpose_outputs=spatial)
    mapping = _output_mapping(src, outs, output_names, card)
    if mapping:
        current = rename_io(current, next_path(), outputs=mapping)
        outs = [mapping.get(o, o) for o in outs]
    if softmax:
        if card.output_format != "chip_classifier":
            raise InputError(
                f"'softmax' applies to the chip_classifier format only (got {card.output_format!r})"
            )
        current = append_softmax(current, next_path(), "probs" if "probs" in outs else outs[0])
    if current != src:
        os.replace(current, tmp)
    return card


def _output_mapping(
    src: Path, outs: list[str], given: Sequence[str] | None, card: ModelCard
) -> dict[str, str]:
    want = format_output_names(card.output_format)
    if given is None:
        return {}
    given = list(given)
    if len(given) != len(want):
        raise InputError(
            f"'output_names' must list {len(want)} model outputs for format "
            f"{card.output_format!r} ({', '.join(want)}) (got {given})"
        )
    missing = [g for g in given if g not in outs]
    if missing:
        raise InputError(
            f"{src}: 'output_names' {missing} are not outputs of the model (outputs: {outs})"
        )
    return {old: new for old, new in zip(given, want, strict=True) if old != new}


def _source_info(src: Path, fw: str) -> dict[str, str]:
    import skyscan

    return {
        "framework": fw,
        "file": src.name,
        "converted_by": f"skyscan convert {skyscan.__version__}",
    }


def _write_card(card: ModelCard, model_path: Path, tmpdir: str) -> Path:
    """Write the card beside the model atomically (temp file in the same folder, rename)."""
    from skyscan.detectors.card import save_card

    staged = save_card(card, Path(tmpdir) / model_path.name)
    target = card_path_for(model_path)
    os.replace(staged, target)
    return target
