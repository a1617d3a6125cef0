"""``skyscan evaluate``: run the detection pipeline over labelled images and score it."""

from __future__ import annotations

import json
import math
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from skyscan.cli.options import settings_options
from skyscan.cli.params import FINITE
from skyscan.errors import SkyscanError
from skyscan.options import DetectSettings
from skyscan.types import JsonObject


def _angles(_ctx: click.Context, _param: click.Parameter, value: str | None) -> list[float] | None:
    """``0,30,45`` as degrees; a usage error for anything else."""
    if value is None:
        return None
    try:
        angles = [float(a) for a in value.split(",")]
    except ValueError:
        raise click.BadParameter(
            f"expected angles in degrees like 0,30,45 (got {value!r})"
        ) from None
    if not all(math.isfinite(a) for a in angles):
        raise click.BadParameter(f"expected finite angles (got {value!r})")
    return angles


@click.command("evaluate")
@click.argument("images", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--labels",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="YOLO label directory, or COCO / xView JSON file.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["yolo", "coco", "xview"]),
    required=True,
    help="Label format.",
)
@click.option(
    "--classes",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="YOLO class list (one name a line); default LABELS/../classes.txt.",
)
@click.option(
    "--list",
    "name_list",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="File of image names (one a line) inside IMAGES to evaluate, e.g. a split.",
)
@click.option("--iou", type=FINITE, default=0.5, show_default=True, help="IoU for a true positive.")
@click.option(
    "--map",
    "overrides",
    multiple=True,
    metavar="NAME=TARGET",
    help="Extra class fold, e.g. --map van=car or --map tractor=ignore (repeatable).",
)
@click.option(
    "--allow-unlabelled", is_flag=True, help="Treat images without labels as having no objects."
)
@click.option(
    "--ignore-regions",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CSV image,xmin,ymin,xmax,ymax of known unlabelled objects: detections there are not scored.",
)
@click.option(
    "--angles",
    default=None,
    metavar="DEGREES,...",
    callback=_angles,
    help="Score copies of the images turned by each angle (e.g. 0,30,45,60,90) and all of them pooled "
    "instead: does the model find vehicles at every heading? The report holds one entry per angle.",
)
@click.option(
    "--against",
    default=None,
    metavar="MODEL",
    help="Also score MODEL (a name or .onnx) on the same labels and compare the two object by "
    "object: which labelled objects only one finds, the false detections of each, and whether "
    "the difference is more than chance (report key 'against').",
)
@settings_options(DetectSettings)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Report JSON.",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Precision-recall PNG (default: OUTPUT with .png suffix).",
)
@click.option(
    "--record-in-card",
    "record_key",
    default=None,
    metavar="KEY",
    help="Also store the scores under metrics.KEY in the model's card.",
)
@click.option("--overwrite", is_flag=True, help="Replace existing report/plot files.")
@click.pass_context
def evaluate_command(
    ctx: click.Context,
    images: Path,
    labels: Path,
    fmt: str,
    classes: Path | None,
    name_list: Path | None,
    iou: float,
    overrides: tuple[str, ...],
    allow_unlabelled: bool,
    ignore_regions: Path | None,
    angles: list[float] | None,
    against: str | None,
    output: Path,
    plot: Path | None,
    record_key: str | None,
    overwrite: bool,
    **values: Any,
) -> None:
    """Score MODEL on IMAGES (a directory or one image) against LABELS.

    Per class: AP at IoU 0.5 (all-point interpolation) and COCO's AP@[.5:.95],
    precision, recall and F1 at the model's threshold, the number of labelled objects,
    and the box fit (how the true positives' longer and shorter sides compare with
    their labels'; skyscan set-box-scale writes it into a card); mAP over classes
    present. The detection options are those of skyscan detect.
    """
    from skyscan.evaluate.run import EvalReport, evaluate
    from skyscan.labels.read import read_name_list

    try:
        settings = DetectSettings.pick(values)
    except SkyscanError as exc:
        raise click.UsageError(str(exc)) from exc
    if angles is not None:
        for given, flag in (
            (ignore_regions, "--ignore-regions"),
            (plot, "--plot"),
            (record_key, "--record-in-card"),
            (against, "--against"),
        ):
            if given is not None:
                raise click.UsageError(f"{flag} does not apply to turned copies (--angles)")
    plot = plot or output.with_suffix(".png")
    for path in (output, plot) if angles is None else (output,):
        if path.exists() and not overwrite:
            click.echo(
                f"skyscan evaluate: error: {path} exists (pass --overwrite to replace it)", err=True
            )
            sys.exit(1)
    command = "skyscan " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    names = read_name_list(name_list) if name_list else None
    quiet = bool(ctx.find_root().obj and ctx.find_root().obj.get("quiet"))
    if angles is not None:
        _evaluate_turned(
            images,
            labels,
            fmt,
            classes,
            names,
            settings,
            iou,
            overrides,
            allow_unlabelled,
            angles,
            output,
            command,
            quiet,
        )
        return
    from skyscan.evaluate.plot import plot_pr

    try:

        def score(model_settings: DetectSettings) -> EvalReport:
            return evaluate(
                images,
                labels,
                fmt,
                classes=classes,
                names=names,
                settings=model_settings,
                iou_threshold=iou,
                overrides=list(overrides),
                allow_missing=allow_unlabelled,
                ignore_regions=ignore_regions,
            )

        report = score(settings)
        data = report.to_dict()
        data["command"] = command
        if against is not None:
            from skyscan.evaluate.paired import compare

            baseline = score(replace(settings, model=against))
            data["against"] = {
                **compare(report, baseline),
                "baseline_scores": baseline.to_dict()["classes"],
            }
        _write_json(data, output)
        plot_pr(report.results, plot, title=f"{report.card.model_id} on {images.name} (IoU {iou})")
        if record_key:
            from skyscan.train.run import record_metrics

            record_metrics(report.model_path, record_key, data, data["command"])
    except SkyscanError as exc:
        click.echo(f"skyscan evaluate: error: {exc}", err=True)
        sys.exit(1)
    if not quiet:
        click.echo(
            f"mAP50 {data['map50']:.4f} over {data['classes_present']} on {data['n_images']} images",
            err=True,
        )
        for name, c in data["classes"].items():
            ap = "n/a" if c["ap50"] is None else f"{c['ap50']:.4f}"
            coco = "" if c["ap50_95"] is None else f"  AP@[.5:.95] {c['ap50_95']:.4f}"
            click.echo(
                f"  {name:6s} AP50 {ap}{coco}  {_rates(c)}"
                f"  labels {c['n_labels']}  detections {c['n_detections']}",
                err=True,
            )
            if c.get("box_fit"):
                fit = c["box_fit"]
                click.echo(
                    f"         box fit (label side / detection side) over {fit['n']} matches: "
                    f"longer x{fit['scale_longer']:.3f}, shorter x{fit['scale_shorter']:.3f}",
                    err=True,
                )
        if data.get("any_class"):
            v = data["any_class"]
            click.echo(
                f"  any class (one vehicle, one row): AP50 {v['ap50']:.4f}  {_rates(v)}"
                f"  labels {v['n_labels']}  detections {v['n_detections']}",
                err=True,
            )
        if data.get("against"):
            _echo_paired(data["against"])
        click.echo(f"report: {output}  plot: {plot}", err=True)


