"""Imagery overlays: decimated reads, reprojection to Web Mercator, bad files as notes."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest

from rasters import lv95_transform, rotated_transform, utm_transform, write_geotiff
from skyscan.errors import GeoreferenceError, ImageReadError, InputError
from skyscan.viz.imagery import load_overlays, render_overlay


def _decode(uri: str) -> np.ndarray:
    import warnings

    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile

    raw = base64.b64decode(uri.split(",", 1)[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile(raw) as mem, mem.open() as src:
            return src.read()


@pytest.mark.parametrize(
    "transform,crs",
    [
        (utm_transform(0.5), "EPSG:32631"),
        (lv95_transform(0.5), "EPSG:2056"),
        (rotated_transform(0.5), "EPSG:32631"),
    ],
)
def test_bounds_cover_the_footprint(tmp_path: Path, transform: object, crs: str) -> None:
    from rasterio.warp import transform_bounds

    tif = write_geotiff(tmp_path / "a.tif", 64, 48, transform=transform, crs=crs)
    overlay = render_overlay(tif)
    corners = [transform @ (c, r) for c in (0, 64) for r in (0, 48)]  # type: ignore[operator]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    west, south, east, north = transform_bounds(
        crs, "EPSG:4326", min(xs), min(ys), max(xs), max(ys)
    )
    tol = 2e-6  # a fraction of a pixel in degrees
    assert overlay.west <= west + tol and overlay.east >= east - tol
    assert overlay.south <= south + tol and overlay.north >= north - tol
    assert overlay.east - overlay.west < (east - west) * 1.2
    assert overlay.data_uri.startswith(("data:image/webp;base64,", "data:image/png;base64,"))


def test_large_image_is_decimated_and_outside_is_transparent(tmp_path: Path) -> None:
    tif = write_geotiff(
        tmp_path / "big.tif",
        2000,
        1000,
        count=1,
        dtype="uint16",
        transform=rotated_transform(0.5, 20.0),
    )
    overlay = render_overlay(tif, max_size=200)
    assert max(overlay.width, overlay.height) <= 300  # 200 px source, grown by the rotation
    rgba = _decode(overlay.data_uri)
    assert rgba.shape[0] == 4
    assert rgba[3, 0, 0] == 0 and rgba[3].max() == 255  # rotated corner transparent


def test_nodata_becomes_transparent(tmp_path: Path) -> None:
    data = np.full((3, 40, 40), 120, np.uint8)
    data[:, :, :20] = 0
    tif = write_geotiff(tmp_path / "nd.tif", 40, 40, data=data, nodata=0)
    rgba = _decode(render_overlay(tif).data_uri)
    h, w = rgba.shape[1:]
    assert rgba[3, h // 2, w // 5] == 0 and rgba[3, h // 2, 4 * w // 5] == 255


def test_unplaceable_and_unreadable_images(tmp_path: Path) -> None:
    plain = write_geotiff(tmp_path / "plain.tif", 16, 16, crs=None)
    with pytest.raises(GeoreferenceError, match="no CRS"):
        render_overlay(plain)
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"not an image")
    with pytest.raises(ImageReadError, match=r"junk\.tif"):
        render_overlay(junk)
    with pytest.raises(InputError, match="max_size"):
        render_overlay(plain, max_size=2)


def test_load_overlays_turns_failures_into_notes(tmp_path: Path) -> None:
    good = write_geotiff(tmp_path / "good.tif", 16, 16)
    for i in range(5):
        write_geotiff(tmp_path / f"plain{i}.tif", 16, 16, crs=None)
    (tmp_path / "junk.tif").write_bytes(b"junk")
    overlays, notes = load_overlays([str(tmp_path), str(tmp_path / "nothing-*.tif")])
    assert [o.name for o in overlays] == [good.name]
    text = " | ".join(notes)
    assert "5 image(s) have no CRS/transform" in text and "and 2 more" in text
    assert "junk.tif" in text and "glob matched no image files" in text
