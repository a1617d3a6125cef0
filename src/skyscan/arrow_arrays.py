"""Arrow arrays to and from numpy without pyarrow's pandas shim.

``pa.array``, ``Array.to_numpy`` and ``pq.read_table`` each ask pyarrow's lazy pandas
shim something (is this a pandas object? which string dtype?), and the first question
imports pandas: 0.45-0.7 s of CPU (``python -X importtime -c "import numpy, pyarrow; import
pandas"``) in every fresh ``skyscan detect``, which never uses pandas. The detection path
converts through these buffer-level helpers instead; each gives what the pyarrow call it
replaces gives (tests/test_arrow_arrays.py compares them). The file readers here
(``read_parquet``, ``read_arrow`` for checkpoint parts) keep to calls that do not ask.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

# int32 offsets of pa.string()/pa.binary(): at most 2 GiB of values per array
_MAX_OFFSET = 2**31 - 1


def array(values: object, type_: pa.DataType) -> pa.Array | pa.ChunkedArray:
    """``pa.array(values, type=type_)`` for the contract's types: numbers, bool, string and
    binary, with ``None`` as null. Arrow input is cast; numpy input is read as buffers."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values if values.type.equals(type_) else values.cast(type_)
    if isinstance(values, np.ndarray) and values.dtype != object:
        return _primitive(values, type_, None)
    items = list(values)  # type: ignore[call-overload]
    valid = np.fromiter((v is not None for v in items), bool, len(items))
    if pa.types.is_string(type_) or pa.types.is_binary(type_):
        return _variable_width(items, valid, type_)
    if pa.types.is_null(type_) or not valid.any():
        return pa.nulls(len(items), type_)
    dense = np.array(
        [v if ok else 0 for v, ok in zip(items, valid, strict=True)], dtype=_numpy_dtype(type_)
    )
    return _primitive(dense, type_, valid)


def repeat(value: object, n: int, type_: pa.DataType) -> pa.Array:
    """``n`` copies of one value (``pa.repeat`` needs a ``pa.scalar``, which asks the shim)."""
    if value is None:
        return pa.nulls(n, type_)
    if pa.types.is_string(type_) or pa.types.is_binary(type_):
        data = value.encode() if isinstance(value, str) else bytes(value)  # type: ignore[call-overload]
        if len(data) * n > _MAX_OFFSET:
            raise ValueError(f"{n} copies of a {len(data)}-byte value overflow a {type_} array")
        offsets = np.arange(n + 1, dtype=np.int32) * np.int32(len(data))
        return pa.Array.from_buffers(
            type_, n, [None, pa.py_buffer(offsets), pa.py_buffer(data * n)]
        )
    return _primitive(np.full(n, value, dtype=_numpy_dtype(type_)), type_, None)


