"""A detection run: inputs → engine → outputs in OUTDIR, resumable.

OUTDIR holds ``detections.parquet`` (GeoParquet, EPSG:4326), ``detections.geojson``,
``errors.parquet`` (one row per input that failed) and ``run.json`` (the manifest).
While a run is under way it also holds ``_parts/`` (checkpoints, see
:mod:`skyscan.run_state`); a finished run removes it, unless some input failed for a
passing reason (a server error, a cut connection) that ``--resume`` can try again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import platform
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from skyscan.errors import InputError, OutputExistsError
from skyscan.io.mosaic import MOSAIC_DIR, mosaic_inputs
from skyscan.io.remote import display_path
from skyscan.io.sources import InputFailure, expand_inputs, unique_image_ids
from skyscan.io.writers import write_geojson, write_geoparquet, write_json, write_parquet
from skyscan.options import RunSettings
from skyscan.pipeline import DetectOptions
from skyscan.run_lock import LOCK_FILE, output_lock
from skyscan.run_state import (
    PARTS_DIR,
    STATE_FILE,
    PartStore,
    error_table,
    load_state,
    new_run_id,
    save_state,
)
from skyscan.text import plural
from skyscan.types import JsonObject

if TYPE_CHECKING:
    from skyscan.io.stac import StacQuery

logger = logging.getLogger(__name__)

OUTPUT_FILES = (
    "detections.parquet",
    "detections.geojson",
    "errors.parquet",
    "run.json",
    "map.html",
    "stac_items.parquet",
)

# Exit codes of `skyscan detect` (documented in the README).
EXIT_OK = 0
EXIT_SOME_FAILED = 3


@dataclass(frozen=True)
class RunResult:
    outdir: Path
    run_id: str
    n_inputs: int
    n_images_ok: int
    n_failed: int
    n_detections: int
    manifest: JsonObject
    #: (path, stage, error type, message) of every input that failed, in input order
    failures: tuple[tuple[str, str, str, str], ...] = ()
    #: ``resume`` found the run already finished and left its outputs as they were
    already_finished: bool = False

    @property
    def exit_code(self) -> int:
        return EXIT_SOME_FAILED if self.n_failed else EXIT_OK


def prepare_outdir(outdir: Path, *, overwrite: bool, resume: bool) -> JsonObject | None:
    """Refuse to clobber an existing OUTDIR unless asked; return resume state if any.

    Call it holding OUTDIR's lock (:func:`skyscan.run_lock.output_lock`), which also
    creates OUTDIR: the temporary files it removes can then only be a killed run's.
    """
    if outdir.exists() and not outdir.is_dir():
        raise OutputExistsError(f"{outdir}: exists and is not a directory")
    existing = outdir.is_dir() and any(p.name != LOCK_FILE for p in outdir.iterdir())
    if existing and not (overwrite or resume):
        raise OutputExistsError(
            f"{outdir}: output directory is not empty; pass --overwrite to replace it or "
            "--resume to finish an interrupted run"
        )
    if existing and overwrite:
        for name in OUTPUT_FILES:
            (outdir / name).unlink(missing_ok=True)
        shutil.rmtree(outdir / PARTS_DIR, ignore_errors=True)
        shutil.rmtree(outdir / MOSAIC_DIR, ignore_errors=True)
    if existing:
        remove_temp_files(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    return load_state(outdir) if resume else None


def check_can_start(options: DetectOptions, engine: str) -> None:
    """Raise now what would fail a run before its first image: a model that does not load,
    Spark without Java. ``--overwrite`` calls it before deleting the previous outputs."""
    from skyscan.detectors import get_detector

    get_detector.__wrapped__(options.recipe)  # built and dropped: the engines build their own
    if engine == "spark":
        from skyscan.engines.spark_session import check_java

        check_java()


def remove_temp_files(outdir: Path) -> list[Path]:
    """Delete the temporary files a killed run left in OUTDIR and its parts (``.*.tmp``,
    see :func:`skyscan.io.writers.atomic_path`); return them."""
    found = [
        p
        for d in (outdir, outdir / PARTS_DIR)
        if d.is_dir()
        for p in d.glob(".*.tmp")
        if p.is_file()
    ]
    for path in found:
        path.unlink(missing_ok=True)
    if found:
        logger.info("%s: removed %d temporary files of an interrupted run", outdir, len(found))
    return found


def _undo_start(outdir: Path, created: bool, *, own_state: bool) -> None:
    """Leave OUTDIR as the run found it when the run fails before its first image: no
    ``_parts/state.json`` of its own (``own_state``) that would refuse the corrected
    command, and no folder it created. An earlier run's state stays."""
    parts = outdir / PARTS_DIR
    if own_state and (not parts.is_dir() or all(p.name == STATE_FILE for p in parts.iterdir())):
        shutil.rmtree(parts, ignore_errors=True)
        shutil.rmtree(outdir / MOSAIC_DIR, ignore_errors=True)  # built for this run only
    if created and outdir.is_dir() and all(p.name == LOCK_FILE for p in outdir.iterdir()):
        (outdir / LOCK_FILE).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            outdir.rmdir()


