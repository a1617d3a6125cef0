"""``skyscan train``: train a detector (from scratch or from ``--init MODEL``) with PyTorch; export to ONNX."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from skyscan.cli.params import FINITE, FiniteFloat
from skyscan.errors import SkyscanError
from skyscan.train import ARCHITECTURES, CUT_VEHICLES


def _widths(text: str) -> tuple[int, int, int]:
    parts = [int(v) for v in text.split(",")]
    if len(parts) != 3 or min(parts) < 1:
        raise click.BadParameter(f"expected three positive integers like 16,32,48 (got {text!r})")
    return parts[0], parts[1], parts[2]


@click.command("train")
@click.argument("images", required=False, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--data",
    "spec_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Dataset spec JSON with 'train' and 'val' sources (see skyscan.train.data).",
)
@click.option(
    "--labels",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Labels of IMAGES (single-source form): YOLO dir or COCO/xView JSON.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["yolo", "coco", "xview"]),
    default="yolo",
    show_default=True,
)
@click.option(
    "--classes",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="YOLO class list (single-source form).",
)
@click.option(
    "--image-gsd", type=FINITE, default=None, help="GSD (m/px) of IMAGES (single-source form)."
)
@click.option(
    "--list",
    "name_list",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Train only on these image names (single-source form).",
)
@click.option(
    "--val-list",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Validate on these image names (single-source form); split by place, not by frame.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Model .onnx path.",
)
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Checkpoints and log (default: OUTPUT's folder / <name>-run).",
)
@click.option("--name", default=None, help="Model name in the card (default: OUTPUT's stem).")
@click.option(
    "--gsd", type=FINITE, default=0.25, show_default=True, help="Model GSD, metres per model pixel."
)
@click.option("--steps", type=int, default=3000, show_default=True)
@click.option("--batch", type=int, default=16, show_default=True)
@click.option("--lr", type=FINITE, default=3e-3, show_default=True)
@click.option(
    "--chip", type=int, default=128, show_default=True, help="Training chip size (multiple of 32)."
)
@click.option(
    "--input-size", type=int, default=256, show_default=True, help="Exported model input size."
)
@click.option(
    "--widths",
    default=None,
    help="Channels at strides 2, 4, 8 [default: 16,32,48, or the --init model's].",
)
@click.option(
    "--arch",
    type=click.Choice(ARCHITECTURES),
    default="tiny_centernet",
    show_default=True,
    help="Network: the tiny CenterNet, or one on an ImageNet-trained EfficientNet-Lite0 trunk.",
)
@click.option(
    "--init",
    "init",
    default=None,
    help="Fine-tune this model instead of starting from scratch: a checkpoint (best.pt/last.pt), "
    "an .onnx model with its card, or a builtin name (vehicles).",
)
@click.option("--val-every", type=int, default=250, show_default=True)
@click.option(
    "--score-threshold",
    type=FINITE,
    default=0.3,
    show_default=True,
    help="Card's operating threshold.",
)
@click.option("--threads", type=int, default=2, show_default=True, help="Torch CPU threads.")
@click.option(
    "--time-limit",
    type=FINITE,
    default=3300.0,
    show_default=True,
    help="Stop after this many seconds.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--ema",
    type=FINITE,
    default=0.999,
    show_default=True,
    help="Decay of the weight average that is validated and exported (0 = raw weights).",
)
@click.option(
    "--p-object",
    type=FiniteFloat(0, 1),
    default=0.7,
    show_default=True,
    help="Share of training chips centred near a labelled object (the rest: anywhere).",
)
@click.option(
    "--p-negative",
    type=FiniteFloat(0, 1),
    default=0.0,
    show_default=True,
    help="Share of training chips drawn inside the sources' vehicle-free regions (hard negatives).",
)
@click.option(
    "--cut-vehicles",
    type=click.Choice(CUT_VEHICLES),
    default=None,
    help="How a training chip's edge labels the vehicles it cuts: by their visible part "
    "(chips stay inside the image), or whole when their centre is in the chip (chips reach "
    "past image borders; how the shipped vehicles weights were trained). [default: the way "
    "the --init model was trained, else visible]",
)
@click.option(
    "--sensor-augment",
    is_flag=True,
    help="Also imitate other sensors and light: colour casts, haze, shadows, JPEG.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing OUTPUT.")
def train_command(
    images: Path | None,
    spec_path: Path | None,
    labels: Path | None,
    fmt: str,
    classes: Path | None,
    image_gsd: float | None,
    name_list: Path | None,
    val_list: Path | None,
    output: Path,
    run_dir: Path | None,
    name: str | None,
    gsd: float,
    steps: int,
    batch: int,
    lr: float,
    chip: int,
    input_size: int,
    widths: str | None,
    arch: str,
    init: str | None,
    val_every: int,
    score_threshold: float,
    threads: int,
    time_limit: float,
    seed: int,
    ema: float,
    p_object: float,
    p_negative: float,
    cut_vehicles: str | None,
    sensor_augment: bool,
    overwrite: bool,
) -> None:
    """Train a vehicle detector and export OUTPUT (.onnx) with its model card.

    Either --data SPEC.json (several sources, each with its GSD), or IMAGES --labels
    --image-gsd for one source (optionally split into --list / --val-list). --init MODEL
    fine-tunes MODEL (its architecture) instead of starting from scratch.
    """
    from skyscan.train.augment import AugmentConfig
    from skyscan.train.data import DataSpec, SourceSpec, load_spec
    from skyscan.train.loop import TrainConfig
    from skyscan.train.run import train_and_export

    command = "skyscan " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        if init is not None and widths is not None:
            raise click.UsageError("--widths comes from the --init model; leave it out")
        if arch != "tiny_centernet" and widths is not None:
            raise click.UsageError(f"--widths sets the tiny_centernet's channels, not {arch}'s")
        if spec_path is not None:
            if images is not None or labels is not None:
                raise click.UsageError("give either --data or IMAGES --labels, not both")
            spec = load_spec(spec_path)
        else:
            if images is None or labels is None or image_gsd is None:
                raise click.UsageError(
                    "without --data, IMAGES, --labels and --image-gsd are required"
                )
            from skyscan.labels.read import read_name_list

            def source(names: Path | None) -> SourceSpec:
                return SourceSpec(
                    str(images),
                    str(labels),
                    fmt,
                    image_gsd,
                    str(classes) if classes else None,
                    tuple(read_name_list(names)) if names else None,
                )

            spec = DataSpec((source(name_list),), (source(val_list),) if val_list else ())
        cfg = TrainConfig(
            gsd=gsd,
            chip=chip,
            input_size=input_size,
            steps=steps,
            batch=batch,
            lr=lr,
            widths=_widths(widths or "16,32,48"),
            arch=arch,
            val_every=val_every,
            seed=seed,
            threads=threads,
            score_threshold=score_threshold,
            time_limit_s=time_limit,
            ema=ema,
            p_object=p_object,
            p_negative=p_negative,
            cut_vehicles=cut_vehicles,
            aug=AugmentConfig.sensors() if sensor_augment else AugmentConfig(),
        )
        out, _card, result = train_and_export(
            spec,
            output,
            cfg,
            run_dir=run_dir,
            name=name,
            command=command,
            overwrite=overwrite,
            init=init,
        )
    except SkyscanError as exc:
        click.echo(f"skyscan train: error: {exc}", err=True)
        sys.exit(1)
    val = result.val.get("map50")
    click.echo(
        f"trained {result.steps} steps in {result.seconds:.0f} s; in-training val mAP50 "
        f"{'n/a' if val is None else f'{val:.4f}'} -> {out} (+ {out.with_suffix('.json').name})",
        err=True,
    )
