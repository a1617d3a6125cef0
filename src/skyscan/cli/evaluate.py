"""``skyscan evaluate``: run the detection pipeline over labelled images and score it."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click

from skyscan.cli.params import FINITE, FiniteFloat
from skyscan.errors import SkyscanError


@click.command("evaluate")
@click.argument("images", type=click.Path(exists=True, path_type=Path))
@click.option("--labels", required=True, type=click.Path(exists=True, path_type=Path),
              help="YOLO label directory, or COCO / xView JSON file.")
@click.option("--format", "fmt", type=click.Choice(["yolo", "coco", "xview"]), required=True, help="Label format.")
@click.option("--classes", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="YOLO class list (one name a line); default LABELS/../classes.txt.")
@click.option("--list", "name_list", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="File of image names (one a line) inside IMAGES to evaluate, e.g. a split.")
@click.option("--model", default="vehicles", show_default=True, help="Builtin model name or .onnx path with its card.")
@click.option("--gsd", type=FINITE, default=None, help="Ground sample distance (m/px) of images without georeferencing.")
@click.option("--score-threshold", type=FINITE, default=None, help="Operating threshold for P/R/F1 (default: the card's).")
@click.option("--iou", type=FINITE, default=0.5, show_default=True, help="IoU for a true positive.")
@click.option("--map", "overrides", multiple=True, metavar="NAME=TARGET",
              help="Extra class fold, e.g. --map van=car or --map tractor=ignore (repeatable).")
@click.option("--allow-unlabelled", is_flag=True, help="Treat images without labels as having no objects.")
@click.option("--ignore-regions", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="CSV image,xmin,ymin,xmax,ymax of known unlabelled objects: detections there are not scored.")
@click.option("--chip-size", type=click.IntRange(min=1), default=None,
              help="Chip side in model pixels, as in skyscan detect [default: the model's input size].")
@click.option("--edge-pad", type=click.IntRange(min=0), default=None,
              help="Model pixels of black past image edges, as in skyscan detect [default: the card's].")
@click.option("--overlap", type=FiniteFloat(0.0, 0.5), default=0.2, show_default=True,
              help="Fraction of a chip shared with its neighbour, as in skyscan detect.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Report JSON.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Precision-recall PNG (default: OUTPUT with .png suffix).")
@click.option("--record-in-card", "record_key", default=None, metavar="KEY",
              help="Also store the scores under metrics.KEY in the model's card.")
@click.option("--overwrite", is_flag=True, help="Replace existing report/plot files.")
@click.pass_context
def evaluate_command(ctx: click.Context, images: Path, labels: Path, fmt: str, classes: Path | None,
                     name_list: Path | None, model: str, gsd: float | None, score_threshold: float | None,
                     iou: float, overrides: tuple[str, ...], allow_unlabelled: bool, ignore_regions: Path | None,
                     chip_size: int | None, edge_pad: int | None, overlap: float, output: Path,
                     plot: Path | None, record_key: str | None, overwrite: bool) -> None:
    """Score MODEL on IMAGES (a directory or one image) against LABELS.

    Per class: AP at IoU 0.5 (all-point interpolation), precision, recall and F1 at the
    model's threshold, and the number of labelled objects; mAP over classes present.
    """
    from skyscan.evaluate.plot import plot_pr
    from skyscan.evaluate.run import evaluate
    from skyscan.labels.read import read_name_list

    plot = plot or output.with_suffix(".png")
    for path in (output, plot):
        if path.exists() and not overwrite:
            click.echo(f"skyscan evaluate: error: {path} exists (pass --overwrite to replace it)", err=True)
            sys.exit(1)
    try:
        report = evaluate(
            images, labels, fmt, classes=classes, names=read_name_list(name_list) if name_list else None,
            model=model, gsd=gsd, score_threshold=score_threshold, iou_threshold=iou,
            overrides=list(overrides), allow_missing=allow_unlabelled, ignore_regions=ignore_regions,
            chip_size=chip_size, edge_pad=edge_pad, overlap=overlap,
        )
        data = report.to_dict()
        data["command"] = "skyscan " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        plot_pr(report.results, plot, title=f"{report.card.model_id} on {images.name} (IoU {iou})")
        if record_key:
            from skyscan.train.run import record_metrics

            record_metrics(report.model_path, record_key, data, data["command"])
    except SkyscanError as exc:
        click.echo(f"skyscan evaluate: error: {exc}", err=True)
        sys.exit(1)
    quiet = bool(ctx.find_root().obj and ctx.find_root().obj.get("quiet"))
    if not quiet:
        click.echo(f"mAP50 {data['map50']:.4f} over {data['classes_present']} on {data['n_images']} images", err=True)
        for name, c in data["classes"].items():
            ap = "n/a" if c["ap50"] is None else f"{c['ap50']:.4f}"
            click.echo(f"  {name:6s} AP50 {ap}  P {c['precision']:.3f}  R {c['recall'] if c['recall'] is not None else 'n/a'}"
                       f"  labels {c['n_labels']}  detections {c['n_detections']}", err=True)
        if data.get("any_class"):
            v = data["any_class"]
            click.echo(f"  any class (one vehicle, one row): AP50 {v['ap50']:.4f}  P {v['precision']:.3f}  "
                       f"R {v['recall']:.3f}  labels {v['n_labels']}  detections {v['n_detections']}", err=True)
        click.echo(f"report: {output}  plot: {plot}", err=True)
