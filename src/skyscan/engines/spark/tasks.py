"""What runs on Spark executors: thin adapters from Arrow batches to the pipeline.

Three stages, each a function over Arrow record batches (or one group's table), so
they can be unit-tested without Spark and handed to ``mapInArrow``/``applyInArrow``::

    paths ──open_and_plan──► units ──detect_units──► unit results ──finalize_group──► one packed row per image

Python objects that cross a stage (``ImageRef``, ``WorkUnit``) travel pickled in binary
columns; raw and final detections travel as Arrow IPC streams, so an intermediate row
never depends on how many ``meta_*`` columns an image has. Every image ends as exactly
one packed row: ``status`` ``"ok"`` with its detections (possibly none) or ``"error"``
with the stage, type and message of its first failure.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Iterable, Iterator

import pyarrow as pa

from skyscan import pipeline
from skyscan.detectors import Detector, DetectorRecipe, ModelCard
from skyscan.errors import IMAGE_ERRORS, UNIT_ERRORS
from skyscan.io.remote import display_path, redact
from skyscan.pipeline import DetectOptions, finalize_image, plan_units
from skyscan.run_state import OUTSIDE_AOI
from skyscan.schema import METADATA_PREFIX
from skyscan.types import JsonObject

logger = logging.getLogger(__name__)

DetectorFactory = Callable[[DetectorRecipe], Detector]
SKIPPED = "Skipped"  # error_type of an image skipped on purpose (not a failure)

PATHS_SCHEMA = pa.schema([pa.field("path", pa.string()), pa.field("image_id", pa.string())])

_ERROR_FIELDS = [
    pa.field("error_stage", pa.string()),
    pa.field("error_type", pa.string()),
    pa.field("error_message", pa.string()),
]

UNITS_SCHEMA = pa.schema(
    [
        pa.field("path", pa.string()),
        pa.field("image_id", pa.string()),
        pa.field("unit_index", pa.int32()),
        pa.field("n_units", pa.int32()),
        pa.field("n_chips", pa.int32()),
        pa.field("ref", pa.binary()),  # pickled ImageRef
        pa.field("unit", pa.binary()),  # pickled WorkUnit
        pa.field(
            "meta_keys", pa.list_(pa.string())
        ),  # the image's meta_* columns (first unit only)
        *_ERROR_FIELDS,
    ]
)

UNIT_RESULTS_SCHEMA = pa.schema(
    [
        pa.field("path", pa.string()),
        pa.field("image_id", pa.string()),
        pa.field("unit_index", pa.int32()),
        pa.field("n_units", pa.int32()),
        pa.field("ref", pa.binary()),
        pa.field("raw", pa.binary()),  # Arrow IPC of pipeline.RAW_SCHEMA rows
        *_ERROR_FIELDS,
    ]
)

PACKED_SCHEMA = pa.schema(
    [
        pa.field("path", pa.string()),
        pa.field("image_id", pa.string()),
        pa.field("status", pa.string()),  # ok | error
        pa.field("n_units", pa.int32()),  # work units the image was detected in
        pa.field("n_detections", pa.int64()),
        pa.field("detections", pa.binary()),  # Arrow IPC of the image's detection rows
        pa.field("meta_keys", pa.list_(pa.string())),
        *_ERROR_FIELDS,
    ]
)


def to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def _error_parts(stage: str, exc: BaseException) -> dict[str, str]:
    return {"error_stage": stage, "error_type": type(exc).__name__, "error_message": str(exc)}


def _image_row(path: str, image_id: str, error: dict[str, str]) -> dict[str, object]:
    """The one row of an image that gives no work units: failed, or skipped."""
    return {"path": path, "image_id": image_id, "unit_index": 0, "n_units": 1, **error}


def open_and_plan(
    batches: Iterable[pa.RecordBatch], card: ModelCard, options: DetectOptions
) -> Iterator[pa.RecordBatch]:
    """``path, image_id`` rows → one row per work unit (or one error row per bad image).

    Only headers are read here; pixels are read later, by whichever executor gets the unit.
    """
    from skyscan.io.reader import open_image

    for batch in batches:
        rows: list[dict[str, object]] = []
        for path, image_id in zip(
            batch.column("path").to_pylist(), batch.column("image_id").to_pylist(), strict=True
        ):
            try:
                # As the local engine: the run's id goes in, so a metadata table is looked up
                # by it (not by the bare stem); a sidecar/table id still wins inside.
                ref = open_image(path, options.read, image_id=image_id or None)
            except IMAGE_ERRORS as exc:
                logger.warning("%s: read failed: %s", display_path(path), redact(str(exc)))
                rows.append(_image_row(path, image_id, _error_parts("read", exc)))
                continue
            try:
                units = plan_units(ref, card, options)
            except IMAGE_ERRORS as exc:  # the local engine plans inside its detect stage
                rows.append(_image_row(path, image_id, _error_parts("detect", exc)))
                continue
            if not units:  # outside the area of interest: the driver records a skip
                skip = {"error_stage": "skip", "error_type": SKIPPED, "error_message": OUTSIDE_AOI}
                rows.append(_image_row(path, image_id, skip))
                continue
            ref_blob = pickle.dumps(ref, protocol=pickle.HIGHEST_PROTOCOL)
            keys = [METADATA_PREFIX + k for k in ref.metadata_keys]
            for unit in units:
                rows.append(
                    {
                        "path": path,
                        "image_id": ref.image_id,
                        "unit_index": unit.unit_index,
                        "n_units": unit.n_units,
                        "n_chips": len(unit.windows),
                        "ref": ref_blob,
                        "unit": pickle.dumps(unit, protocol=pickle.HIGHEST_PROTOCOL),
                        "meta_keys": keys if unit.unit_index == 0 else [],
                    }
                )
        yield pa.RecordBatch.from_pylist(rows, schema=UNITS_SCHEMA)


def detect_units(
    batches: Iterable[pa.RecordBatch],
    options: DetectOptions,
    detector_factory: DetectorFactory,
) -> Iterator[pa.RecordBatch]:
    """Work units → raw (unmerged) detections per unit, as Arrow IPC in one row per unit.

    The detector comes from ``detector_factory(options.recipe)``, which caches it per
    process (``skyscan.detectors.get_detector``): the model loads once per Python worker.
    With one ONNX thread per task (``spark.task.cpus=1``) the stages run in turn.
    Consecutive units of one image (the range partitioning keeps them together) share
    one reader, so the tiles at their boundaries are decoded once.
    """
    passthrough = [
        "path",
        "image_id",
        "unit_index",
        "n_units",
        "ref",
        "error_stage",
        "error_type",
        "error_message",
    ]
    for batch in batches:
        for run in _runs_of_one_image(batch.to_pylist()):
            outs = [{k: row[k] for k in passthrough} for row in run]
            units = [pickle.loads(row["unit"]) for row in run if row["unit"] is not None]
            if units:
                try:
                    raw = pipeline.detect_units(units, detector_factory(options.recipe), options)
                    unit_of_row = raw.column("unit_index").to_numpy()
                    for out in outs:
                        out["raw"] = to_ipc(raw.filter(unit_of_row == out["unit_index"]))
                except UNIT_ERRORS as exc:
                    logger.warning(
                        "%s: detect failed in units %s: %s",
                        run[0]["path"],
                        [u.unit_index for u in units],
                        exc,
                    )
                    for out in outs:
                        out.update(_error_parts("detect", exc))
            # One small batch per unit keeps executor memory flat on dense scenes.
            for out in outs:
                yield pa.RecordBatch.from_pylist([out], schema=UNIT_RESULTS_SCHEMA)


def _runs_of_one_image(rows: list[JsonObject]) -> Iterator[list[JsonObject]]:
    """Consecutive rows of one image's units; an error row (no unit) is a run of its own."""
    run: list[JsonObject] = []
    for row in rows:
        if run and (row["unit"] is None or run[0]["unit"] is None or row["path"] != run[0]["path"]):
            yield run
            run = []
        run.append(row)
    if run:
        yield run


