"""Tiny rasters for unit tests, generated on the fly (never real imagery).

Covers two CRSs (UTM 32631 and Swiss LV95 2056), a rotated transform, several band
counts and dtypes, world-file georeferencing and nodata.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning
from rasterio.transform import Affine


@contextmanager
def _create(path: str | Path, **kwargs: Any) -> Iterator[Any]:
    """``rasterio.open(path, "w", ...)`` without the warning GDAL gives for images written
    without georeferencing on purpose (plain PNGs, world-file images, pixel-space scenes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", **kwargs) as dst:
            yield dst


def utm_transform(gsd: float = 0.5, x0: float = 594_000.0, y0: float = 5_758_000.0) -> Affine:
    """North-up transform in EPSG:32631 (Rotterdam area)."""
    return Affine(gsd, 0.0, x0, 0.0, -gsd, y0)


def lv95_transform(gsd: float = 0.5, x0: float = 2_683_000.0, y0: float = 1_248_000.0) -> Affine:
    """North-up transform in EPSG:2056 (Zurich area)."""
    return Affine(gsd, 0.0, x0, 0.0, -gsd, y0)


def rotated_transform(gsd: float = 0.5, degrees: float = 30.0) -> Affine:
    return utm_transform(gsd) @ Affine.rotation(degrees)


def write_geotiff(
    path: str | Path,
    width: int = 64,
    height: int = 48,
    *,
    count: int = 3,
    dtype: str = "uint8",
    crs: str | None = "EPSG:32631",
    transform: Affine | None = None,
    nodata: float | None = None,
    data: np.ndarray | None = None,
    seed: int = 0,
    **profile: object,
) -> Path:
    """Write a small GeoTIFF with random (or given) pixels and return its path; given
    ``data`` (bands, rows, cols) sets the size, band count and dtype."""
    path = Path(path)
    if data is not None:
        (count, height, width), dtype = data.shape, data.dtype.name
    else:
        rng = np.random.default_rng(seed)
        hi = 255 if dtype == "uint8" else 4095
        data = rng.integers(0, hi, size=(count, height, width)).astype(dtype)
    kwargs: dict[str, object] = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": dtype,
    }
    if crs is not None:
        kwargs["crs"] = crs
        kwargs["transform"] = transform or utm_transform()
    if nodata is not None:
        kwargs["nodata"] = nodata
    kwargs.update(profile)
    with _create(path, **kwargs) as dst:
        dst.write(data)
    return path


def write_cog(
    path: str | Path, data: np.ndarray, transform: Affine, crs: str, *, blocksize: int = 64
) -> Path:
    """Write ``data`` (bands, rows, cols; uint8) as a deflate cloud-optimized GeoTIFF."""
    return write_geotiff(
        path,
        crs=crs,
        transform=transform,
        data=data,
        driver="COG",
        blocksize=blocksize,
        compress="deflate",
    )


def write_png_with_worldfile(
    path: str | Path,
    width: int = 40,
    height: int = 30,
    *,
    transform: Affine | None = None,
    prj_wkt: str | None = None,
    seed: int = 0,
) -> Path:
    """Write a PNG plus its ``.pgw`` world file (and ``.prj`` when ``prj_wkt`` is given)."""
    return _write_with_worldfile(path, "PNG", ".pgw", width, height, transform, prj_wkt, seed)


def write_jpeg_with_worldfile(
    path: str | Path,
    width: int = 40,
    height: int = 30,
    *,
    transform: Affine | None = None,
    prj_wkt: str | None = None,
    seed: int = 0,
) -> Path:
    """Write a JPEG plus its ``.jgw`` world file (and ``.prj`` when ``prj_wkt`` is given)."""
    return _write_with_worldfile(path, "JPEG", ".jgw", width, height, transform, prj_wkt, seed)


def _write_with_worldfile(
    path: str | Path,
    driver: str,
    world_suffix: str,
    width: int,
    height: int,
    transform: Affine | None,
    prj_wkt: str | None,
    seed: int,
) -> Path:
    """A random RGB image in ``driver``'s format, georeferenced only by its world file."""
    path = Path(path)
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 255, size=(3, height, width)).astype("uint8")
    with _create(path, driver=driver, width=width, height=height, count=3, dtype="uint8") as dst:
        dst.write(data)
    aux = path.with_name(path.name + ".aux.xml")  # GDAL's own sidecar would georeference it too
    if aux.exists():
        aux.unlink()
    t = transform or utm_transform()
    # World file: A, D, B, E, C, F with C/F the centre of the top-left pixel.
    cx = t.c + t.a / 2 + t.b / 2
    cy = t.f + t.d / 2 + t.e / 2
    path.with_suffix(world_suffix).write_text(f"{t.a}\n{t.d}\n{t.b}\n{t.e}\n{cx}\n{cy}\n")
    if prj_wkt is not None:
        path.with_suffix(".prj").write_text(prj_wkt)
    return path