def _evaluate_turned(
    images: Path,
    labels: Path,
    fmt: str,
    classes: Path | None,
    names: list[str] | None,
    settings: DetectSettings,
    iou: float,
    overrides: tuple[str, ...],
    allow_unlabelled: bool,
    angles: list[float],
    output: Path,
    command: str,
    quiet: bool,
) -> None:
    """``--angles``: the scores of turned copies, one line per angle and the pooled set."""
    from skyscan.evaluate.rotated import evaluate_turned

    try:
        data = evaluate_turned(
            images,
            labels,
            fmt,
            angles,
            classes=classes,
            names=names,
            settings=settings,
            iou_threshold=iou,
            overrides=list(overrides),
            allow_missing=allow_unlabelled,
        )
        data["command"] = command
        _write_json(data, output)
    except SkyscanError as exc:
        click.echo(f"skyscan evaluate: error: {exc}", err=True)
        sys.exit(1)
    if not quiet:
        for angle, scores in [*data["angles"].items(), ("all", data["pooled"])]:
            car = scores["classes"].get("car", {})
            click.echo(
                f"{angle:>5}°  car AP50 {car.get('ap50')}  P {car.get('precision')}  R {car.get('recall')}  "
                f"mAP50 {scores['map50']:.4f}",
                err=True,
            )
        click.echo(f"report: {output}", err=True)


def _write_json(data: JsonObject, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _rates(c: dict[str, Any]) -> str:
    """Precision and recall at the threshold, each with its 95 % interval when it has one."""

    def one(key: str) -> str:
        if c.get(key) is None:
            return "n/a"
        ci = c.get(f"{key}_ci95")
        return f"{c[key]:.3f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")

    return f"P {one('precision')}  R {one('recall')}"


def _echo_paired(paired: dict[str, Any]) -> None:
    """One line per class: the objects each model alone finds and the false detections."""
    click.echo(f"against {paired['baseline']} (each at its own threshold):", err=True)
    for name, c in paired["classes"].items():
        click.echo(
            f"  {name:6s} found by both {c['found_by_both']}, only this model "
            f"{c['found_only_by_model']}, only {paired['baseline']} {c['found_only_by_baseline']} "
            f"(p {c['p_found']:.3g});  false detections {c['false_detections_model']} against "
            f"{c['false_detections_baseline']} (p {c['p_false']:.3g})",
            err=True,
        )
