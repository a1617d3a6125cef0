"""``skyscan quantize``: an int8 copy of an exported model, calibrated on training chips."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from skyscan.errors import SkyscanError

CALIBRATIONS = (
    "minmax",
    "percentile",
    "entropy",
)  # skyscan.train.quantize.CALIBRATIONS, without its import


@click.command("quantize")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--data",
    "spec_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Dataset spec JSON (as for skyscan train); calibration chips come from its training sources.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The int8 model .onnx (its card is written beside it).",
)
@click.option(
    "--chips", type=click.IntRange(min=1), default=256, show_default=True, help="Calibration chips."
)
@click.option(
    "--calibration",
    type=click.Choice(CALIBRATIONS),
    default="minmax",
    show_default=True,
    help="How activation ranges are chosen from the calibration chips.",
)
@click.option(
    "--quantize-stem",
    is_flag=True,
    help="Quantize the first convolution too [default: kept float].",
)
@click.option("--symmetric-activations", is_flag=True, help="int8 activations instead of uint8.")
@click.option("--overwrite", is_flag=True, help="Replace an existing OUTPUT.")
def quantize_command(
    model: Path,
    spec_path: Path,
    output: Path,
    chips: int,
    calibration: str,
    quantize_stem: bool,
    symmetric_activations: bool,
    overwrite: bool,
) -> None:
    """Write an int8 (static QDQ, per-channel weights) copy of MODEL to OUTPUT.

    The output heads stay float; measure the copy with skyscan evaluate before shipping it.
    """
    if output.exists() and not overwrite:
        click.echo(
            f"skyscan quantize: error: {output} exists (pass --overwrite to replace it)", err=True
        )
        sys.exit(1)
    from skyscan.train.quantize import quantize_from_spec

    try:
        card = quantize_from_spec(
            model,
            spec_path,
            output,
            chips,
            calibration=calibration,
            float_stem=not quantize_stem,
            symmetric_activations=symmetric_activations,
        )
    except SkyscanError as exc:
        click.echo(f"skyscan quantize: error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"int8 model {card.model_id}: {output}", err=True)
