"""scripts/compare_detections.py tells equal runs from runs that differ by one box, score,
class, position or image."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "compare_detections.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compare_detections", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ROWS = {
    "image_id": ["a", "a", "b"],
    "px_xmin": [10.0, 50.0, 1.0],
    "px_ymin": [20.0, 60.0, 2.0],
    "px_xmax": [30.0, 70.0, 3.0],
    "px_ymax": [40.0, 80.0, 4.0],
    "class_name": ["car", "truck", "car"],
    "score": [0.9, 0.5, 0.7],
    "lon": [8.5, 8.6, None],
    "lat": [47.3, 47.4, None],
    "detection_id": ["a:0", "a:1", "b:0"],
}


def _run(root: Path, name: str, **changes: list[object]) -> Path:
    out = root / name
    out.mkdir()
    pq.write_table(pa.table({**ROWS, **changes}), out / "detections.parquet")
    pq.write_table(pa.table({"path": pa.array([], pa.string())}), out / "errors.parquet")
    return out


def _diffs(tmp_path: Path, **changes: list[object]) -> list[str]:
    a = _run(tmp_path, "a")
    b = _run(tmp_path, "b", **changes)
    return list(_script().compare(a, b, box_tol=1e-6, score_tol=1e-6, coord_tol=1e-9))


def test_equal_runs_in_another_row_order(tmp_path: Path) -> None:
    reordered = {k: [v[1], v[0], v[2]] for k, v in ROWS.items()}
    reordered["detection_id"] = ["x", "y", "z"]  # ids differ between runs: not compared
    assert _diffs(tmp_path, **reordered) == []


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("px_xmax", [30.0 + 1e-5, 70.0, 3.0]),
        ("score", [0.9, 0.5, 0.71]),
        ("class_name", ["car", "car", "car"]),
        ("lat", [47.3, 47.4 + 1e-8, None]),
        ("lon", [8.5, 8.6, 8.7]),
    ],
)
def test_one_changed_value_is_a_difference(
    tmp_path: Path, column: str, values: list[object]
) -> None:
    assert len(_diffs(tmp_path, **{column: values})) == 1


def test_missing_image_and_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _run(tmp_path, "a")
    b = tmp_path / "b"
    b.mkdir()
    pq.write_table(pa.table(ROWS).slice(0, 2), b / "detections.parquet")
    script = _script()
    assert script.main([str(a), str(b)]) == 1
    assert "b: detections only in" in capsys.readouterr().out
    assert script.main([str(a), str(a / "detections.parquet")]) == 0


def test_a_saved_reference_equals_its_run_within_its_rounding(tmp_path: Path) -> None:
    script = _script()
    a = _run(tmp_path, "a")
    reference = tmp_path / "reference.csv"
    assert script.main([str(a), "--save-csv", str(reference)]) == 0
    assert script.compare(a, reference, box_tol=1e-3, score_tol=1e-6, coord_tol=1e-8) == []
    b = _run(tmp_path, "b", score=[0.9, 0.5, 0.702])
    assert len(script.compare(b, reference, box_tol=1e-3, score_tol=1e-6, coord_tol=1e-8)) == 1