def _options_digest(options: DetectOptions) -> str:
    """A fingerprint of the options that decide *what* a run finds (not how fast)."""
    fields = asdict(options)
    for speed_only in ("batch_size", "chips_per_unit"):
        fields.pop(speed_only, None)
    fields["recipe"] = {k: v for k, v in fields["recipe"].items() if k != "threads"}
    return hashlib.sha256(repr(fields).encode()).hexdigest()[:16]


def run_detect(
    inputs: Sequence[str | Path],
    outdir: str | Path,
    options: DetectOptions | None = None,
    run: RunSettings | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    on_paths: Callable[[int], None] | None = None,
    stac: Sequence[StacQuery] = (),
) -> RunResult:
    """Run detection over ``inputs`` and write every output to ``outdir``.

    ``options`` decide what is found (:meth:`skyscan.options.DetectSettings.detect_options`
    builds them), ``run`` which inputs, which engine and what to do with an existing
    OUTDIR; ``progress`` is called with each finished image's path, ``on_paths`` once with
    the number of images. Options are checked against the model's card before OUTDIR is touched; OUTDIR is
    locked for the run (a second run on it raises :class:`OutputLockedError`); a run that
    fails before its first image leaves OUTDIR as it found it. With ``run.mosaic`` the images
    that are not VRTs are detected as one mosaic (:mod:`skyscan.io.mosaic`), written to
    ``OUTDIR/mosaics/NAME.vrt``; a ``.vrt`` input is a mosaic with or without it.
    ``stac``: STAC queries whose items are read too (:mod:`skyscan.io.stac`); with
    ``run.mosaic`` the items' images are tiles of the mosaic, each row carrying its tile's
    item attributes.
    """
    options = options or DetectOptions()
    run = run or RunSettings()
    from skyscan.detectors import recipe_card

    options.check_against(recipe_card(options.recipe))
    if run.overwrite:  # the old outputs are deleted next: they must outlive a run that cannot start
        check_can_start(options, run.engine)
    outdir = Path(outdir)
    started, run_t0 = time.time(), time.perf_counter()
    with output_lock(outdir) as created:
        fresh = False  # True once OUTDIR is prepared for a new run (no earlier run's state)
        try:
            state = prepare_outdir(outdir, overwrite=run.overwrite, resume=run.resume)
            fresh = state is None
            return _run_locked(
                inputs,
                outdir,
                options,
                state,
                run,
                progress=progress,
                on_paths=on_paths,
                started=started,
                run_t0=run_t0,
                stac=stac,
            )
        except BaseException:
            _undo_start(outdir, created, own_state=fresh)
            raise


