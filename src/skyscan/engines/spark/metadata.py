"""Per-image attributes joined onto a Spark detections DataFrame.

The engines already carry a metadata table or XML sidecar attributes into every row
(``ReadOptions.metadata_table`` / ``sidecar_mapping``, as ``meta_*`` strings). This is
the DataFrame-level counterpart for attributes that live in Spark already (a catalogue
table, a Delta table of flights): a left join on the image key, so every detection is
kept exactly once. PySpark is imported inside functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from skyscan.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

MAX_REPORTED = 5  # duplicate keys named in an error message


def join_metadata(
    detections: DataFrame, metadata: DataFrame, on: str = "image_id", prefix: str = "meta_"
) -> DataFrame:
    """``detections`` with every other column of ``metadata`` added as ``prefix + name``.

    A left join on ``on``: row count and column order of ``detections`` are kept, the new
    columns follow; detections whose key has no metadata row get nulls. Values keep the
    metadata's Spark types (the engines' own ``meta_*`` columns are strings).

    Raises :class:`InputError` when ``on`` is missing from either side, when a prefixed
    name already exists in ``detections``, or when ``metadata`` repeats a key (a join would
    then duplicate detections). The last check runs one small Spark job on ``metadata``.
    """
    from pyspark.sql import functions as F

    missing = [
        side
        for side, df in (("detections", detections), ("metadata", metadata))
        if on not in df.columns
    ]
    if missing:
        raise InputError(
            f"join_metadata: key column {on!r} is missing from {' and '.join(missing)} "
            f"(detections columns: {detections.columns}; metadata columns: {metadata.columns})"
        )
    extra = [c for c in metadata.columns if c != on]
    clashes = [(c, prefix + c) for c in extra if prefix + c in detections.columns]
    if clashes:
        named = ", ".join(f"metadata column {c!r} -> {p!r}" for c, p in clashes)
        raise InputError(
            f"join_metadata: prefixed names collide with existing detections columns: {named}; "
            f"choose another prefix (got {prefix!r}) or drop those columns first"
        )
    renamed = [prefix + c for c in extra]
    if len(set(renamed)) != len(renamed):  # a DataFrame may carry one name twice after a join
        raise InputError(f"join_metadata: metadata has repeated column names {extra}")
    dupes = (
        metadata.where(F.col(on).isNotNull())
        .groupBy(on)
        .count()
        .where(F.col("count") > 1)
        .select(on)
        .limit(MAX_REPORTED)
        .collect()
    )
    if dupes:
        raise InputError(
            f"join_metadata: metadata has several rows for {on} {[r[0] for r in dupes]}; "
            "one row per key keeps every detection exactly once"
        )
    # Rename through a private key so the join condition is never ambiguous, whatever the
    # two sides are derived from.
    key = "__skyscan_join_key"
    right = metadata.select(
        F.col(on).alias(key), *(F.col(c).alias(p) for c, p in zip(extra, renamed, strict=True))
    )
    joined = detections.join(right, detections[on] == right[key], "left")
    return joined.select(*(detections[c] for c in detections.columns), *renamed)
