"""``skyscan plan``: what ``skyscan detect`` would read (images, chips, megapixels, bytes,
time), from headers only."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from skyscan.cli.options import require_inputs, settings_options
from skyscan.cli.params import FiniteFloat
from skyscan.errors import SkyscanError
from skyscan.options import DetectSettings, RunSettings, StacSettings

EXIT_SOME_FAILED = 3


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


@click.command("plan")
@click.argument("inputs", nargs=-1)
@settings_options(DetectSettings)
@settings_options(RunSettings, only=("recursive", "mosaic"))
@settings_options(StacSettings)
@click.option(
    "--rate",
    type=FiniteFloat(0, min_open=True),
    default=None,
    help="Model megapixels per second to estimate the time with [default: measured here, the model alone on in-memory chips].",
)
@click.option(
    "--no-bytes",
    is_flag=True,
    help="Skip the file sizes and touched-tile bytes (one request less per remote image).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per image (JSON lines), then the totals.",
)
def plan_command(
    inputs: tuple[str, ...],
    recursive: bool,
    mosaic: bool,
    rate: float | None,
    no_bytes: bool,
    as_json: bool,
    **values: Any,
) -> None:
    """List what `skyscan detect INPUTS` (and the --stac items) would read, without reading pixels.

    Per image: size, chips, megapixels, bytes; then the totals and the time at a
    measured model rate (a lower bound). Exits 3 when some inputs could not be opened.
    """
    from skyscan.io.sources import InputFailure
    from skyscan.plan import PlanTotals, measure_rate, plan_run

    require_inputs(inputs, values["stac"])
    try:
        options = DetectSettings.pick(values).detect_options()
        stac = StacSettings.pick(values).queries()
    except SkyscanError as exc:
        raise click.UsageError(str(exc)) from exc
    totals = PlanTotals()
    try:
        for item in plan_run(
            list(inputs),
            options,
            recursive=recursive,
            with_bytes=not no_bytes,
            mosaic=mosaic,
            stac=stac,
        ):
            totals.add(item)
            if isinstance(item, InputFailure):
                from skyscan.io.remote import display_path, redact

                record = {
                    "path": display_path(item.path),
                    "ok": False,
                    "message": redact(item.message),
                }
                click.echo(
                    json.dumps(record)
                    if as_json
                    else f"{record['path']}: FAILED {record['message']}"
                )
                continue
            if as_json:
                click.echo(json.dumps(item.to_dict()))
            else:
                what = (
                    f"{item.chips} chips of up to {item.chip_px} px"
                    if item.chips
                    else "outside the area of interest (skipped)"
                )
                read = f", reads {_size(item.read_bytes)}" if item.read_bytes else ""
                click.echo(
                    f"{item.path}: {item.width} x {item.height} px, {what}, "
                    f"{item.model_megapixels:.1f} model MP{read}"
                )
        totals.rate_model_mps = rate or (measure_rate(options) if totals.chips else None)
    except SkyscanError as exc:
        click.echo(f"skyscan plan: error: {exc}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps({"totals": totals.to_dict()}))
    else:
        est = totals.estimated_s
        click.echo(
            f"total: {totals.images} images ({totals.skipped} outside the area, {totals.failed} failed), "
            f"{totals.chips} chips, {totals.megapixels:.1f} MP ({totals.model_megapixels:.1f} model MP), "
            f"{_size(totals.file_bytes)} in files, {_size(totals.read_bytes)} to read"
            + (
                f"; about {est:.0f} s at {totals.rate_model_mps:.1f} model MP/s (the model alone: a lower bound)"
                if est is not None
                else ""
            )
        )
    sys.exit(EXIT_SOME_FAILED if totals.failed else 0)
