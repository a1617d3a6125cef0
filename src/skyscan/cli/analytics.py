"""``skyscan within | join | aggregate | cluster``: analytics on a detections GeoParquet.

Each command reads detections, calls :mod:`skyscan.analytics`, writes the result by the
output's extension (.parquet/.geoparquet, .geojson/.json, .csv) and reports on stderr
what was done (reprojections, repairs, rows without coordinates). Outputs are never
replaced without ``--overwrite``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from skyscan.cli.options import F
from skyscan.cli.params import FINITE
from skyscan.errors import SkyscanError

if TYPE_CHECKING:
    import geopandas as gpd

PREDICATES = ("intersects", "within", "contains", "dwithin")


@contextmanager
def _errors() -> Iterator[None]:
    """Library errors become one clear line and exit code 1 (no traceback)."""
    try:
        yield
    except SkyscanError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc


def _report(notes: tuple[str, ...], written: list[Path]) -> None:
    ctx = click.get_current_context(silent=True)
    quiet = bool(ctx and ctx.find_root().obj and ctx.find_root().obj.get("quiet"))
    if quiet:
        return
    for line in notes:
        click.echo(line, err=True)
    for path in written:
        click.echo(f"wrote {path}", err=True)


def _start(outputs: list[str | None], overwrite: bool) -> None:
    from skyscan.analytics.output import check_writable

    for out in outputs:
        if out is not None:
            check_writable(out, overwrite)


def _common(func: F) -> F:
    func = click.option("--overwrite", is_flag=True, help="Replace existing outputs.")(func)
    return click.option(
        "--detections-crs",
        default=None,
        metavar="CRS",
        help="CRS of a detections file that declares none (normally EPSG:4326).",
    )(func)


def _output(func: F) -> F:
    """``-o/--output OUTPUT``, the convention of every command; the older trailing
    positional OUTPUT is still accepted."""
    func = click.argument(
        "output_arg", metavar="[OUTPUT]", required=False, type=click.Path(dir_okay=False)
    )(func)
    return click.option(
        "-o",
        "--output",
        "output_opt",
        default=None,
        type=click.Path(dir_okay=False),
        help="Output file; its extension picks the format (.parquet, .geojson, .csv).",
    )(func)


def _pick_output(output_opt: str | None, output_arg: str | None) -> str:
    if output_opt is not None and output_arg is not None and output_opt != output_arg:
        raise click.UsageError(
            f"give the output once: -o {output_opt!r} or {output_arg!r}, not both"
        )
    output = output_opt if output_opt is not None else output_arg
    if output is None:
        raise click.UsageError(
            "missing the output: give -o/--output OUTPUT (e.g. -o result.parquet)"
        )
    return output


def _read(detections: str, detections_crs: str | None) -> gpd.GeoDataFrame:
    from skyscan.analytics.frames import read_detections

    return read_detections(detections, crs=detections_crs)


@click.command("within")
@click.argument("detections", type=click.Path(dir_okay=False))
@click.argument("area")
@_output
@click.option(
    "--area-crs",
    default=None,
    metavar="CRS",
    help="CRS of an area without one (WKT, shapefile without .prj).",
)
@click.option("--layer", default=None, help="Layer of a multi-layer file (GeoPackage).")
@click.option(
    "--using",
    type=click.Choice(["centroid", "footprint"]),
    default="centroid",
    show_default=True,
    help="Test each detection's centre point or its footprint box.",
)
@click.option(
    "--predicate",
    type=click.Choice(["intersects", "within"]),
    default="intersects",
    show_default=True,
    help="'intersects' keeps detections touching the area; 'within' only those entirely inside.",
)
@_common
def within_command(
    detections: str,
    area: str,
    output_opt: str | None,
    output_arg: str | None,
    area_crs: str | None,
    layer: str | None,
    using: str,
    predicate: str,
    overwrite: bool,
    detections_crs: str | None,
) -> None:
    """Keep the DETECTIONS inside AREA (a GeoJSON, GeoParquet, shapefile or GeoPackage
    path, or a WKT polygon) and write them to OUTPUT (``-o``)."""
    from skyscan.analytics.areas import read_areas
    from skyscan.analytics.output import write_table
    from skyscan.analytics.within import within_area

    output = _pick_output(output_opt, output_arg)
    with _errors():
        _start([output], overwrite)
        areas = read_areas(area, crs=area_crs, layer=layer, crs_flag="area-crs")
        result = within_area(
            _read(detections, detections_crs), areas, using=using, predicate=predicate
        )
        path = write_table(result.table, output, overwrite=overwrite)
    _report(result.notes, [path])


@click.command("join")
@click.argument("detections", type=click.Path(dir_okay=False))
@click.argument("zones")
@_output
@click.option(
    "--zones-crs",
    default=None,
    metavar="CRS",
    help="CRS of zones without one (WKT, shapefile without .prj).",
)
@click.option("--layer", default=None, help="Layer of a multi-layer file (GeoPackage).")
@click.option(
    "--using", type=click.Choice(["centroid", "footprint"]), default="centroid", show_default=True
)
@click.option(
    "--predicate",
    type=click.Choice(PREDICATES),
    default="intersects",
    show_default=True,
    help="Relation of the detection to the zone; 'dwithin' needs --distance-m.",
)
@click.option(
    "--distance-m", type=FINITE, default=None, help="Distance in metres for --predicate dwithin."
)
@click.option(
    "--how",
    type=click.Choice(["inner", "left"]),
    default="inner",
    show_default=True,
    help="'left' keeps detections in no zone (zone columns empty).",
)
@click.option(
    "--zone-column",
    "zone_columns",
    multiple=True,
    help="Zone attribute to carry (repeatable; default all).",
)
@_common
def join_command(
    detections: str,
    zones: str,
    output_opt: str | None,
    output_arg: str | None,
    zones_crs: str | None,
    layer: str | None,
    using: str,
    predicate: str,
    distance_m: float | None,
    how: str,
    zone_columns: tuple[str, ...],
    overwrite: bool,
    detections_crs: str | None,
) -> None:
    """Join DETECTIONS with ZONES (polygons; any geometry for dwithin) and write each
    detection with its zone's attributes (``zone_*`` columns) to OUTPUT."""
    from skyscan.analytics.areas import read_areas
    from skyscan.analytics.join import check_predicate, spatial_join
    from skyscan.analytics.output import write_table

    output = _pick_output(output_opt, output_arg)
    with _errors():
        check_predicate(predicate, distance_m)
        _start([output], overwrite)
        areas = read_areas(zones, crs=zones_crs, layer=layer, polygons_only=predicate != "dwithin")
        result = spatial_join(
            _read(detections, detections_crs),
            areas,
            using=using,
            predicate=predicate,
            distance_m=distance_m,
            how=how,
            zone_columns=list(zone_columns) or None,
        )
        path = write_table(result.table, output, overwrite=overwrite)
    _report(result.notes, [path])


