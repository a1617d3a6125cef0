"""``skyscan map``: write the offline HTML map of a detections file."""

from __future__ import annotations

from pathlib import Path

import click

from skyscan.errors import SkyscanError


@click.command("map")
@click.argument("detections", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="HTML file to write."
)
@click.option(
    "--imagery",
    multiple=True,
    help="Image file, directory or glob shown as an overlay (repeatable).",
)
@click.option(
    "--zones",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Zones / areas of interest (GeoJSON, GeoParquet, GeoPackage, shapefile; any CRS).",
)
@click.option(
    "--h3",
    "h3_resolution",
    type=click.IntRange(0, 15),
    default=None,
    help="Add H3 cell counts at this resolution (0-15).",
)
@click.option(
    "--clusters",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Cluster hulls (from 'skyscan cluster'), or detections with a cluster_id column.",
)
@click.option(
    "--title", default="skyscan", show_default=True, help="Page title and legend heading."
)
@click.option(
    "--max-markers",
    type=click.IntRange(min=0),
    default=5000,
    show_default=True,
    help="Individual markers (highest scores); the heatmap counts every detection.",
)
@click.option(
    "--no-basemap", is_flag=True, help="Leave out the offline basemap (land, borders, place names)."
)
@click.option(
    "--full-paths",
    is_flag=True,
    help="Name local images in the page by their full paths [default: relative to the page].",
)
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.pass_context
def map_command(
    ctx: click.Context,
    detections: str,
    output: str,
    imagery: tuple[str, ...],
    zones: str | None,
    h3_resolution: int | None,
    clusters: str | None,
    title: str,
    max_markers: int,
    no_basemap: bool,
    full_paths: bool,
    overwrite: bool,
) -> None:
    """Write an offline HTML map of DETECTIONS (GeoParquet, GeoJSON or CSV): heatmap,
    markers per class with popups, imagery overlay, optional H3 / zone / cluster layers.

    The page needs no network; notes about skipped rows or unreadable inputs are shown in
    it and logged.
    """
    from skyscan.viz.build import build_map, write_atomic

    out = Path(output)
    if out.exists() and not overwrite:
        raise click.UsageError(f"{out} exists; pass --overwrite to replace it")
    try:
        result = build_map(
            detections,
            imagery=list(imagery) or None,
            zones=zones,
            h3_resolution=h3_resolution,
            clusters=clusters,
            title=title,
            max_markers=max_markers,
            basemap=not no_basemap,
            page_dir=out.parent,
            full_paths=full_paths,
        )
    except SkyscanError as exc:
        raise click.ClickException(str(exc)) from exc
    write_atomic(result.html, out)
    quiet = bool(ctx.obj and ctx.obj.get("quiet"))
    if not quiet:
        size_mb = len(result.html.encode("utf-8")) / 1e6
        click.echo(
            f"wrote {out} ({size_mb:.2f} MB): {result.n_points:,} of {result.n_input:,} detections, "
            f"{result.n_markers:,} markers, {result.n_heat_cells:,} heat cells, "
            f"{result.n_overlays} imagery overlay(s) in {result.seconds:.1f} s",
            err=True,
        )
        for note in result.notes:
            click.echo(f"note: {note}", err=True)
