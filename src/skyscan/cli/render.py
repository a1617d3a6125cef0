"""``skyscan render``: detections drawn on their images (PNG), for docs and visual checks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from skyscan.cli.options import settings_options
from skyscan.cli.params import FiniteFloat
from skyscan.errors import SkyscanError
from skyscan.options import DetectSettings


@click.command("render")
@click.argument(
    "images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "-o",
    "--output",
    "outdir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the pictures, one detect_<image name>.png per image.",
)
@click.option(
    "--scale",
    type=FiniteFloat(0, min_open=True),
    default=None,
    help="Enlargement of the pictures [default: 2 for images narrower than 400 px, else 1].",
)
@settings_options(DetectSettings)
@click.pass_context
def render_command(
    ctx: click.Context, images: tuple[Path, ...], outdir: Path, scale: float | None, **values: Any
) -> None:
    """Detect objects in each of IMAGES and draw their boxes on it: car red, truck orange,
    bus white (the detection options are those of skyscan detect)."""
    from skyscan.evaluate.render import render_image

    try:
        settings = DetectSettings.pick(values)
    except SkyscanError as exc:
        raise click.UsageError(str(exc)) from exc
    quiet = bool(ctx.find_root().obj and ctx.find_root().obj.get("quiet"))
    try:
        for image in images:
            out, counts = render_image(image, outdir, settings, scale=scale)
            if not quiet:
                click.echo(f"{out}: {sum(counts.values())} detections {counts}", err=True)
    except (SkyscanError, OSError) as exc:
        click.echo(f"skyscan render: error: {exc}", err=True)
        sys.exit(1)
