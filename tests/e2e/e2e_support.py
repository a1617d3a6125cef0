"""Helpers for the end-to-end tests: run the real CLI in a subprocess, paint scenes with
known objects, and compute expected coordinates independently of skyscan (own affine
maths + pyproj), so that a test compares skyscan against an answer it did not compute."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import rasterio
from affine import Affine
from pyproj import Geod, Transformer
from rasterio.errors import NotGeoreferencedWarning

from skyscan.detectors.synthetic import draw_blobs

GEOD = Geod(ellps="WGS84")


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str
    max_rss_mb: float
    cpu_s: float
    wall_s: float


def skyscan(*args: str | Path, cwd: Path | None = None) -> CliResult:
    """Run ``python -m skyscan ARGS`` (the real entry point) and measure the child alone.

    ``os.wait4`` gives the peak RSS and CPU time of exactly this child (``RUSAGE_CHILDREN``
    would mix in every earlier child of the test process).
    """
    t0 = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "skyscan", *map(str, args)],
            stdout=out,
            stderr=err,
            text=True,
            cwd=cwd,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    return CliResult(
        proc.returncode,
        stdout,
        stderr,
        usage.ru_maxrss / 1024,
        usage.ru_utime + usage.ru_stime,
        time.monotonic() - t0,
    )


def blank(
    width: int, height: int, blobs: list[tuple[int, int, int]], sigma: float = 3.0
) -> np.ndarray:
    """A black (3, H, W) uint8 image with a blob per (col, row, class) (class = channel)."""
    data = np.zeros((3, height, width), np.uint8)
    draw_blobs(data, [(float(c), float(r), k) for c, r, k in blobs], sigma=sigma)
    return data


def write_scenes(folder: Path, n: int) -> Path:
    """``n`` small UTM GeoTIFFs side by side in ``folder``, one blob each (classes in turn)."""
    from rasters import write_geotiff

    folder.mkdir()
    for i in range(n):
        t = Affine(0.5, 0.0, 594_000.0 + 100 * i, 0.0, -0.5, 5_758_000.0)
        write_geotiff(
            folder / f"scene_{i}.tif",
            64,
            48,
            data=blank(64, 48, [(10 + 8 * i, 20, i % 3)]),
            transform=t,
        )
    return folder


def write_raster(path: Path, data: np.ndarray, driver: str, **profile: Any) -> Path:
    """PNG/JPEG/GTiff without georeferencing (and without GDAL's .aux.xml side effect)."""
    count, height, width = data.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with (
            rasterio.Env(GDAL_PAM_ENABLED="NO"),
            rasterio.open(
                path,
                "w",
                driver=driver,
                width=width,
                height=height,
                count=count,
                dtype=str(data.dtype),
                **profile,
            ) as dst,
        ):
            dst.write(data)
    return path


def write_world_file(path: Path, t: Affine) -> Path:
    """A world file for corner transform ``t`` (C/F are the centre of the top-left pixel)."""
    cx = t.c + t.a / 2 + t.b / 2
    cy = t.f + t.d / 2 + t.e / 2
    path.write_text(f"{t.a!r}\n{t.d!r}\n{t.b!r}\n{t.e!r}\n{cx!r}\n{cy!r}\n")
    return path


@dataclass
class Scene:
    """One generated image and what the test knows about it."""

    path: Path
    blobs: list[tuple[int, int, int]]
    transform: Affine | None  # corner transform in ``crs``; None without georeferencing
    crs: str | None
    source: str  # expected georef_source
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def image_id(self) -> str:
        return self.path.stem


def apply(t: Affine, col: float, row: float) -> tuple[float, float]:
    """Pixel corner coordinates (col, row) to the CRS, spelled out: x = a*col + b*row + c."""
    return t.a * col + t.b * row + t.c, t.d * col + t.e * row + t.f


def to_lonlat(crs: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tr = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = tr.transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon), np.asarray(lat)


def expected_centres(scene: Scene, rows: pa.Table) -> dict[str, np.ndarray]:
    """Source-CRS and lon/lat centres of the rows' pixel boxes, from the scene's own
    transform (not skyscan's)."""
    assert scene.transform is not None and scene.crs is not None
    t = scene.transform
    col = (np.asarray(rows.column("px_xmin")) + np.asarray(rows.column("px_xmax"))) / 2
    row = (np.asarray(rows.column("px_ymin")) + np.asarray(rows.column("px_ymax"))) / 2
    x = t.a * col + t.b * row + t.c
    y = t.d * col + t.e * row + t.f
    lon, lat = to_lonlat(scene.crs, x, y)
    return {"x": x, "y": y, "lon": lon, "lat": lat}


def blob_lonlat(scene: Scene) -> list[tuple[float, float, int]]:
    """Where the painted objects really are (pixel centres), as (lon, lat, class)."""
    assert scene.transform is not None and scene.crs is not None
    t = scene.transform
    out = []
    for c, r, k in scene.blobs:
        x, y = apply(t, c + 0.5, r + 0.5)
        lon, lat = to_lonlat(scene.crs, np.array([x]), np.array([y]))
        out.append((float(lon[0]), float(lat[0]), k))
    return out


def metres_between(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def read_outputs(outdir: Path) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    return (
        pq.read_table(outdir / "detections.parquet"),
        pq.read_table(outdir / "errors.parquet"),
        json.loads((outdir / "run.json").read_text()),
    )


def rows_of(table: pa.Table, image_id: str) -> pa.Table:
    mask = np.asarray(table.column("image_id").to_pylist(), dtype=object) == image_id
    return table.filter(pa.array(mask))
