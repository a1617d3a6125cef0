"""Seams: a scene detected whole, as a mosaic of tiles cut from it, and tile by tile.

    .venv/bin/python benchmarks/bench_mosaic.py seams      # Gorinchem, cut 2 x 2 and 3 x 3
    .venv/bin/python benchmarks/bench_mosaic.py swissimage # the reserved tiles: run once, at the end

``seams`` cuts ../shared/data/georef/gorinchem/gorinchem_0.25m.tif into tiles (without
and with overlap between them) and counts rows and boxes against the scene's own run;
``swissimage`` detects the 25 SWISSIMAGE tiles as one mosaic and compares the detections
centred where the mosaic and big_img_1091-322_00.tif overlap. The shipped vehicle model,
default options. Writes benchmarks/results/mosaic.json (one key per subcommand).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
RESULTS = ROOT / "benchmarks" / "results" / "mosaic.json"
DATA = ROOT.parent / "shared" / "data" / "georef"
BOX = ["px_xmin", "px_ymin", "px_xmax", "px_ymax"]


def detect(inputs: list[str], out: Path, **kw: Any) -> tuple[np.ndarray, list[str], float]:
    """Boxes (n, 4), image ids and the wall time of one run."""
    from skyscan.options import RunSettings
    from skyscan.pipeline import DetectOptions
    from skyscan.run import run_detect

    t0 = time.perf_counter()
    run_detect(inputs, out, DetectOptions(), RunSettings(geojson=False, **kw))
    rows = pq.read_table(out / "detections.parquet")
    boxes = np.stack([rows.column(c).to_numpy() for c in BOX], axis=1).reshape(-1, 4)
    return boxes, rows.column("image_id").to_pylist(), time.perf_counter() - t0


def matched(a: np.ndarray, b: np.ndarray, iou: float = 0.5) -> tuple[int, float]:
    """Boxes of ``a`` with a box of ``b`` at IoU >= ``iou`` (greedy), and the largest
    corner offset among them in pixels."""
    import shapely

    if not len(a) or not len(b):
        return 0, 0.0
    ga, gb = shapely.box(*a.T), shapely.box(*b.T)
    inter = shapely.area(shapely.intersection(ga[:, None], gb[None, :]))
    ious = inter / (shapely.area(ga)[:, None] + shapely.area(gb)[None, :] - inter)
    pairs = np.argwhere(ious >= iou)
    pairs = pairs[np.argsort(-ious[pairs[:, 0], pairs[:, 1]], kind="stable")]
    used_a: set[int] = set()
    used_b: set[int] = set()
    n, worst = 0, 0.0
    for i, j in pairs.tolist():  # best pairs first, each box once
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        n += 1
        worst = max(worst, float(np.abs(a[i] - b[j]).max()))
    return n, worst


def seams(work: Path) -> dict[str, Any]:
    from rasters import cut_tiles

    scene = DATA / "gorinchem" / "gorinchem_0.25m.tif"
    whole, _, t_whole = detect([str(scene)], work / "scene")
    out: dict[str, Any] = {
        "scene": str(scene.relative_to(DATA)),
        "scene_rows": len(whole),
        "scene_s": round(t_whole, 2),
    }
    for nx, overlap in ((2, 0), (2, 24), (3, 0), (3, 24)):
        name = f"{nx}x{nx}_overlap{overlap}"
        tiles = work / name
        cut_tiles(scene, tiles, nx, nx, overlap=overlap)
        mosaic, ids, t_mosaic = detect([str(tiles)], work / f"{name}_mosaic", mosaic=True)
        n, worst = matched(mosaic, whole)
        _, tile_ids, t_tiles = detect([str(tiles)], work / f"{name}_tiles")
        out[name] = {
            "mosaic_rows": len(mosaic),
            "mosaic_matched_scene": n,
            "mosaic_max_offset_px": round(worst, 3),
            "mosaic_tiles_named": len({i.split("/")[-1] for i in ids}),
            "tile_by_tile_rows": len(tile_ids),
            "mosaic_s": round(t_mosaic, 2),
            "tile_by_tile_s": round(t_tiles, 2),
        }
    return out


def swissimage(work: Path) -> dict[str, Any]:
    import rasterio

    tiles = DATA / "swissimage-zurich" / "tiles"
    big = DATA / "swissimage-zurich" / "big_img_1091-322_00.tif"
    mosaic, ids, t_mosaic = detect([str(tiles)], work / "mosaic", mosaic=True)
    scene, _, t_scene = detect([str(big)], work / "scene")
    vrt = work / "mosaic" / "mosaics" / "tiles.vrt"
    with rasterio.open(vrt) as m, rasterio.open(big) as s:
        # the two grids share their origin here; the overlap is in both's pixels
        assert (
            m.transform.a == s.transform.a
            and m.transform.c == s.transform.c
            and m.transform.f == s.transform.f
        )
        w, h = min(m.width, s.width), min(m.height, s.height)
        sizes = {
            "mosaic_px": [m.width, m.height],
            "scene_px": [s.width, s.height],
            "overlap_px": [w, h],
        }

    def centred(b: np.ndarray, margin: float = 0.0) -> np.ndarray:
        cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
        return b[(cx >= margin) & (cx < w - margin) & (cy >= margin) & (cy < h - margin)]

    out: dict[str, Any] = {
        **sizes,
        "mosaic_rows": len(mosaic),
        "mosaic_tiles_named": len(set(ids)),
        "mosaic_s": round(t_mosaic, 2),
        "scene_s": round(t_scene, 2),
    }
    for margin in (0, 16):  # 16 px: away from the overlap's border, which is the mosaic's edge
        a, b = centred(mosaic, margin), centred(scene, margin)
        n, worst = matched(a, b)
        out[f"overlap_margin{margin}"] = {
            "mosaic_rows": len(a),
            "scene_rows": len(b),
            "matched": n,
            "max_offset_px": round(worst, 3),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["seams", "swissimage"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-mosaic-") as tmp:
        result = (seams if args.what == "seams" else swissimage)(Path(tmp))
    result["command"] = (
        f"PYTHONPATH=src nice -n 19 .venv/bin/python benchmarks/bench_mosaic.py {args.what}"
    )
    done = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    done[args.what] = result
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(done, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
