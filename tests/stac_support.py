"""STAC fixtures made for real: tiny COGs with blobs, static catalogs written with pystac,
stac-geoparquet files, and a real STAC API (stac-fastapi-geoparquet under uvicorn) on
loopback in a child process.

The API serves a stac-geoparquet file through DuckDB's spatial extension; the extension
comes from the ``rustac-duckdb-extensions`` package (nothing is downloaded at run time).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine

from rasters import write_cog

CRS = "EPSG:2056"
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


@dataclass(frozen=True)
class Scene:
    """One generated COG and the item that describes it."""

    item_id: str
    path: Path
    datetime: str
    blobs: int
    cloud_cover: float


def write_scenes(root: Path, dates: list[str], *, seed: int = 3) -> list[Scene]:
    """One 192 x 160 px COG per date, side by side near Zurich, with blobs (a few each)."""
    from skyscan.detectors.synthetic import draw_blobs

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    scenes = []
    for k, when in enumerate(dates):
        n = 2 + k
        data = np.zeros((3, 160, 192), np.uint8)
        blobs = [
            (float(c), float(r), int(rng.integers(0, 3))) for c, r in rng.integers(16, 144, (n, 2))
        ]
        draw_blobs(data, blobs, sigma=3.0)
        t = Affine(0.5, 0, 2_683_000 + 200 * k, 0, -0.5, 1_248_000)
        path = write_cog(root / f"scene_{k}.tif", data, t, CRS)
        scenes.append(Scene(f"scene-{k}", path, when, n, float(10 * k)))
    return scenes


def item_for(scene: Scene, href: str | None = None, collection: str | None = "swiss") -> Any:
    """A pystac Item for ``scene`` (geometry from the COG's bounds, in lon/lat)."""
    import pystac
    import rasterio
    import shapely
    from pystac.utils import str_to_datetime
    from rasterio.warp import transform_bounds

    with rasterio.open(scene.path) as ds:
        bounds = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
    geometry = shapely.geometry.mapping(shapely.box(*bounds))
    item = pystac.Item(
        scene.item_id,
        geometry,
        list(bounds),
        str_to_datetime(scene.datetime),
        {"eo:cloud_cover": scene.cloud_cover, "platform": "drone"},
        collection=collection,
    )
    item.add_asset(
        "thumbnail", pystac.Asset("thumb.png", media_type="image/png", roles=["thumbnail"])
    )
    item.add_asset(
        "visual", pystac.Asset(href or str(scene.path), media_type=COG_TYPE, roles=["visual"])
    )
    return item


def write_catalog(root: Path, scenes: list[Scene], *, extra_items: list[Any] = ()) -> Path:
    """A static catalog -> collection -> items tree under ``root``, relative links and
    relative asset hrefs (so it can be served over HTTP as it is); returns catalog.json."""
    import os

    import pystac

    catalog = pystac.Catalog("root", "skyscan test catalog")
    extent = pystac.Extent(
        pystac.SpatialExtent([[8.0, 47.0, 9.0, 48.0]]), pystac.TemporalExtent([[None, None]])
    )
    collection = pystac.Collection("swiss", "test scenes", extent)
    catalog.add_child(collection)
    for scene in scenes:
        collection.add_item(item_for(scene))
    for item in extra_items:
        collection.add_item(item)
    catalog.normalize_hrefs(str(root))
    # asset hrefs relative to each item's JSON, as a published catalog has them
    for item in collection.get_items():
        for asset in item.assets.values():
            if os.path.isabs(asset.href):
                asset.href = os.path.relpath(asset.href, os.path.dirname(item.get_self_href()))
    catalog.save(pystac.CatalogType.RELATIVE_PUBLISHED)
    return root / "catalog.json"


def write_geoparquet(items: list[Any], path: Path) -> Path:
    """The items as a stac-geoparquet file (stac-geoparquet's own writer)."""
    from stac_geoparquet.arrow import parse_stac_items_to_arrow, to_parquet

    to_parquet(parse_stac_items_to_arrow([i.to_dict() for i in items]), path)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def stac_api(geoparquet: Path) -> Iterator[str]:
    """stac-fastapi-geoparquet serving ``geoparquet`` on loopback; yields its root URL."""
    import pytest

    for module in ("stac_fastapi.geoparquet", "uvicorn", "rustac_duckdb_extensions"):
        pytest.importorskip(module, reason=f"{module} is not installed (pip install -e '.[dev]')")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, str(geoparquet), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"STAC API did not start: {proc.stderr.read() if proc.stderr else ''}"
                    ) from None
                if time.monotonic() > deadline:
                    raise RuntimeError("STAC API did not answer within 60 s") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _serve(geoparquet: str, port: int) -> None:
    """Run the API (in the child process): DuckDB loads its bundled extensions."""
    import functools
    import os

    import rustac
    import rustac_duckdb_extensions
    import stac_fastapi.geoparquet.api as api
    import uvicorn

    os.environ["STAC_FASTAPI_GEOPARQUET_HREF"] = geoparquet
    api.DuckdbClient = functools.partial(  # type: ignore[attr-defined]
        rustac.DuckdbClient,
        extension_directory=str(rustac_duckdb_extensions.extension_directory()),
        install_extensions=False,
    )
    uvicorn.run(api.create().app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")
    _serve(sys.argv[1], int(sys.argv[2]))
