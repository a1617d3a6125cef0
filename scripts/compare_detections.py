"""Compare two runs' detections row by row; exit 1 when they differ.

    python scripts/compare_detections.py out/before out/after
    python scripts/compare_detections.py a/detections.parquet b/detections.parquet
    python scripts/compare_detections.py out/run --save-csv reference.csv   # store a reference
    python scripts/compare_detections.py out/run reference.csv --box-tol 0.01 --score-tol 1e-4

Each argument is a ``skyscan detect`` output directory, its ``detections.parquet``, or a
reference CSV written by ``--save-csv`` (rounded: boxes to 1/1000 px, scores to 1e-6,
lon/lat to 1e-8 degrees, so compare it with tolerances at least that wide).
The runs must hold the same images (by ``image_id``), and each image the same rows: rows are paired
within an image in box order; boxes must agree within ``--box-tol`` pixels, classes
exactly, scores within ``--score-tol``, ``lon``/``lat`` within ``--coord-tol`` degrees
(missing in both counts as equal). For directories the failed images
(``errors.parquet``) must match too. Run ids and detection ids are not compared: they
differ between any two runs. Use it to show that a refactor leaves results unchanged.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

BOX = ["px_xmin", "px_ymin", "px_xmax", "px_ymax"]
KEY = "image_id"
COLUMNS = [KEY, *BOX, "class_name", "score", "lon", "lat"]
DECIMALS = {**dict.fromkeys(BOX, 3), "score": 6, "lon": 8, "lat": 8}
MAX_REPORTED = 20  # differences printed per run pair; the count is always printed


def _table(path: Path, name: str) -> pa.Table | None:
    file = path / name if path.is_dir() else path
    if not file.is_file():
        return None
    if file.suffix.lower() == ".csv":
        return pacsv.read_csv(file)
    return pq.read_table(file)


def save_csv(run: Path, out: Path) -> int:
    """Write ``run``'s detections as a rounded reference CSV; returns the row count."""
    table = _table(run, "detections.parquet")
    if table is None:
        raise SystemExit(f"{run}: no detections.parquet")
    cols = {c: table.column(c).to_numpy(zero_copy_only=False) for c in COLUMNS}
    order = np.lexsort([cols[c] for c in reversed([KEY, *BOX])])
    rounded = {
        c: np.round(v[order].astype(np.float64), DECIMALS[c]) if c in DECIMALS else v[order]
        for c, v in cols.items()
    }
    pacsv.write_csv(pa.table(rounded), out)
    return table.num_rows


def _by_image(table: pa.Table) -> dict[str, dict[str, np.ndarray]]:
    """Rows per image, as columns sorted by box (then class) so both runs pair alike."""
    cols = {c: table.column(c).to_numpy(zero_copy_only=False) for c in COLUMNS}
    out: dict[str, dict[str, np.ndarray]] = {}
    for image in sorted(set(cols[KEY])):
        rows = np.flatnonzero(cols[KEY] == image)
        order = np.lexsort(
            [cols["class_name"][rows].astype(str)] + [cols[b][rows] for b in reversed(BOX)]
        )
        out[str(image)] = {c: v[rows[order]] for c, v in cols.items()}
    return out


def _close(a: np.ndarray, b: np.ndarray, tol: float) -> np.ndarray:
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    both_nan = np.isnan(a) & np.isnan(b)
    return both_nan | (np.abs(a - b) <= tol)


def compare(a: Path, b: Path, *, box_tol: float, score_tol: float, coord_tol: float) -> list[str]:
    """Human-readable differences between the runs at ``a`` and ``b`` (empty when equal)."""
    ta, tb = _table(a, "detections.parquet"), _table(b, "detections.parquet")
    if ta is None or tb is None:
        return [f"{p}: no detections.parquet" for p, t in ((a, ta), (b, tb)) if t is None]
    diffs: list[str] = []
    ra, rb = _by_image(ta), _by_image(tb)
    for image in sorted(set(ra) ^ set(rb)):
        side = a if image in ra else b
        diffs.append(f"{image}: detections only in {side}")
    for image in sorted(set(ra) & set(rb)):
        x, y = ra[image], rb[image]
        if len(x[KEY]) != len(y[KEY]):
            diffs.append(f"{image}: {len(x[KEY])} rows in {a}, {len(y[KEY])} in {b}")
            continue
        ok_box = np.all([_close(x[c], y[c], box_tol) for c in BOX], axis=0)
        ok_class = x["class_name"] == y["class_name"]
        ok_score = _close(x["score"], y["score"], score_tol)
        ok_coord = _close(x["lon"], y["lon"], coord_tol) & _close(x["lat"], y["lat"], coord_tol)
        for i in np.flatnonzero(~(ok_box & ok_class & ok_score & ok_coord)):
            diffs.append(
                f"{image} row {i}: box {[x[c][i] for c in BOX]} vs {[y[c][i] for c in BOX]}, "
                f"class {x['class_name'][i]} vs {y['class_name'][i]}, score {x['score'][i]} vs {y['score'][i]}, "
                f"lon/lat ({x['lon'][i]}, {x['lat'][i]}) vs ({y['lon'][i]}, {y['lat'][i]})"
            )
    if a.is_dir() and b.is_dir():
        ea, eb = _table(a, "errors.parquet"), _table(b, "errors.parquet")
        failed_a = set() if ea is None else set(ea.column("path").to_pylist())
        failed_b = set() if eb is None else set(eb.column("path").to_pylist())
        diffs += [f"{p}: failed in only one run" for p in sorted(failed_a ^ failed_b)]
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("a", type=Path, help="first run: output directory or detections.parquet")
    parser.add_argument("b", type=Path, nargs="?", help="second run or reference CSV")
    parser.add_argument(
        "--save-csv", type=Path, help="write the first run's rows as a reference CSV and stop"
    )
    parser.add_argument("--box-tol", type=float, default=1e-6, help="pixels [default: 1e-6]")
    parser.add_argument("--score-tol", type=float, default=1e-6, help="[default: 1e-6]")
    parser.add_argument(
        "--coord-tol", type=float, default=1e-9, help="degrees of lon/lat [default: 1e-9]"
    )
    args = parser.parse_args(argv)
    if args.save_csv is not None:
        print(f"{save_csv(args.a, args.save_csv)} detections -> {args.save_csv}")
        return 0
    if args.b is None:
        parser.error("give a second run or reference CSV to compare with")
    diffs = compare(
        args.a, args.b, box_tol=args.box_tol, score_tol=args.score_tol, coord_tol=args.coord_tol
    )
    for line in diffs[:MAX_REPORTED]:
        print(line)
    if len(diffs) > MAX_REPORTED:
        print(f"... and {len(diffs) - MAX_REPORTED} more")
    if diffs:
        print(f"{len(diffs)} differences", file=sys.stderr)
        return 1
    table = _table(args.a, "detections.parquet")
    print(f"identical: {0 if table is None else table.num_rows} detections")
    return 0


if __name__ == "__main__":
    sys.exit(main())