def write_plain_png(
    path: str | Path,
    width: int = 40,
    height: int = 30,
    *,
    count: int = 3,
    seed: int = 0,
    data: np.ndarray | None = None,
) -> Path:
    """A PNG with no georeferencing at all: ``data`` (bands, rows, cols) or random pixels."""
    path = Path(path)
    if data is None:
        rng = np.random.default_rng(seed)
        data = rng.integers(0, 255, size=(count, height, width)).astype("uint8")
    count, height, width = data.shape
    with _create(path, driver="PNG", width=width, height=height, count=count, dtype="uint8") as dst:
        dst.write(data)
    aux = path.with_name(path.name + ".aux.xml")
    if aux.exists():
        aux.unlink()
    return path


def write_aux_xml(image_path: str | Path, transform: Affine, wkt: str) -> Path:
    """A GDAL PAM ``.aux.xml`` holding a geotransform and SRS for ``image_path``."""
    t = transform
    aux = Path(image_path).with_name(Path(image_path).name + ".aux.xml")
    wkt_xml = wkt.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    aux.write_text(
        "<PAMDataset>\n"
        f"  <SRS>{wkt_xml}</SRS>\n"
        f"  <GeoTransform>{t.c!r}, {t.a!r}, {t.b!r}, {t.f!r}, {t.d!r}, {t.e!r}</GeoTransform>\n"
        "</PAMDataset>\n"
    )
    return aux


def write_fgdc_xml(
    path: str | Path, west: float, south: float, east: float, north: float, *, doctype: bool = True
) -> Path:
    """A minimal FGDC metadata file with ``idinfo/spdom/bounding`` (lon/lat degrees)."""
    path = Path(path)
    head = (
        '<!DOCTYPE metadata SYSTEM "http://www.fgdc.gov/metadata/fgdc-std-001-1998.dtd">\n'
        if doctype
        else ""
    )
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + head
        + "<metadata><idinfo><citation><citeinfo><title>test scene</title></citeinfo></citation>"
        "<spdom><bounding>"
        f"<westbc>{west}</westbc><eastbc>{east}</eastbc><northbc>{north}</northbc><southbc>{south}</southbc>"
        "</bounding></spdom></idinfo></metadata>\n"
    )
    return path


def write_huge_sparse_tiff(path: str | Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A tiny file whose header claims a huge image (sparse GeoTIFF: no blocks written)."""
    path = Path(path)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="uint8",
        tiled=True,
        blockxsize=1024,
        blockysize=1024,
        sparse_ok=True,
        crs="EPSG:32631",
        transform=utm_transform(),
    ):
        pass
    return path


def truncate(path: str | Path, keep_fraction: float = 0.5) -> Path:
    """Cut a file to a fraction of its size (a crashed copy or download)."""
    path = Path(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    return path


def write_rgba_geotiff(path: str | Path, width: int = 32, height: int = 32) -> Path:
    """RGBA GeoTIFF (alpha band marked as such) whose left half is transparent."""
    rng = np.random.default_rng(1)
    data = rng.integers(1, 255, size=(4, height, width)).astype("uint8")
    data[3] = 255
    data[3, :, : width // 2] = 0
    path = write_geotiff(path, width, height, count=4, data=data, photometric="RGB", alpha="YES")
    return path


def cut_tiles(
    source: str | Path, folder: str | Path, nx: int, ny: int, overlap: int = 0
) -> list[Path]:
    """Cut ``source`` into an ``nx`` x ``ny`` grid of GeoTIFF tiles (lossless, each reaching
    ``overlap`` pixels into its neighbours, as many tile grids do); return their paths."""
    from rasterio.windows import Window

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    with rasterio.open(source) as ds:
        xs = [round(i * ds.width / nx) for i in range(nx + 1)]
        ys = [round(j * ds.height / ny) for j in range(ny + 1)]
        for j in range(ny):
            for i in range(nx):
                c0, c1 = max(0, xs[i] - overlap), min(ds.width, xs[i + 1] + overlap)
                r0, r1 = max(0, ys[j] - overlap), min(ds.height, ys[j + 1] + overlap)
                window = Window(c0, r0, c1 - c0, r1 - r0)
                path = folder / f"tile_{j}_{i}.tif"
                with rasterio.open(
                    path,
                    "w",
                    driver="GTiff",
                    width=c1 - c0,
                    height=r1 - r0,
                    count=ds.count,
                    dtype=ds.dtypes[0],
                    crs=ds.crs,
                    transform=ds.transform @ Affine.translation(c0, r0),
                    nodata=ds.nodata,
                    compress="deflate",
                ) as dst:
                    dst.write(ds.read(window=window))
                paths.append(path)
    return paths
