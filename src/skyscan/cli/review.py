"""``skyscan review``: write the offline page to accept, reject and add detections."""

from __future__ import annotations

from pathlib import Path

import click

from skyscan.cli.params import FiniteFloat
from skyscan.errors import SkyscanError


@click.command("review")
@click.argument("detections", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--imagery",
    multiple=True,
    help="Image file, directory or glob the detections came from (repeatable; default: the table's image_path).",
)
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="HTML file to write."
)
@click.option(
    "--max-crops",
    type=click.IntRange(min=0),
    default=500,
    show_default=True,
    help="Detections shown as crops; the rest are left out (the page says so).",
)
@click.option(
    "--order",
    type=click.Choice(["score", "sample"]),
    default="score",
    show_default=True,
    help="Which detections get crops: highest scores first, or a random sample (--seed).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--crop-px",
    type=click.IntRange(64, 512),
    default=192,
    show_default=True,
    help="Crop size on the page.",
)
@click.option(
    "--context",
    "context_m",
    type=FiniteFloat(min=0),
    default=12.0,
    show_default=True,
    help="Metres of ground a crop shows at least.",
)
@click.option(
    "--view-size",
    type=click.IntRange(min=32),
    default=512,
    show_default=True,
    help="Image views for adding missed vehicles: tiles of this many source pixels.",
)
@click.option(
    "--max-views",
    type=click.IntRange(min=0),
    default=40,
    show_default=True,
    help="Image views embedded (those with the most detections first).",
)
@click.option("--title", default="skyscan review", show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.pass_context
def review_command(
    ctx: click.Context,
    detections: str,
    imagery: tuple[str, ...],
    output: str,
    max_crops: int,
    order: str,
    seed: int,
    crop_px: int,
    context_m: float,
    view_size: int,
    max_views: int,
    title: str,
    overwrite: bool,
) -> None:
    """Write an offline HTML page to review DETECTIONS on their imagery: accept (a) or
    reject (r) each crop, drag boxes around missed vehicles, and export the labels as YOLO,
    COCO or GeoJSON for 'skyscan train --init MODEL'.
    """
    from skyscan.review import ReviewOptions, make_review

    try:
        options = ReviewOptions(
            max_crops=max_crops,
            order=order,
            seed=seed,
            crop_px=crop_px,
            context_m=context_m,
            view_size=view_size,
            max_views=max_views,
            title=title,
        )
        result = make_review(
            detections, output, list(imagery) or None, options, overwrite=overwrite
        )
    except SkyscanError as exc:
        raise click.ClickException(str(exc)) from exc
    if not (ctx.obj and ctx.obj.get("quiet")):
        size = Path(output).stat().st_size / 1e6
        click.echo(
            f"wrote {output} ({size:.1f} MB): {result.n_crops:,} of {result.n_detections:,} detections as "
            f"crops, {result.n_views} of {result.n_views_total} image views, {result.n_images} image(s) "
            f"in {result.seconds:.1f} s",
            err=True,
        )
