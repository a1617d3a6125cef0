"""Integration: every real GeoTIFF in ../shared/data/georef opens with a CRS, a plausible
GSD and a footprint in the right part of the world; KIT PNGs open in pixel space."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skyscan.geo.footprints import footprint_lonlat
from skyscan.io import ImageReader, ReadOptions, expand_inputs, open_image
from skyscan.types import ChipWindow

pytestmark = pytest.mark.shared_data

# folder (or file stem) -> (place, lon range, lat range)
REGIONS = {
    "spacenet/sample_geotiff": ("Atlanta", (-84.6, -84.3), (33.5, 33.9)),
    "spacenet": ("Rotterdam", (4.2, 4.6), (51.8, 52.0)),
    "orthophotos/pix4d_alpha_nodata": ("Bali", (115.0, 115.4), (-8.8, -8.4)),
    "orthophotos": ("Colorado", (-105.5, -104.0), (38.5, 39.5)),
    "swissimage-zurich": ("Zurich", (8.3, 8.8), (47.2, 47.5)),
    "neon-osbs": ("Florida", (-82.2, -81.8), (29.5, 29.9)),
    "landsat": ("Bahamas/Florida strait (Landsat)", (-79.5, -76.0), (23.0, 26.0)),
    "gorinchem": ("Gorinchem", (4.9, 5.1), (51.8, 51.9)),
}


def region_for(rel: str) -> tuple[str, tuple[float, float], tuple[float, float]]:
    for key in sorted(REGIONS, key=len, reverse=True):
        if rel.startswith(key):
            return REGIONS[key]
    raise AssertionError(f"no expected region for {rel}")


def georef_tifs(root: Path) -> list[str]:
    paths, failures = expand_inputs([str(root / "georef" / "**" / "*.tif")])
    assert failures == []
    return paths


def test_every_georef_tif_opens_with_crs_gsd_and_right_place(shared_data: Path) -> None:
    paths = georef_tifs(shared_data)
    assert len(paths) >= 30
    seen_places = set()
    for path in paths:
        rel = Path(path).relative_to(shared_data / "georef").as_posix()
        ref = open_image(path, ReadOptions(require_georef=True))
        assert ref.crs is not None and ref.crs.startswith("EPSG:"), rel
        assert ref.transform is not None and ref.georef_source == "geotiff", rel
        assert ref.gsd is not None and 0.1 - 1e-9 <= ref.gsd <= 300.1, (rel, ref.gsd)
        place, (lon0, lon1), (lat0, lat1) = region_for(rel)
        for lon, lat in footprint_lonlat(ref.transform, ref.crs, ref.width, ref.height):
            assert lon0 < lon < lon1 and lat0 < lat < lat1, (rel, place, lon, lat)
        seen_places.add(place)
    assert {"Rotterdam", "Atlanta", "Colorado", "Bali", "Zurich", "Florida"} <= seen_places


def test_known_gsds_and_crss(shared_data: Path) -> None:
    g = shared_data / "georef"
    expected = {
        "spacenet/pan1.tif": ("EPSG:32631", 0.5, (1, 1, 1)),
        "spacenet/ms1.tif": ("EPSG:32631", 1.0, (1, 2, 3)),
        "spacenet/sample_geotiff.tif": ("EPSG:32616", 0.5, (1, 1, 1)),
        "orthophotos/201404_13SED190110_201404_0x1500m_CL_1.tif": ("EPSG:26913", 0.15, (1, 2, 3)),
        "orthophotos/pix4d_alpha_nodata.tif": ("EPSG:32750", 0.35, (1, 2, 3)),
        "swissimage-zurich/lidar_ref-img.tif": ("EPSG:2056", 0.5, (1, 2, 3)),
        "neon-osbs/OSBS_029.tif": ("EPSG:32617", 0.1, (1, 2, 3)),
    }
    for rel, (crs, gsd, bands) in expected.items():
        ref = open_image(g / rel)
        assert (ref.crs, ref.rgb_bands) == (crs, bands), rel
        assert ref.gsd == pytest.approx(gsd, rel=0.02), rel


def test_chips_from_real_images(shared_data: Path) -> None:
    g = shared_data / "georef"
    # uint16 pan: scaled to the full 0..255 range, grey.
    pan = open_image(g / "spacenet/pan1.tif")
    with ImageReader(pan) as reader:
        chip = reader.read_chip(ChipWindow(0, 0, 600, 600, 300, 300))
    assert chip.shape == (300, 300, 3) and (chip[..., 0] == chip[..., 2]).all()
    lo, hi = np.percentile(chip[..., 0], [2, 98])
    assert lo <= 10 and hi >= 245
    # RGBA orthomosaic with a transparent border: the corners are masked to 0.
    rgba = open_image(g / "orthophotos/pix4d_alpha_nodata.tif")
    with ImageReader(rgba) as reader:
        chip = reader.read_chip(
            ChipWindow(-100, -100, rgba.width + 200, rgba.height + 200, 256, 256)
        )
    assert not chip[:20, :20].any() and chip[100:150, 100:150].any()


def test_kit_pngs_are_pixel_space(shared_data: Path) -> None:
    paths, failures = expand_inputs([shared_data / "kit-ais-munich" / "images"])
    assert failures == [] and len(paths) == 45
    for path in paths[:5]:
        ref = open_image(path, ReadOptions(gsd=0.13))
        assert (ref.georef_source, ref.crs, ref.transform) == ("none", None, None)
        assert ref.gsd == 0.13 and ref.dtype == "uint8" and ref.rgb_bands == (1, 2, 3)