@click.command("aggregate")
@click.argument("detections", type=click.Path(dir_okay=False))
@_output
@click.option("--zones", default=None, help="Count per zone of this file (or WKT).")
@click.option("--zones-crs", default=None, metavar="CRS", help="CRS of zones without one.")
@click.option("--layer", default=None, help="Layer of a multi-layer zones file (GeoPackage).")
@click.option(
    "--h3-res", type=int, default=None, help="Count per H3 cell at this resolution (0-15)."
)
@click.option(
    "--by",
    multiple=True,
    help="Also group by this column, e.g. class_name, meta_capture_date (repeatable).",
)
@click.option(
    "--pivot",
    default=None,
    help="Turn one --by column into count columns (e.g. two capture dates side by side).",
)
@_common
def aggregate_command(
    detections: str,
    output_opt: str | None,
    output_arg: str | None,
    zones: str | None,
    zones_crs: str | None,
    layer: str | None,
    h3_res: int | None,
    by: tuple[str, ...],
    pivot: str | None,
    overwrite: bool,
    detections_crs: str | None,
) -> None:
    """Count DETECTIONS per zone (--zones), per H3 cell (--h3-res) or per columns only
    (--by), and write the counts to OUTPUT."""
    from skyscan.analytics.aggregate import (
        aggregate_by_columns,
        aggregate_by_h3,
        aggregate_by_zone,
        pivot_counts,
    )
    from skyscan.analytics.areas import read_areas
    from skyscan.analytics.output import write_table
    from skyscan.errors import InputError

    output = _pick_output(output_opt, output_arg)
    with _errors():
        if zones is not None and h3_res is not None:
            raise InputError("give either --zones or --h3-res, not both")
        if zones is None and h3_res is None and not by:
            raise InputError("nothing to aggregate by: give --zones, --h3-res or --by")
        if pivot is not None and pivot not in by:
            raise InputError(f"--pivot {pivot!r} must also be given as --by (got --by {list(by)})")
        _start([output], overwrite)
        if h3_res is not None:
            from skyscan.analytics.h3cells import check_resolution

            check_resolution(h3_res)
        frame = _read(detections, detections_crs)
        if zones is not None:
            result = aggregate_by_zone(frame, read_areas(zones, crs=zones_crs, layer=layer), by)
        elif h3_res is not None:
            result = aggregate_by_h3(frame, h3_res, by)
        else:
            result = aggregate_by_columns(frame, by)
        table = pivot_counts(result.table, pivot) if pivot is not None else result.table
        path = write_table(table, output, overwrite=overwrite)
    _report(result.notes, [path])


@click.command("cluster")
@click.argument("detections", type=click.Path(dir_okay=False))
@_output
@click.option("--eps-m", type=FINITE, required=True, help="DBSCAN neighbourhood radius in metres.")
@click.option(
    "--min-samples",
    type=int,
    default=3,
    show_default=True,
    help="Detections needed to form a cluster core.",
)
@click.option(
    "--clusters",
    "clusters_output",
    default=None,
    type=click.Path(dir_okay=False),
    help="Also write the cluster table (hull polygon, size, classes) here.",
)
@_common
def cluster_command(
    detections: str,
    output_opt: str | None,
    output_arg: str | None,
    eps_m: float,
    min_samples: int,
    clusters_output: str | None,
    overwrite: bool,
    detections_crs: str | None,
) -> None:
    """Cluster DETECTIONS with DBSCAN (distance in metres) and write them with a
    ``cluster_id`` (-1: noise) to OUTPUT; --clusters writes one row per cluster."""
    from skyscan.analytics.cluster import cluster_detections
    from skyscan.analytics.output import write_table

    output = _pick_output(output_opt, output_arg)
    with _errors():
        _start([output, clusters_output], overwrite)
        result = cluster_detections(
            _read(detections, detections_crs), eps_m=eps_m, min_samples=min_samples
        )
        written = [write_table(result.detections, output, overwrite=overwrite)]
        if clusters_output is not None:
            written.append(write_table(result.clusters, clusters_output, overwrite=overwrite))
    _report(result.notes, written)