def _run_locked(
    inputs: Sequence[str | Path],
    outdir: Path,
    options: DetectOptions,
    state: JsonObject | None,
    run: RunSettings,
    *,
    progress: Callable[[str], None] | None,
    on_paths: Callable[[int], None] | None,
    started: float,
    run_t0: float,
    stac: Sequence[StacQuery] = (),
) -> RunResult:
    """The run itself, in a prepared OUTDIR whose lock this process holds."""
    digest = _options_digest(options)
    if stac:
        from skyscan.io import stac as stac_io

        digest = hashlib.sha256(f"{digest}{stac_io.digest(stac)}".encode()).hexdigest()[:16]
    engine = run.engine
    if run.mosaic:  # other images to detect: a resume must not mix the two
        digest = hashlib.sha256(f"{digest}:mosaic".encode()).hexdigest()[:16]
    if run.resume and state is None and (outdir / "run.json").is_file():
        # checkpoints without their state: a kill while the finished run removed them
        shutil.rmtree(outdir / PARTS_DIR, ignore_errors=True)
        return _finished_run(outdir, inputs, digest)
    paths, failures = expand_inputs(
        inputs, recursive=run.recursive, sample_ratio=run.sample_ratio, seed=run.seed
    )
    if state is not None:
        run_id = str(state["run_id"])
        if state.get("options_digest") != digest:
            # Finished parts were made with the old options: mixing them with new ones would
            # give a table no single run produces (and a run.json that describes neither).
            raise InputError(
                f"{outdir}: cannot resume: the interrupted run used different options "
                "(model, score threshold, overlap, CRS/GSD or metadata); run again with the "
                "same options, or pass --overwrite to start over"
            )
        logger.info("resuming run %s in %s", run_id, outdir)
    else:
        run_id = new_run_id()
    image_ids = unique_image_ids(paths)
    stac_record = None
    if stac:
        paths, failures, image_ids, options, stac_record = _with_stac(
            stac, outdir, paths, failures, image_ids, options, run.sample_ratio, run.seed
        )
    if run.mosaic:  # after STAC: the items' images are tiles too
        paths, tile_failures = mosaic_inputs(paths, inputs, outdir / MOSAIC_DIR)
        failures = [*failures, *tile_failures]
        image_ids = unique_image_ids(paths)
    save_state(outdir, {"run_id": run_id, "options_digest": digest, "engine": engine})
    logger.info(
        "run %s: %s from %s (%d matched nothing), engine %s",
        run_id,
        plural(len(paths), "image"),
        plural(len(inputs), "input"),
        len(failures),
        engine,
    )
    if on_paths:
        on_paths(len(paths))

    store = PartStore(outdir, run_id)
    t0 = time.perf_counter()
    if engine == "local":
        from skyscan.engines.local.driver import run_local

        timings = run_local(paths, image_ids, options, store, run_id, progress)
    else:
        from skyscan.engines.spark.driver import run_detect as run_spark

        summary = run_spark(
            paths,
            options,
            outdir,
            master=run.master,
            run_id=run_id,
            store=store,
            image_ids=image_ids,
            progress=progress,
        )
        timings = {k: float(v) for k, v in summary.items() if k.endswith("_s")}
    timings["engine_total"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    detections, errors = store.collect(paths)
    if failures:
        errors = pa.concat_tables(
            [
                error_table(
                    run_id,
                    [(f.path, f.stage, type(f.error).__name__, str(f.error)) for f in failures],
                ),
                errors,
            ]
        )
    # GeoJSON is encoded in Python (holding the GIL) while the Parquet files are encoded
    # and compressed by Arrow (which releases it), so the two run side by side.
    with ThreadPoolExecutor(1) as side:
        geojson_done = (
            side.submit(write_geojson, detections, outdir / "detections.geojson")
            if run.geojson
            else None
        )
        write_geoparquet(detections, outdir / "detections.parquet")
        write_parquet(errors, outdir / "errors.parquet")
        if geojson_done is not None:
            geojson_done.result()
    timings["write_outputs"] = time.perf_counter() - t1
    # the whole job in this process (inputs, engine, outputs; not the interpreter's start
    # or the imports before it): a fresh command's wall time minus this is its fixed cost
    timings["run_total"] = time.perf_counter() - run_t0

    n_failed = errors.num_rows
    skipped = store.skipped(paths)
    n_ok = len(paths) - (n_failed - len(failures)) - len(skipped)
    manifest = _manifest(
        run_id,
        inputs,
        paths,
        options,
        detections,
        errors,
        n_ok,
        timings,
        started,
        engine,
        run.resume,
    )
    manifest["counts"]["images_skipped"] = len(skipped)
    manifest["skipped"] = skipped
    manifest["options_digest"] = digest  # what a later --resume compares with
    if stac_record is not None:
        manifest["stac"] = stac_record
    write_json(manifest, outdir / "run.json")
    # a finished run leaves only its documented outputs: the checkpoints have done their
    # job, unless some input failed for a passing reason and --resume can still try it
    if not store.pending_retries():
        shutil.rmtree(outdir / PARTS_DIR, ignore_errors=True)
    logger.info(
        "run %s: %d detections in %d images, %d failed; outputs in %s",
        run_id,
        detections.num_rows,
        n_ok,
        n_failed,
        outdir,
    )
    return RunResult(
        outdir,
        run_id,
        len(paths) + len(failures),
        n_ok,
        n_failed,
        detections.num_rows,
        manifest,
        _failure_records(errors),
    )


def _with_stac(
    stac: Sequence[StacQuery],
    outdir: Path,
    paths: list[str],
    failures: list[InputFailure],
    image_ids: dict[str, str],
    options: DetectOptions,
    sample_ratio: float | None,
    seed: int,
) -> tuple[list[str], list[InputFailure], dict[str, str], DetectOptions, JsonObject]:
    """Add the STAC items' images; their attributes go to OUTDIR/stac_items.parquet, read
    as the run's metadata table (by the executors too)."""
    from dataclasses import replace

    from skyscan.io import stac as stac_io

    if options.read.metadata_table is not None:
        raise InputError(
            "a metadata table cannot be combined with STAC inputs (their items' "
            "properties are the metadata: choose them with --stac-properties)"
        )
    got = stac_io.gather(
        paths, failures, image_ids, stac, options.aoi, sample_ratio=sample_ratio, seed=seed
    )
    if got.attributes:
        table = stac_io.write_table(got, outdir / stac_io.TABLE_NAME)
        options = replace(options, read=replace(options.read, metadata_table=str(table.resolve())))
    logger.info(
        "STAC: %s, %d failed, %d outside the area or bbox (not opened)",
        plural(len(got.stac.images), "item"),
        len(got.stac.failures),
        len(got.stac.skipped),
    )
    return got.paths, got.failures, got.image_ids, options, got.stac.record(stac)


def _failure_records(errors: pa.Table) -> tuple[tuple[str, str, str, str], ...]:
    if not errors.num_rows:
        return ()
    columns = [
        errors.column(name).to_pylist() for name in ("path", "stage", "error_type", "message")
    ]
    return tuple(zip(*columns, strict=True))


def _finished_run(outdir: Path, inputs: Sequence[str | Path], digest: str) -> RunResult:
    """``resume`` of a run that already finished: nothing to redo when it had the same
    inputs and options; anything else is refused, as its checkpoints are gone."""
    manifest: JsonObject = json.loads((outdir / "run.json").read_text(encoding="utf-8"))
    if manifest.get("options_digest") != digest or manifest.get("inputs") != [
        str(i) for i in inputs
    ]:
        raise InputError(
            f"{outdir}: cannot resume: the run there finished with different options or inputs; "
            "pass --overwrite to start over, or choose another output directory"
        )
    logger.info("run %s in %s had finished; nothing to resume", manifest["run_id"], outdir)
    counts = manifest["counts"]
    failures: tuple[tuple[str, str, str, str], ...] = ()
    if counts["failed"]:
        from skyscan import arrow_arrays

        failures = _failure_records(arrow_arrays.read_parquet(outdir / "errors.parquet"))
    images = set(manifest["images"])
    n_inputs = len(images) + sum(1 for f in failures if f[0] not in images)
    return RunResult(
        outdir,
        str(manifest["run_id"]),
        n_inputs,
        counts["images_ok"],
        counts["failed"],
        counts["detections"],
        manifest,
        failures,
        already_finished=True,
    )


def _manifest(
    run_id: str,
    inputs: Sequence[str | Path],
    paths: list[str],
    options: DetectOptions,
    detections: pa.Table,
    errors: pa.Table,
    n_ok: int,
    timings: dict[str, float],
    started: float,
    engine: str,
    resumed: bool,
) -> JsonObject:
    from skyscan.detectors import recipe_card

    # the card alone: get_detector(options.recipe) would build a second ONNX session, as the
    # engines ran with their own thread count in the recipe
    card = recipe_card(options.recipe)
    classes = (
        Counter(detections.column("class_name").to_pylist()) if detections.num_rows else Counter()
    )
    in_range = detections.column("in_validated_range").to_pylist() if detections.num_rows else []
    outside = sorted(
        {
            p
            for p, ok in zip(detections.column("image_path").to_pylist(), in_range, strict=True)
            if ok is False
        }
    )
    return {
        "run_id": run_id,
        "skyscan_version": _version("skyscan"),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "engine": engine,
        "resumed": resumed,
        "inputs": [display_path(str(i)) for i in inputs],
        "images": [display_path(p) for p in paths],
        "counts": {
            "images": len(paths),
            "images_ok": n_ok,
            "failed": errors.num_rows,
            "detections": detections.num_rows,
            "detections_by_class": dict(sorted(classes.items())),
            # rows whose image lies outside the model's validated range (null: GSD unknown)
            "detections_in_validated_range": {
                "true": in_range.count(True),
                "false": in_range.count(False),
                "null": in_range.count(None),
            },
        },
        "images_outside_validated_range": outside,
        "model": {
            "id": card.model_id,
            "path": str(options.recipe.model),
            "gsd": card.gsd,
            "input_size": list(card.input_size),
            "classes": card.class_names,
            "validated": card.validated.to_dict() if card.validated else None,
        },
        "options": _options_record(options),
        # what the defaults came to for this model (chip side in model px, overlap fraction
        # of it; with "fitted", the largest side, each image's chips fitted under it)
        "chips": {
            "size": card.chip_size(options.chip_size),
            "fitted": options.fits_chips_for(card),
            "overlap": round(options.overlap_for(card), 4),
            "max_object_m": card.max_object_m,
        },
        "versions": {
            name: _version(name)
            for name in ("numpy", "pyarrow", "rasterio", "shapely", "pyproj", "onnxruntime")
        }
        | {"python": platform.python_version(), "gdal": _gdal_version()},
        "timings_s": {k: round(v, 4) for k, v in timings.items()},
    }


def _options_record(options: DetectOptions) -> JsonObject:
    """The options as JSON values (the area of interest as its source, CRS and bounds)."""
    record = asdict(options)
    if options.aoi is not None:
        import shapely

        geom = options.aoi.geometry
        record["aoi"] = {
            "source": options.aoi.source,
            "crs": options.aoi.crs,
            "bounds": list(shapely.bounds(geom)),
            "vertices": int(shapely.get_num_coordinates(geom)),
        }
    return record


def _version(name: str) -> str | None:
    """The installed version of package ``name``.

    A module the run already imported answers with its ``__version__`` (the packages
    listed in the manifest all set it); ``importlib.metadata``, which scans the installed
    distributions and so slows every command's start, is the fallback.
    """
    loaded = getattr(sys.modules.get(name), "__version__", None)
    if isinstance(loaded, str):
        return loaded
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _gdal_version() -> str:
    import rasterio

    return str(rasterio.__gdal_version__)
