"""Metadata tables: per-image attributes from a CSV or Parquet file.

The table is keyed by an ``image_id`` column (matched against the image's id), an
``image_path`` column (the image's path or URL, as given) and/or a ``filename`` column
(matched against the file's name, e.g. ``scene.tif``), tried in that order. Every other column
becomes an attribute of the image and travels into each of its detection rows. A table
keyed by file name may carry an ``image_id`` column: it then names the image.

CSV cells are read as the text the user wrote (``007`` stays ``007``); Parquet columns
keep their types (an integer column with missing cells stays integer).

Tables are loaded once per process and cached by (path, size, mtime), so a run over
thousands of images, or a Spark executor, reads the table once.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from functools import lru_cache
from pathlib import Path

from skyscan.errors import MetadataError
from skyscan.io.remote import gdal_path
from skyscan.types import JsonObject

KEY_COLUMNS = ("image_id", "image_path", "filename")
_NOT_ATTRIBUTES = ("filename", "image_path")  # keys only: the rows carry these already


@lru_cache(maxsize=8)
def _load(path: str, size: int, mtime_ns: int) -> dict[str, dict[str, JsonObject]]:
    """``{key_column: {key: row}}`` for each key column the table has."""
    suffix = Path(path).suffix.lower()
    try:
        if suffix in (".parquet", ".pq", ".geoparquet"):
            from skyscan.arrow_arrays import read_parquet

            # Arrow's own conversion keeps an integer column with missing cells integer;
            # pandas would turn it into floats (17 -> "17.0" in every detection row).
            table = read_parquet(path)
            columns, rows = [str(c) for c in table.column_names], table.to_pylist()
        elif suffix in (".csv", ".txt"):
            columns, rows = _read_csv(path)
        else:
            raise MetadataError(f"{path}: metadata table must be .csv or .parquet (got {suffix!r})")
    except MetadataError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types for bad files
        raise MetadataError(
            f"{path}: cannot read metadata table: {type(exc).__name__}: {exc}"
        ) from exc
    keys = [k for k in KEY_COLUMNS if k in columns]
    if not keys:
        raise MetadataError(
            f"{path}: metadata table needs a key column {' or '.join(repr(k) for k in KEY_COLUMNS)} "
            f"(columns: {columns})"
        )
    records = [
        {str(c): _clean(v) for c, v in rec.items() if c not in _NOT_ATTRIBUTES} for rec in rows
    ]
    index: dict[str, dict[str, JsonObject]] = {}
    for key in keys:
        values = [_key(key, rec[key]) for rec in rows]
        dupes = sorted(v for v, n in Counter(values).items() if n > 1)
        if dupes:
            raise MetadataError(f"{path}: key column {key!r} has duplicate values {dupes[:5]}")
        index[key] = dict(zip(values, records, strict=True))
    return index


def _key(column: str, value: object) -> str:
    """A key as matched: paths in GDAL's form (``s3://b/a.tif`` = ``/vsis3/b/a.tif``)."""
    return gdal_path(str(value)) if column == "image_path" else str(value)


def _read_csv(path: str) -> tuple[list[str], list[JsonObject]]:
    """Columns and rows of a CSV, every cell kept as the text the user wrote.

    Attributes travel as strings anyway; type inference would only lose information on
    the way: ``007`` -> ``7``, and ``17`` -> ``17.0`` when another cell of the column is
    empty. Empty cells (and pandas' usual NA markers) are missing values.
    """
    import pandas as pd

    df = pd.read_csv(path, dtype=str)
    rows = [{str(k): v for k, v in rec.items()} for rec in df.to_dict(orient="records")]
    return [str(c) for c in df.columns], rows


def _clean(value: object) -> object:
    """numpy scalars -> Python; NaN -> None (a missing cell)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def load_table(path: str | Path) -> dict[str, dict[str, JsonObject]]:
    """``{key_column: {key: {column: value}}}`` for a CSV/Parquet table (cached)."""
    p = os.path.abspath(path)
    try:
        st = os.stat(p)
    except OSError as exc:
        raise MetadataError(f"{path}: metadata table not found: {exc.strerror}") from exc
    return _load(p, st.st_size, st.st_mtime_ns)


def lookup(table_path: str | Path, image_id: str, image_path: str | Path) -> JsonObject:
    """The attributes for one image (empty when the table has no row for it).

    Matched by ``image_id`` first, then by path, then by file name (``scene.tif``). The
    returned dict holds ``image_id`` when the table has that column (the caller renames
    the image).
    """
    index = load_table(table_path)
    row = index.get("image_id", {}).get(image_id)
    if row is None:
        row = index.get("image_path", {}).get(_key("image_path", os.fspath(image_path)))
    if row is None:
        row = index.get("filename", {}).get(Path(image_path).name)
    return dict(row) if row is not None else {}
