"""``skyscan set-threshold`` and ``set-box-scale``: a model card's operating threshold and
box-size correction from evaluation reports."""

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
        card = set_threshold(model, threshold, f"F1-best {class_name} threshold of {report.name}")
    except SkyscanError as exc:
        click.echo(f"skyscan set-threshold: error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{model}: score_threshold = {card.score_threshold}", err=True)


@click.command("set-box-scale")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument(
    "reports", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--class",
    "class_name",
    default="car",
    show_default=True,
    help="Class whose matched boxes to fit.",
)
def set_box_scale_command(model: Path, reports: tuple[Path, ...], class_name: str) -> None:
    """Set MODEL's box-size correction (the card's output.box_scale) so that its CLASS boxes
    fit the labels of REPORTS (skyscan evaluate reports of MODEL) on average, and record
    where it came from. Fit it on the model's training images, never on held-out ones.
    """
    from skyscan.train.box_scale import box_scale_from_reports, set_box_scale

    try:
        scale, n = box_scale_from_reports(list(reports), class_name)
        names = ", ".join(str(r) for r in reports)
        set_box_scale(model, scale, f"mean {class_name} side ratio of {n} matched boxes in {names}")
    except SkyscanError as exc:
        click.echo(f"skyscan set-box-scale: error: {exc}", err=True)
        sys.exit(1)
    click.echo(
        f"{model}: box_scale = longer x{scale[0]:.4f}, shorter x{scale[1]:.4f} ({n} boxes)",
        err=True,
    )