def to_numpy(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A numeric or bool column without nulls as a numpy array (``column.to_numpy()``)."""
    if isinstance(column, pa.ChunkedArray):  # combine_chunks() of no chunks asks the shim
        parts = [to_numpy(chunk) for chunk in column.chunks]
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else np.zeros(0, _numpy_dtype(column.type))
    if column.null_count:
        raise ValueError(f"to_numpy: {column.null_count} nulls in a {column.type} column")
    n, offset = len(column), column.offset
    data = column.buffers()[1]
    dtype = _numpy_dtype(column.type)
    if data is None or n == 0:
        return np.zeros(0, dtype)
    if pa.types.is_boolean(column.type):
        bits = np.unpackbits(np.frombuffer(data, np.uint8), bitorder="little")
        return bits[offset : offset + n].astype(bool)
    return np.frombuffer(data, dtype, count=offset + n)[offset:]


def float_lists(matrix: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """An ``(n, C)`` float matrix as a ``list<float32>`` column of ``n`` lists of ``C``
    values; rows where ``valid`` is false are null."""
    n, width = matrix.shape
    values = _primitive(np.ascontiguousarray(matrix, np.float32).reshape(-1), pa.float32(), None)
    offsets = pa.py_buffer(np.arange(n + 1, dtype=np.int32) * np.int32(width))
    nulls = 0 if valid is None else n - int(valid.sum())
    validity = _validity(valid) if valid is not None and nulls else None
    return pa.Array.from_buffers(
        pa.list_(pa.float32()), n, [validity, offsets], null_count=nulls, children=[values]
    )


def float_matrix(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A ``list<float32>`` column of equal-length lists, without nulls, as an ``(n, C)``
    float32 matrix (``C`` may be 0)."""
    if isinstance(column, pa.ChunkedArray):
        parts = [float_matrix(chunk) for chunk in column.chunks]
        widths = {p.shape[1] for p in parts if len(p)}
        if len(widths) > 1:
            raise ValueError(f"float_matrix: lists of different lengths {sorted(widths)}")
        width = widths.pop() if widths else 0
        return (
            np.concatenate([p.reshape(len(p), width) for p in parts])
            if parts
            else np.zeros((0, 0), np.float32)
        )
    n = len(column)
    if column.null_count:
        raise ValueError(f"float_matrix: {column.null_count} nulls in a {column.type} column")
    if n == 0:
        return np.zeros((0, 0), np.float32)
    offsets = np.frombuffer(column.buffers()[1], np.int32, count=column.offset + n + 1)[
        column.offset :
    ]
    width = int(offsets[1] - offsets[0])
    if (np.diff(offsets) != width).any():
        raise ValueError("float_matrix: lists of different lengths in one column")
    values = to_numpy(column.values).astype(np.float32, copy=False)
    return values[offsets[0] : offsets[-1]].reshape(n, width)


def _primitive(values: np.ndarray, type_: pa.DataType, valid: np.ndarray | None) -> pa.Array:
    n = len(values)
    if pa.types.is_boolean(type_):
        data = np.packbits(np.asarray(values, bool), bitorder="little")
    else:  # refuses what pa.array refuses too, e.g. floats into an integer column
        data = np.ascontiguousarray(
            values.astype(_numpy_dtype(type_), casting="same_kind", copy=False)
        )
    nulls = 0 if valid is None else n - int(valid.sum())
    validity = _validity(valid) if valid is not None and nulls else None
    return pa.Array.from_buffers(type_, n, [validity, pa.py_buffer(data)], null_count=nulls)


def _validity(valid: np.ndarray) -> pa.Buffer:
    """Arrow's validity bitmap: one bit per value, least significant bit first."""
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def _variable_width(items: Sequence[object], valid: np.ndarray, type_: pa.DataType) -> pa.Array:
    encoded = [
        b"" if v is None else (v.encode() if isinstance(v, str) else bytes(v))  # type: ignore[call-overload]
        for v in items
    ]
    offsets = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, encoded), np.int64, len(encoded)), out=offsets[1:])
    if offsets[-1] > _MAX_OFFSET:
        raise ValueError(f"{offsets[-1]} bytes of values overflow a {type_} array")
    nulls = len(items) - int(valid.sum())
    validity = _validity(valid) if nulls else None
    buffers = [validity, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(type_, len(items), buffers, null_count=nulls)


def _numpy_dtype(type_: pa.DataType) -> np.dtype:
    """The numpy dtype of a fixed-width Arrow type (``to_pandas_dtype`` gives it without
    pandas for these)."""
    if pa.types.is_boolean(type_):
        return np.dtype(bool)
    if not (pa.types.is_integer(type_) or pa.types.is_floating(type_)):
        raise TypeError(f"no numpy buffer layout for Arrow type {type_}")
    return np.dtype(type_.to_pandas_dtype())


def read_parquet(path: str | os.PathLike[str]) -> pa.Table:
    """One Parquet file as a table (``pq.read_table`` goes through ``pyarrow.dataset``,
    whose import imports pandas)."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).read()


def parquet_columns(path: str | os.PathLike[str]) -> list[str]:
    """The column names of the Parquet file ``path``; an :class:`~skyscan.errors.InputError`
    naming the file when it is not one (pyarrow's own message names a ``<Buffer>``)."""
    import pyarrow.parquet as pq

    from skyscan.errors import InputError

    try:
        return list(pq.read_schema(path).names)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{os.fspath(path)}: cannot read as Parquet ({exc})") from None


def read_arrow(path: str | os.PathLike[str]) -> pa.Table:
    """One Arrow IPC file as a table (read in full, so the file is not held open)."""
    with pa.OSFile(os.fspath(path), "rb") as source:
        return pa.ipc.open_file(source).read_all()


def empty_table(schema: pa.Schema) -> pa.Table:
    """A table with ``schema`` and no rows (``Schema.empty_table`` asks the shim)."""
    return pa.Table.from_batches([], schema=schema)
