"""Benchmark scenes built from real imagery: the Gorinchem orthophoto (0.25 m) mosaicked,
with KIT Munich street frames (seqB, the training sequence; 0.13 m resampled to 0.25 m)
laid over it, so a scene has real texture and real car density.

    make_real_scene(path, 10_000, data)          # a 100 MP GeoTIFF at 0.25 m
    make_real_tiles(folder, 100, 1024, data)     # 100 GeoTIFF tiles cut from such a scene

Every 1000 px cell of the mosaic is the orthophoto turned and mirrored one of eight ways,
with one KIT frame (resampled, turned the same way) pasted in, so no two neighbouring cells
are the same image. The imagery is read from the shared data folder and the scenes are
written to benchmarks/_work (never into the repository). Reserved imagery is not used.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.enums import Resampling
from rasterio.transform import Affine

GSD = 0.25
ORTHO = "georef/gorinchem/gorinchem_0.25m.tif"
KIT_LIST = "kit-ais-munich/splits/seqB_MOS155-179_street.txt"
KIT_GSD = 0.13
CELL = 1000  # the orthophoto's side, px


def shared_data() -> Path:
    """The shared data folder: $SKYSCAN_SHARED_DATA or ../shared/data beside the repository."""
    root = Path(
        os.environ.get(
            "SKYSCAN_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
        )
    )
    if not (root / ORTHO).is_file():
        raise SystemExit(
            f"{root / ORTHO}: not found; set SKYSCAN_SHARED_DATA to the shared data folder"
        )
    return root


def _pieces(data: Path) -> tuple[npt.NDArray[np.uint8], list[npt.NDArray[np.uint8]]]:
    """The orthophoto (H, W, 3) and the KIT frames resampled to 0.25 m, each (h, w, 3)."""
    with rasterio.open(data / ORTHO) as src:
        ortho = src.read([1, 2, 3]).transpose(1, 2, 0)
    frames = []
    for name in (data / KIT_LIST).read_text().split():
        with rasterio.open(data / "kit-ais-munich" / "images" / name) as src:
            h, w = round(src.height * KIT_GSD / GSD), round(src.width * KIT_GSD / GSD)
            frames.append(
                src.read([1, 2, 3], out_shape=(3, h, w), resampling=Resampling.average).transpose(
                    1, 2, 0
                )
            )
    return ortho, frames


def _cell(
    i: int, ortho: npt.NDArray[np.uint8], frames: list[npt.NDArray[np.uint8]]
) -> npt.NDArray[np.uint8]:
    """Cell ``i``: the orthophoto one of eight ways, one KIT frame pasted at a row of its own."""
    cell = np.rot90(ortho, i % 4)
    if (i // 4) % 2:
        cell = cell[:, ::-1]
    cell = np.ascontiguousarray(cell)
    frame = frames[i % len(frames)]
    if i % 2:
        frame = frame[::-1, ::-1]
    fh, fw = min(frame.shape[0], CELL), min(frame.shape[1], CELL)
    row = (i * 137) % (CELL - fh + 1)
    cell[row : row + fh, :fw] = frame[:fh, :fw]
    return cell


def make_real_scene(path: Path, size: int, data: Path | None = None) -> Path:
    """A tiled, deflate-compressed RGB GeoTIFF of ``size`` x ``size`` px at 0.25 m (EPSG:32632),
    written one row of cells at a time (never whole in memory)."""
    if path.exists():
        return path
    ortho, frames = _pieces(data or shared_data())
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": 3,
        "dtype": "uint8",
        "crs": "EPSG:32632",
        "transform": Affine(GSD, 0, 690_000.0, 0, -GSD, 5_335_000.0),
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "deflate",
        "BIGTIFF": "YES",
    }
    n = -(-size // CELL)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.tif")
    with rasterio.open(tmp, "w", **profile) as dst:
        for r in range(n):
            strip = np.concatenate([_cell(r * n + c + r, ortho, frames) for c in range(n)], axis=1)
            h = min(CELL, size - r * CELL)
            window = rasterio.windows.Window(0, r * CELL, size, h)
            dst.write(strip[:h, :size].transpose(2, 0, 1), window=window)
    tmp.rename(path)
    return path


def make_real_tiles(folder: Path, n: int, tile: int, scene: Path) -> list[Path]:
    """``n`` GeoTIFF tiles of ``tile`` px cut from ``scene`` (row-major, overlapping where the
    scene is too small for them side by side), each with its own georeferencing."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"tile_{i:04d}.tif" for i in range(n)]
    if all(p.exists() for p in paths):
        return paths
    with rasterio.open(scene) as src:
        per_row = math.ceil(math.sqrt(n))
        step = min(tile, (src.width - tile) // max(1, per_row - 1))
        for i, p in enumerate(paths):
            col, row = (i % per_row) * step, (i // per_row) * step
            window = rasterio.windows.Window(col, row, tile, tile)
            profile = {
                **src.profile,
                "width": tile,
                "height": tile,
                "transform": src.window_transform(window),
                "blockxsize": 256,
                "blockysize": 256,
                "BIGTIFF": "NO",
            }
            with rasterio.open(p, "w", **profile) as dst:
                dst.write(src.read(window=window))
    return paths
