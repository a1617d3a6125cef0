"""``skyscan convert``: bring your own model (ONNX, PyTorch, Keras, TensorFlow) with a card.

The card comes either from a JSON file (``--card``) or from options (``--classes``,
``--input-size``, ``--format``, ...). Either way the converted model is run once and
must match the card before anything is written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from skyscan.cli.params import FINITE
from skyscan.errors import SkyscanError

if TYPE_CHECKING:
    from skyscan.detectors.card import ModelCard

# --framework values; "pytorch" is the spelling of the first version of this command.
FRAMEWORK_ALIASES = {
    "onnx": "onnx",
    "pytorch": "torch",
    "torch": "torch",
    "keras": "keras",
    "tensorflow": "tensorflow",
}


@click.command("convert")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="ONNX file to write (default: SOURCE with a .onnx suffix; for an ONNX SOURCE the card is written beside it).",
)
@click.option(
    "--framework",
    "--from",
    "framework",
    type=click.Choice(sorted(FRAMEWORK_ALIASES)),
    default=None,
    help="Source framework (default: from the suffix: .onnx, .pt/.pth, .keras/.h5; a directory is a TensorFlow SavedModel).",
)
@click.option(
    "--card",
    "card_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Model card JSON to use (instead of --classes/--input-size/--format).",
)
@click.option(
    "--classes",
    default=None,
    help="Class names in model order, e.g. car,truck,bus or background,car (name:ID sets an xView type id).",
)
@click.option("--input-size", default=None, help="Model input in pixels: N (square) or HxW.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["boxes", "centernet", "chip_classifier"]),
    default=None,
    help="Output format (see docs/models.md).",
)
@click.option(
    "--gsd",
    type=FINITE,
    default=None,
    help="Ground sample distance the model was trained at (m/px); chips are resampled to it.",
)
@click.option(
    "--mean",
    default="0,0,0",
    show_default=True,
    help="Per-channel mean subtracted from 0-255 RGB pixels.",
)
@click.option(
    "--std",
    default="255,255,255",
    show_default=True,
    help="Per-channel divisor applied after the mean.",
)
@click.option(
    "--stride",
    type=int,
    default=None,
    help="CenterNet output stride (default: measured from the model).",
)
@click.option(
    "--score-threshold",
    type=FINITE,
    default=0.3,
    show_default=True,
    help="Default score threshold written into the card.",
)
@click.option(
    "--nms-iou",
    type=FINITE,
    default=0.5,
    show_default=True,
    help="IoU for non-maximum suppression written into the card.",
)
@click.option("--name", default=None, help="Model name in the card (default: output file name).")
@click.option(
    "--model-version", default="1.0", show_default=True, help="Model version in the card."
)
@click.option(
    "--output-names",
    default=None,
    help="The model's output names, comma-separated, in the format's order (renamed to the format's names).",
)
@click.option(
    "--softmax", is_flag=True, help="The chip classifier returns logits: append a softmax."
)
@click.option(
    "--channels-last/--channels-first",
    "channels_last",
    default=None,
    help="The model takes NHWC input (default: detected for Keras, assumed for TensorFlow, NCHW otherwise).",
)
@click.option(
    "--trust-pickle",
    "--allow-pickle",
    "trust_pickle",
    is_flag=True,
    help="Allow loading a pickled PyTorch module, torch.save(model) (runs code from the file: trusted files only).",
)
@click.option(
    "--opset", type=int, default=17, show_default=True, help="ONNX opset for PyTorch/Keras exports."
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output model or card.")
@click.pass_context
def convert_command(
    ctx: click.Context,
    source: Path,
    target: Path | None,
    framework: str | None,
    card_file: Path | None,
    classes: str | None,
    input_size: str | None,
    output_format: str | None,
    gsd: float | None,
    mean: str,
    std: str,
    stride: int | None,
    score_threshold: float,
    nms_iou: float,
    name: str | None,
    model_version: str,
    output_names: str | None,
    softmax: bool,
    channels_last: bool | None,
    trust_pickle: bool,
    opset: int,
    overwrite: bool,
) -> None:
    """Convert SOURCE to ONNX and write its model card, after running it once to check both agree.

    \b
    Check an ONNX model against the card beside it:
        skyscan convert model.onnx
    Write a card for an ONNX model (checked against the model's real outputs):
        skyscan convert model.onnx --classes car,truck,bus --input-size 256 --gsd 0.25 --format boxes
    Convert PyTorch (TorchScript) or Keras 3 (.keras) models:
        skyscan convert model.pt -o model.onnx --card model-card.json
        skyscan convert chips.keras -o chips.onnx --classes background,car --input-size 64 --format chip_classifier
    """
    from skyscan.convert import build_card, check_card, convert

    root = ctx.find_root().obj
    quiet = bool(root and root.get("quiet"))
    fw = FRAMEWORK_ALIASES[framework] if framework else None
    given = {"--classes": classes, "--input-size": input_size, "--format": output_format}
    try:
        if (
            card_file is None
            and all(v is None for v in given.values())
            and target is None
            and fw in (None, "onnx")
            and source.suffix.lower() == ".onnx"
        ):
            card, report = check_card(source)
            if not quiet:
                click.echo(
                    f"{source}: matches its card {card.model_id} ({card.output_format}, "
                    f"classes {card.class_names}); outputs {report.output_shapes}",
                    err=True,
                )
            return
        if card_file is not None:
            conflicting = [k for k, v in given.items() if v is not None]
            if conflicting:
                raise click.UsageError(
                    f"--card gives the whole card; drop {', '.join(conflicting)}"
                )
            card = _card_from_file(card_file)
        else:
            missing = [k for k, v in given.items() if v is None]
            if missing:
                raise click.UsageError(
                    f"writing a model card needs --card FILE or {', '.join(missing)}"
                )
            assert classes is not None and input_size is not None and output_format is not None
            card = build_card(
                name=name or (target or source).stem,
                classes=classes,
                input_size=input_size,
                output_format=output_format,
                gsd=gsd,
                mean=mean,
                std=std,
                stride=stride or 4,
                score_threshold=score_threshold,
                nms_iou=nms_iou,
                version=model_version,
            )
        result = convert(
            source,
            card,
            target,
            framework=fw,
            output_names=None
            if output_names is None
            else [s.strip() for s in output_names.split(",")],
            softmax=softmax,
            channels_last=channels_last,
            trust_pickle=trust_pickle,
            measure_stride=card_file is None and stride is None,
            overwrite=overwrite,
            opset=opset,
        )
    except SkyscanError as exc:
        click.echo(f"skyscan convert: error: {exc}", err=True)
        sys.exit(1)
    if not quiet:
        click.echo(
            f"{result.framework} -> {result.model_path} + {result.card_path} "
            f"({result.card.output_format}, classes {result.card.class_names}; "
            f"outputs {result.report.output_shapes})",
            err=True,
        )


def _card_from_file(path: Path) -> ModelCard:
    """A card JSON given directly (not necessarily beside a model)."""

    from skyscan.detectors.card import ModelCard
    from skyscan.errors import ModelError
    from skyscan.jsonfile import load_json_file

    data = load_json_file(path, "model card", ModelError)
    if not isinstance(data, dict):
        raise ModelError(f"{path}: model card must be a JSON object")
    return ModelCard.from_dict(data, source=str(path))
