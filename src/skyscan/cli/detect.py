"""``skyscan detect``: the main job."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from skyscan.cli.options import metadata_option
from skyscan.cli.params import FiniteFloat
from skyscan.cli.progress import Progress
from skyscan.errors import SkyscanError


@click.command("detect")
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", "outdir", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--model", default="vehicles", show_default=True, help="Builtin model name or path to a .onnx with its .json card.")
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True)
@click.option("--master", default=None, help="Spark master URL (local[*], spark://HOST:PORT, ...); spark engine only.")
@click.option("--gsd", type=FiniteFloat(0, min_open=True), default=None, help="Ground sample distance (m/px) for images without georeferencing.")
@click.option("--crs", default=None, help="CRS for world files without .prj or sidecars without a CRS (e.g. EPSG:2056).")
@click.option("--require-georef", is_flag=True, help="Fail images without georeferencing instead of working in pixel space.")
@click.option("--overlap", type=FiniteFloat(0.0, 0.5), default=0.2, show_default=True, help="Fraction of a chip shared with its neighbour.")
@click.option("--chip-size", type=click.IntRange(min=1), default=None, help="Chip side in model pixels [default: the model's input size, 256 for vehicles]. Models that take any size (vehicles: multiples of 8) run larger chips faster: less overlap to recompute; lower --overlap with it (e.g. --chip-size 1024 --overlap 0.05).")
@click.option("--edge-pad", type=click.IntRange(min=0), default=None, help="Model pixels of black the chips at an image's edges reach past it [default: the model card's input.edge_pad, 32 for vehicles, the context it was trained with; 0 keeps chips inside the image].")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Chips read, normalised and decoded together [default: about 1 MP of chips, 16 of 256 px]; the model runs one chip per call.")
@click.option("--score-threshold", type=FiniteFloat(0.0, 1.0), default=None, help="Override the model card's score threshold.")
@click.option("--class-aware-merge", is_flag=True, help="Merge overlapping boxes of the same class only [default: one object, one row: overlapping boxes of any class merge, the best class wins and class_scores keeps the others].")
@click.option("--strict-range", is_flag=True, help="Refuse images outside the model's validated range (an error row each) instead of flagging their detections in_validated_range=false.")
@click.option("--recursive/--no-recursive", default=True, show_default=True, help="Descend into directories.")
@click.option("--sample-ratio", type=FiniteFloat(0.0, 1.0, min_open=True), default=None, help="Process a deterministic sample of the inputs (0-1].")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@metadata_option
@click.option("--xml-mapping", default=None, type=click.Path(exists=True, dir_okay=False), help="JSON of XPaths for vendor XML sidecars.")
@click.option("--aoi", default=None, metavar="FILE|WKT", help="Area of interest: a vector file (GeoJSON, GeoPackage...; its CRS) or WKT (EPSG:4326, or 'SRID=2056;POLYGON(...)'). Only chips that touch it are read, detections outside it are dropped, images that miss it are skipped (listed in run.json).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output directory.")
@click.option("--resume", is_flag=True, help="Finish an interrupted run in OUTDIR (same options; --batch-size may differ) without redoing finished images.")
@click.option("--geojson/--no-geojson", default=True, show_default=True, help="Also write detections.geojson.")
@click.option("--map", "make_map", is_flag=True, help="Write OUTDIR/map.html as the last step.")
@click.pass_context
def detect_command(ctx: click.Context, inputs: tuple[str, ...], outdir: Path, model: str, engine: str,
                   master: str | None, gsd: float | None, crs: str | None, require_georef: bool,
                   overlap: float, chip_size: int | None, edge_pad: int | None, batch_size: int | None, score_threshold: float | None,
                   class_aware_merge: bool, strict_range: bool, recursive: bool,
                   sample_ratio: float | None, seed: int, metadata_table: str | None,
                   xml_mapping: str | None, aoi: str | None, overwrite: bool, resume: bool, geojson: bool,
                   make_map: bool) -> None:
    """Find vehicles in INPUTS (files, directories, globs) and write detections to OUTDIR.

    Exit codes: 0 every input succeeded; 3 some inputs failed (see OUTDIR/errors.parquet);
    1 the run could not start or finish (message on stderr); 2 usage error.
    """
    if overwrite and resume:
        raise click.UsageError("choose one of --overwrite and --resume (got both)")
    from skyscan.detectors import DetectorRecipe
    from skyscan.io.reader import ReadOptions
    from skyscan.pipeline import DetectOptions
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
        mapping = None
        if xml_mapping:
            from skyscan.io.sidecar import XmlMapping

            mapping = XmlMapping.from_json(xml_mapping)
        area = None
        if aoi:
            from skyscan.geo.aoi import load_aoi

            area = load_aoi(aoi)
        options = DetectOptions(
            aoi=area,
            recipe=DetectorRecipe(model=model, score_threshold=score_threshold),
            read=ReadOptions(crs=crs, gsd=gsd, require_georef=require_georef,
                             sidecar_mapping=mapping, metadata_table=metadata_table),
            overlap=overlap,
            chip_size=chip_size,
            edge_pad=edge_pad,
            batch_size=batch_size,
            class_aware_merge=class_aware_merge,
            strict_range=strict_range,
        )
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
            list(inputs), outdir, options, recursive=recursive, sample_ratio=sample_ratio, seed=seed,
            overwrite=overwrite, resume=resume, engine=engine, master=master, geojson=geojson,
            progress=progress, on_paths=on_paths,
        )
        if bar is not None:
            bar.close()
        if make_map:
            from skyscan.io.remote import is_remote
            from skyscan.viz import make_map as build_map

            local = [p for p in result.manifest["images"] if not is_remote(p)]  # never downloads
            build_map(outdir / "detections.parquet", outdir / "map.html", imagery=local)
    except (SkyscanError, OSError) as exc:  # OSError: an output that cannot be written (a full disk)
        if bar is not None:
            bar.close()
        _fail(exc)
    from skyscan.run import plural

    counts = result.manifest["counts"]
    # every failed input on stderr with its reason (also with -q: these are errors)
    for path, stage, error_type, message in result.failures:
        click.echo(f"FAILED {path} ({stage}): {error_type}: {message}", err=True)
    if engine == "local":  # a Spark session is stopped at exit, so only the local engine
        from skyscan.cli import allow_fast_exit

        allow_fast_exit()
    if not quiet:
        skipped = f", {counts['images_skipped']} outside the area of interest" if counts.get("images_skipped") else ""
        if result.already_finished:
            click.echo(f"nothing to resume: the run in {outdir} had finished", err=True)
        click.echo(
            f"{plural(counts['detections'], 'detection')} in {plural(counts['images_ok'], 'image')} "
            f"({counts['failed']} failed{skipped}) -> {outdir}", err=True
        )
        outside = result.manifest["counts"]["detections_in_validated_range"]["false"]
        if outside:
            n_images = len(result.manifest["images_outside_validated_range"])
            click.echo(f"warning: {plural(outside, 'detection')} in {plural(n_images, 'image')} outside the model's validated range "
                       "(flagged in_validated_range=false; see run.json)", err=True)
        if make_map:
            click.echo(f"map: {outdir / 'map.html'}", err=True)
    sys.exit(result.exit_code)


def _fail(exc: BaseException) -> NoReturn:
    """The run could not start or finish: one line on stderr, exit code 1."""
    click.echo(f"skyscan detect: error: {exc}", err=True)
    sys.exit(1)