def finalize_group(
    table: pa.Table, card: ModelCard, run_id: str, options: DetectOptions
) -> pa.Table:
    """All unit results of one image → one packed row (merged detections or the error)."""
    rows = sorted(table.to_pylist(), key=lambda r: r["unit_index"])
    first = rows[0]
    base = {"path": first["path"], "image_id": first["image_id"], "n_units": first["n_units"]}
    errors = [r for r in rows if r["error_type"] is not None]
    if errors:
        e = errors[0]
        return _packed_error(base, e["error_stage"], e["error_type"], e["error_message"])
    by_unit = {r["unit_index"]: r for r in rows}  # a repeated unit (never expected) counts once
    expected = int(first["n_units"])
    if sorted(by_unit) != list(range(expected)):
        # Cannot happen with Spark's exactly-once shuffle; refuse to write a partial image.
        return _packed_error(
            base,
            "detect",
            "RuntimeError",
            f"{first['path']}: got work units {sorted(by_unit)} of {expected}",
        )
    try:
        ref = pickle.loads(first["ref"])
        raw = pa.concat_tables([from_ipc(by_unit[i]["raw"]) for i in range(expected)])
        det = finalize_image(ref, raw, card, run_id, options)
    except UNIT_ERRORS as exc:
        logger.warning("%s: finalize failed: %s", first["path"], exc)
        return _packed_error(base, "detect", type(exc).__name__, str(exc))
    meta = [n for n in det.column_names if n.startswith(METADATA_PREFIX)]
    return pa.Table.from_pylist(
        [
            {
                **base,
                "image_id": ref.image_id,
                "status": "ok",
                "n_detections": det.num_rows,
                "detections": to_ipc(det),
                "meta_keys": meta,
            }
        ],
        schema=PACKED_SCHEMA,
    )


