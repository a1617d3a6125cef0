"""``skyscan detect``: the main job."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from skyscan.cli.options import require_inputs, settings_options
from skyscan.cli.progress import Progress
from skyscan.errors import SkyscanError
from skyscan.options import DetectSettings, RunSettings, StacSettings


@click.command("detect")
@click.argument("inputs", nargs=-1)
@click.option(
    "-o",
    "--output",
    "outdir",
    required=True,
    type=click.Path(path_type=Path),
    help="Output directory.",
)
@settings_options(DetectSettings)
@settings_options(RunSettings)
@settings_options(StacSettings)
@click.option("--map", "make_map", is_flag=True, help="Write OUTDIR/map.html as the last step.")
@click.pass_context
def detect_command(
    ctx: click.Context, inputs: tuple[str, ...], outdir: Path, make_map: bool, **values: Any
) -> None:
    """Find vehicles in INPUTS (files, directories, globs, URLs) and the --stac items; write detections to OUTDIR.

    Exit codes: 0 every input succeeded; 3 some inputs failed (see OUTDIR/errors.parquet);
    1 the run could not start or finish (message on stderr); 2 usage error.
    """
    if values["overwrite"] and values["resume"]:  # named as the flags, not as RunSettings' fields
        raise click.UsageError("choose one of --overwrite and --resume (got both)")
    require_inputs(inputs, values["stac"])
    from skyscan.run import run_detect

    quiet = bool(ctx.find_root().obj and ctx.find_root().obj.get("quiet"))
    bar: Progress | None = None

    def on_paths(n: int) -> None:
        nonlocal bar
        if not quiet:
            bar = Progress(total=n, desc="detect", unit="img")

    def progress(_path: str) -> None:
        if bar is not None:
            bar.update(1)

    try:
        # Option values the library refuses (a CRS pyproj does not know, a metadata table
        # without a key column, a bad XML mapping) are usage errors: exit code 2.
        run = RunSettings.pick(values)
        options = DetectSettings.pick(values).detect_options()
        stac = StacSettings.pick(values).queries()
    except SkyscanError as exc:
        raise click.UsageError(str(exc)) from exc
    from skyscan.detectors import recipe_card

    try:
        card = recipe_card(options.recipe)
    except SkyscanError as exc:  # a missing or broken model: the run cannot start
        _fail(exc)
    try:
        # a chip size or edge pad this model cannot run: refused before any image is opened
        options.check_against(card)
    except SkyscanError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        result = run_detect(
            list(inputs), outdir, options, run, progress=progress, on_paths=on_paths, stac=stac
        )
        if bar is not None:
            bar.close()
        if make_map:
            from skyscan.io.remote import is_remote
            from skyscan.viz import make_map as build_map

            local = [p for p in result.manifest["images"] if not is_remote(p)]  # never downloads
            build_map(outdir / "detections.parquet", outdir / "map.html", imagery=local)
    except (
        SkyscanError,
        OSError,
    ) as exc:  # OSError: an output that cannot be written (a full disk)
        if bar is not None:
            bar.close()
        _fail(exc)
    from skyscan.text import plural

    counts = result.manifest["counts"]
    # every failed input on stderr with its reason (also with -q: these are errors)
    for path, stage, error_type, message in result.failures:
        click.echo(f"FAILED {path} ({stage}): {error_type}: {message}", err=True)
    if not quiet:
        skipped = (
            f", {counts['images_skipped']} outside the area of interest"
            if counts.get("images_skipped")
            else ""
        )
        if result.already_finished:
            click.echo(f"nothing to resume: the run in {outdir} had finished", err=True)
        click.echo(
            f"{plural(counts['detections'], 'detection')} in {plural(counts['images_ok'], 'image')} "
            f"({counts['failed']} failed{skipped}) -> {outdir}",
            err=True,
        )
        outside = result.manifest["counts"]["detections_in_validated_range"]["false"]
        if outside:
            n_images = len(result.manifest["images_outside_validated_range"])
            click.echo(
                f"warning: {plural(outside, 'detection')} in {plural(n_images, 'image')} outside the model's validated range "
                "(flagged in_validated_range=false; see run.json)",
                err=True,
            )
        if make_map:
            click.echo(f"map: {outdir / 'map.html'}", err=True)
    if run.engine == "local":
        from skyscan.cli import finish

        finish(result.exit_code)  # every output is in place: the process may skip its teardown
    sys.exit(result.exit_code)  # a Spark session is stopped at exit


def _fail(exc: BaseException) -> NoReturn:
    """The run could not start or finish: one line on stderr, exit code 1."""
    click.echo(f"skyscan detect: error: {exc}", err=True)
    sys.exit(1)
