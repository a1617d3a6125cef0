"""Metadata tables: per-image attributes from a CSV or Parquet file.

The table is keyed by ``image_id`` (matched against the image's id) or, failing that, by
``filename`` (matched against the file's name, e.g. ``scene.tif``). Every other column
becomes an attribute of the image and travels into each of its detection rows. A table
keyed by file name may carry an ``image_id`` column: it then names the image.

Tables are loaded once per process and cached by (path, size, mtime), so a run over
thousands of images, or a Spark executor, reads the table once.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from skyscan.errors import MetadataError

KEY_COLUMNS = ("image_id", "filename")


@lru_cache(maxsize=8)
def _load(path: str, size: int, mtime_ns: int) -> tuple[str, dict[str, dict[str, Any]]]:
    import pandas as pd

    suffix = Path(path).suffix.lower()
    try:
        if suffix in (".parquet", ".pq", ".geoparquet"):
            df = pd.read_parquet(path)
        elif suffix in (".csv", ".txt"):
            df = pd.read_csv(path, dtype={"image_id": str, "filename": str})
        else:
            raise MetadataError(f"{path}: metadata table must be .csv or .parquet (got {suffix!r})")
    except MetadataError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types for bad files
        raise MetadataError(f"{path}: cannot read metadata table: {type(exc).__name__}: {exc}") from exc
    key = next((k for k in KEY_COLUMNS if k in df.columns), None)
    if key is None:
        raise MetadataError(
            f"{path}: metadata table needs a key column {' or '.join(repr(k) for k in KEY_COLUMNS)} "
            f"(columns: {[str(c) for c in df.columns]})"
        )
    keys = df[key].astype(str)
    dupes = sorted(set(keys[keys.duplicated()]))
    if dupes:
        raise MetadataError(f"{path}: key column {key!r} has duplicate values {dupes[:5]}")
    rows: dict[str, dict[str, Any]] = {}
    for k, record in zip(keys, df.to_dict(orient="records"), strict=True):
        rows[k] = {str(c): _clean(v) for c, v in record.items() if c != key}
    return key, rows


def _clean(value: Any) -> Any:
    """numpy scalars -> Python; NaN -> None (a missing cell)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def load_table(path: str | Path) -> tuple[str, dict[str, dict[str, Any]]]:
    """``(key_column, {key: {column: value}})`` for a CSV/Parquet table (cached)."""
    p = os.path.abspath(path)
    try:
        st = os.stat(p)
    except OSError as exc:
        raise MetadataError(f"{path}: metadata table not found: {exc.strerror}") from exc
    return _load(p, st.st_size, st.st_mtime_ns)


def lookup(table_path: str | Path, image_id: str, image_path: str | Path) -> dict[str, Any]:
    """The attributes for one image (empty when the table has no row for it).

    ``image_id`` is matched when the table is keyed by ``image_id``; the file name
    (``scene.tif``) when keyed by ``filename``. The returned dict may hold ``image_id``.
    """
    key, rows = load_table(table_path)
    wanted = image_id if key == "image_id" else Path(image_path).name
    return dict(rows.get(wanted, {}))