def _packed_error(base: dict[str, object], stage: str, error_type: str, message: str) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                **base,
                "status": "error",
                "n_detections": 0,
                "error_stage": stage,
                "error_type": error_type,
                "error_message": message,
            }
        ],
        schema=PACKED_SCHEMA,
    )


def unpack_detections(
    batches: Iterable[pa.RecordBatch], schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """Packed ``ok`` rows → detection rows conformed to ``schema`` (absent meta columns null)."""
    from skyscan.engines.spark.session import conform

    for batch in batches:
        status = batch.column("status").to_pylist()
        blobs = batch.column("detections").to_pylist()
        for st, blob in zip(status, blobs, strict=True):
            if st != "ok" or blob is None:
                continue
            table = from_ipc(blob)
            if table.num_rows:
                yield from conform(table, schema).to_batches()


def unpack_errors(batches: Iterable[pa.RecordBatch], run_id: str) -> Iterator[pa.RecordBatch]:
    """Packed ``error`` rows → rows of :data:`skyscan.schema.ERROR_SCHEMA` (all nullable)."""
    from skyscan.schema import ERROR_SCHEMA

    schema = pa.schema([pa.field(f.name, f.type) for f in ERROR_SCHEMA])
    for batch in batches:
        rows = [
            {
                "run_id": run_id,
                "path": r["path"],
                "stage": r["error_stage"],
                "error_type": r["error_type"],
                "message": r["error_message"],
            }
            for r in batch.select(
                ["path", "status", "error_stage", "error_type", "error_message"]
            ).to_pylist()
            if r["status"] == "error" and r["error_type"] != SKIPPED
        ]
        if rows:
            yield pa.RecordBatch.from_pylist(rows, schema=schema)
