"""Checkpoints of a detection run, so that an interrupted run resumes without duplicates.

Each finished input leaves exactly one part file in ``OUTDIR/_parts/``: its detections
(possibly none) or its error row, as an Arrow IPC file (a checkpoint only skyscan reads,
several times cheaper to write and read than a small Parquet file). Parts are written
atomically, so a part that exists is complete; resuming skips every input that has one.
The final outputs are assembled from the parts in input order, which makes a resumed
run's result equal an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pyarrow as pa

from skyscan import arrow_arrays
from skyscan.io.remote import display_path, redact
from skyscan.io.writers import write_arrow, write_json
from skyscan.schema import DETECTION_COLUMNS, ERROR_SCHEMA, empty_detections
from skyscan.types import JsonObject

PARTS_DIR = "_parts"
OUTSIDE_AOI = "outside the area of interest"  # why an image was skipped (run.json)
STATE_FILE = "state.json"


def new_run_id() -> str:
    """A fresh run id (12 random hex digits): the ``run_id`` of every row and part of a run."""
    return uuid.uuid4().hex[:12]


def part_key(path: str) -> str:
    """The part file name of an input: a hash of its path (a remote path without its query
    string, so a pre-signed URL signed again still finds its part)."""
    return hashlib.sha1(display_path(path).encode("utf-8")).hexdigest()[:20]


class PartStore:
    """The ``_parts`` folder of one output directory."""

    def __init__(self, outdir: str | Path, run_id: str) -> None:
        self.dir = Path(outdir) / PARTS_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id

    def _det(self, path: str) -> Path:
        return self.dir / f"{part_key(path)}.det.arrow"

    def _err(self, path: str) -> Path:
        return self.dir / f"{part_key(path)}.err.arrow"

    def _retry(self, path: str) -> Path:
        return self.dir / f"{part_key(path)}.retry.arrow"

    def is_done(self, path: str) -> bool:
        """A part of detections or of a lasting error exists (a transient error's part,
        such as a server that dropped the connection, is tried again on resume)."""
        return self._det(path).exists() or self._err(path).exists()

    def _skip(self, path: str) -> Path:
        return self.dir / f"{part_key(path)}.skip.json"

    def write_skip(self, path: str, reason: str) -> None:
        """An input skipped on purpose (no detections, not an error), with the reason."""
        write_json({"path": display_path(path), "reason": reason}, self._skip(path))
        self.write_detections(path, empty_detections())

    def skipped(self, paths: list[str]) -> list[dict[str, str]]:
        """``{"path", "reason"}`` of the inputs skipped on purpose, in input order."""
        out = []
        for path in paths:
            if self._skip(path).exists():
                out.append(json.loads(self._skip(path).read_text(encoding="utf-8")))
        return out

    def pending_retries(self) -> bool:
        """Some input ended in a transient error that ``--resume`` will try again."""
        return any(self.dir.glob("*.retry.arrow"))

    def has_part(self, path: str) -> bool:
        """Any part, including a transient error's: the input has its row in this run."""
        return self.is_done(path) or self._retry(path).exists()

    def write_detections(self, path: str, table: pa.Table) -> None:
        write_arrow(table, self._det(path))
        self._retry(path).unlink(missing_ok=True)

    def write_error(self, path: str, stage: str, exc: BaseException) -> None:
        self.write_error_record(
            path,
            stage,
            type(exc).__name__,
            str(exc),
            transient=bool(getattr(exc, "transient", False)),
        )

    def write_error_record(
        self, path: str, stage: str, error_type: str, message: str, *, transient: bool = False
    ) -> None:
        """An error row as plain values: what an engine that caught it elsewhere has."""
        table = error_table(self.run_id, [(path, stage, error_type, message)])
        write_arrow(table, self._retry(path) if transient else self._err(path))
        if not transient:
            self._retry(path).unlink(missing_ok=True)

    def collect(self, paths: list[str]) -> tuple[pa.Table, pa.Table]:
        """All parts in input order: (detections, errors)."""
        dets, errs = [], []
        for path in paths:
            if self._det(path).exists():
                dets.append(arrow_arrays.read_arrow(self._det(path)))
            elif self._err(path).exists():
                errs.append(arrow_arrays.read_arrow(self._err(path)))
            elif self._retry(path).exists():
                errs.append(arrow_arrays.read_arrow(self._retry(path)))
        det = pa.concat_tables([empty_detections(), *dets], promote_options="default")
        # Contract columns first, then meta_* sorted: the same order whichever image
        # brought a column first (and the same order as the Spark engine).
        extra = sorted(c for c in det.column_names if c not in DETECTION_COLUMNS)
        det = det.select([*DETECTION_COLUMNS, *extra])
        err = pa.concat_tables(
            [arrow_arrays.empty_table(ERROR_SCHEMA), *errs], promote_options="default"
        )
        return det, err


def error_table(run_id: str, failures: list[tuple[str, str, str, str]]) -> pa.Table:
    """Error rows from (path, stage, error_type, message) records."""
    # a remote path's query string (a pre-signed URL's signature) and credentials never
    # reach an output: paths and messages are redacted here, where every error row is made
    failures = [
        (display_path(path), stage, kind, redact(message))
        for path, stage, kind, message in failures
    ]
    columns = list(zip(*failures, strict=True)) if failures else [(), (), (), ()]
    values = [[run_id] * len(failures), *columns]
    return pa.Table.from_arrays(
        [arrow_arrays.array(v, f.type) for v, f in zip(values, ERROR_SCHEMA, strict=True)],
        schema=ERROR_SCHEMA,
    )


def load_state(outdir: str | Path) -> JsonObject | None:
    path = Path(outdir) / PARTS_DIR / STATE_FILE
    if not path.is_file():
        return None
    data: JsonObject = json.loads(path.read_text(encoding="utf-8"))
    return data


def save_state(outdir: str | Path, state: JsonObject) -> None:
    write_json(state, Path(outdir) / PARTS_DIR / STATE_FILE)
