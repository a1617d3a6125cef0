"""skyscan.arrow_arrays builds what pyarrow's own calls build, without importing pandas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from skyscan import arrow_arrays

CASES = [
    (np.array([1.5, np.nan, -2.0]), pa.float64()),
    (np.array([1.5, 2.25], np.float64), pa.float32()),
    (np.array([3, -7, 0], np.int64), pa.int32()),
    (np.array([True, False, True, True, False, False, True, False, True]), pa.bool_()),
    ([1, None, 3], pa.int32()),
    ([None, 0.5], pa.float64()),
    ([None, None], pa.float64()),
    ([True, None, False], pa.bool_()),
    (["a", None, "", "ünïcode"], pa.string()),
    ([b"\x01\x02", None, b""], pa.binary()),
    (np.array([b"wkb", b"", None], dtype=object), pa.binary()),
    ([], pa.string()),
    (np.zeros(0, np.int32), pa.int32()),
]


@pytest.mark.parametrize(("values", "type_"), CASES)
def test_array_equals_pa_array(values: object, type_: pa.DataType) -> None:
    built = arrow_arrays.array(values, type_)
    expected = pa.array(values, type=type_)
    assert built.type == type_
    assert _same(built, expected), (built, expected)
    built.validate(full=True)


def _same(a: pa.Array, b: pa.Array) -> bool:
    """Equal values and nulls, NaN equal to NaN (``Array.equals`` says NaN != NaN)."""

    def key(v: object) -> object:
        return "NaN" if isinstance(v, float) and np.isnan(v) else v

    return (
        a.type == b.type
        and a.null_count == b.null_count
        and [key(v) for v in a.to_pylist()] == [key(v) for v in b.to_pylist()]
    )


def test_arrow_input_is_cast_not_rebuilt() -> None:
    chunked = pa.chunked_array([[1.0, 2.0], [3.0]], pa.float64())
    assert arrow_arrays.array(chunked, pa.float64()) is chunked
    assert arrow_arrays.array(chunked, pa.float32()).type == pa.float32()


def test_floats_into_an_integer_column_are_refused_as_by_pa_array() -> None:
    with pytest.raises(TypeError):
        arrow_arrays.array(np.array([1.5]), pa.int32())


@pytest.mark.parametrize(
    ("value", "type_"),
    [
        ("img:1", pa.string()),
        (None, pa.string()),
        (b"x", pa.binary()),
        (0.25, pa.float64()),
        (True, pa.bool_()),
        (7, pa.int32()),
    ],
)
def test_repeat_equals_pa_repeat(value: object, type_: pa.DataType) -> None:
    for n in (0, 1, 5):
        built = arrow_arrays.repeat(value, n, type_)
        assert built.equals(pa.repeat(pa.scalar(value, type_), n)), (value, n)
        built.validate(full=True)


def test_to_numpy_equals_pyarrow_to_numpy_with_chunks_and_offsets() -> None:
    floats = pa.chunked_array([[1.0, 2.0, 3.0], [4.0]]).slice(1)
    assert np.array_equal(arrow_arrays.to_numpy(floats), floats.to_numpy())
    bools = pa.array([True, False, True, True, False, True, False, False, True, True]).slice(3, 6)
    assert np.array_equal(arrow_arrays.to_numpy(bools), bools.to_numpy(zero_copy_only=False))
    ints = pa.array(np.arange(10, dtype=np.int32)).slice(4)
    out = arrow_arrays.to_numpy(ints)
    assert out.dtype == np.int32 and out.tolist() == list(range(4, 10))
    assert arrow_arrays.to_numpy(pa.array(np.zeros(0, np.float32))).dtype == np.float32
    empty = arrow_arrays.empty_table(
        pa.schema([pa.field("b", pa.bool_()), pa.field("f", pa.float32())])
    )
    assert arrow_arrays.to_numpy(empty.column("b")).dtype == bool
    assert arrow_arrays.to_numpy(empty.column("f")).shape == (0,)


def test_to_numpy_refuses_nulls() -> None:
    with pytest.raises(ValueError, match="1 nulls"):
        arrow_arrays.to_numpy(pa.array([1.0, None]))


def test_empty_table_has_the_schema() -> None:
    schema = pa.schema([pa.field("a", pa.string(), nullable=False), pa.field("b", pa.binary())])
    table = arrow_arrays.empty_table(schema)
    assert table.num_rows == 0 and table.schema.equals(schema)


def test_read_parquet_reads_what_was_written(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    table = pa.table({"a": [1, None, 3], "s": ["x", "y", None]})
    pq.write_table(table, tmp_path / "t.parquet")
    assert arrow_arrays.read_parquet(tmp_path / "t.parquet").equals(table)


def test_arrow_parts_read_back_what_was_written(tmp_path: Path) -> None:
    from skyscan.io.writers import write_arrow

    table = pa.table({"a": [1, None, 3], "s": ["x", "y", None], "g": [b"\x01", None, b""]})
    write_arrow(table, tmp_path / "t.arrow")
    back = arrow_arrays.read_arrow(tmp_path / "t.arrow")
    assert back.equals(table) and back.schema.equals(table.schema)
    empty = arrow_arrays.empty_table(table.schema)
    assert arrow_arrays.read_arrow(write_arrow(empty, tmp_path / "e.arrow")).equals(empty)


def test_the_helpers_do_not_import_pandas(tmp_path: Path) -> None:
    code = (
        "import sys, numpy as np, pyarrow as pa, pyarrow.parquet as pq\n"
        "from skyscan import arrow_arrays as aa\n"
        "aa.array(np.arange(3.0), pa.float32()); aa.array(['x', None], pa.string())\n"
        "aa.to_numpy(aa.array([True, False], pa.bool_())); aa.repeat('id', 3, pa.string())\n"
        "aa.to_numpy(aa.empty_table(pa.schema([pa.field('a', pa.int32())])).column('a'))\n"
        f"pq.write_table(pa.Table.from_arrays([aa.array([1, 2], pa.int32())], names=['a']), {str(tmp_path / 'p.parquet')!r})\n"
        f"aa.read_parquet({str(tmp_path / 'p.parquet')!r})\n"
        "from skyscan.io.writers import write_arrow\n"
        f"aa.read_arrow(write_arrow(aa.empty_table(pa.schema([pa.field('a', pa.int32())])), {str(tmp_path / 'p.arrow')!r}))\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
