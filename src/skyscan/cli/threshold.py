"""``skyscan set-threshold``: a model card's operating threshold from an evaluation report."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from skyscan.errors import SkyscanError


@click.command("set-threshold")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("report", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--class",
    "class_name",
    default="car",
    show_default=True,
    help="Class whose F1-best point to use.",
)
def set_threshold_command(model: Path, report: Path, class_name: str) -> None:
    """Set MODEL's card score threshold to the F1-best point of CLASS in REPORT (a skyscan
    evaluate report), and record where it came from.

    The threshold is then tuned on that report's images: say so wherever its figures are quoted.
    """
    from skyscan.train.threshold import set_threshold, threshold_from_report

    try:
        threshold = threshold_from_report(report, class_name)
        set_threshold(model, threshold, f"F1-best {class_name} threshold of {report.name}")
    except SkyscanError as exc:
        click.echo(f"skyscan set-threshold: error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{model}: score_threshold = {threshold:.4f}", err=True)
