"""``skyscan inspect``: describe images (size, bands, CRS, GSD, footprint) without reading pixels."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from skyscan.cli.options import metadata_option, require_inputs, settings_options
from skyscan.cli.params import FINITE
from skyscan.errors import SkyscanError
from skyscan.options import StacSettings
from skyscan.types import JsonObject

EXIT_SOME_FAILED = 3  # at least one input could not be described (2 is a usage error)


def _fmt_image(r: JsonObject) -> str:
    bands = f"{r['count']} x {r['dtype']}, RGB from bands {','.join(map(str, r['rgb_bands']))}"
    gsd = f"{r['gsd_m']:.3f} m" if r["gsd_m"] is not None else "unknown"
    lines = [
        r["path"],
        f"  id: {r['image_id']}",
        f"  size: {r['width']} x {r['height']} px   bands: {bands}",
        f"  crs: {r['crs'] or 'none (pixel space)'}   gsd: {gsd}   georef: {r['georef_source']}",
    ]
    if r["value_range"] is not None:
        lines.append(f"  value range -> 0..255: {r['value_range'][0]:g} .. {r['value_range'][1]:g}")
    if r["footprint_lonlat"] is not None:
        corners = " ".join(f"({lon:.6f}, {lat:.6f})" for lon, lat in r["footprint_lonlat"])
        lines.append(f"  footprint lon/lat (TL TR BR BL): {corners}")
    if r.get("model_range"):
        m = r["model_range"]
        state = {True: "inside", False: "OUTSIDE", None: "unknown"}[m["in_validated_range"]]
        why = f": {m['reason']}" if m["reason"] else ""
        lines.append(f"  model {m['model']}: {state} its validated range{why}")
    if r["metadata"]:
        lines.append("  metadata: " + ", ".join(f"{k}={v}" for k, v in r["metadata"].items()))
    return "\n".join(lines)


@click.command("inspect")
@click.argument("paths", nargs=-1)
@click.option(
    "--recursive/--no-recursive", default=True, show_default=True, help="Descend into directories."
)
@click.option(
    "--crs",
    default=None,
    help="CRS for world files without .prj or sidecars without a CRS (e.g. EPSG:2056).",
)
@click.option(
    "--gsd",
    type=FINITE,
    default=None,
    help="Ground sample distance (m/px) for images without georeferencing.",
)
@click.option(
    "--require-georef", is_flag=True, help="Report images without georeferencing as failures."
)
@metadata_option
@click.option(
    "--xml-mapping",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="JSON of XPaths for vendor XML sidecars.",
)
@click.option(
    "--model",
    default="vehicles",
    show_default=True,
    help="Say whether this model's validated range (GSD, bands) covers each image.",
)
@settings_options(StacSettings)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array instead of text.")
def inspect_command(
    paths: tuple[str, ...],
    recursive: bool,
    crs: str | None,
    gsd: float | None,
    require_georef: bool,
    metadata_table: str | None,
    xml_mapping: str | None,
    model: str,
    as_json: bool,
    **stac_values: Any,
) -> None:
    """Describe the images in PATHS (files, directories, globs, URLs) and of the --stac
    items: size, bands, dtype, CRS, GSD in metres, footprint in lon/lat and where the
    georeferencing came from (for an item, also its id, date and asked properties).

    Exits with 3 when some inputs could not be described (they are listed with the reason).
    """
    from skyscan.api_inspect import inspect

    require_inputs(paths, stac_values["stac"])
    try:
        records = inspect(
            list(paths),
            recursive=recursive,
            crs=crs,
            gsd=gsd,
            require_georef=require_georef,
            sidecar_mapping=xml_mapping,
            metadata_table=metadata_table,
            model=model,
            stac=StacSettings.pick(stac_values),
        )
    except SkyscanError as exc:  # a bad option, not a bad image
        raise click.UsageError(str(exc)) from exc
    failed = [r for r in records if not r["ok"]]
    if as_json:
        click.echo(json.dumps(records, indent=2, default=str))
    else:
        for r in records:
            if r["ok"]:
                click.echo(_fmt_image(r))
        for r in failed:
            click.echo(f"FAILED {r['path']} ({r['stage']}): {r['error_type']}: {r['message']}")
        n_ok = len(records) - len(failed)
        from skyscan.text import plural

        click.echo(f"{plural(n_ok, 'image')} described, {len(failed)} failed", err=True)
    if failed:
        sys.exit(EXIT_SOME_FAILED)
