"""open_image + ImageReader on generated tiny rasters: georeferencing sources, bands,
dtypes, masks, windows past the edges and every kind of bad input."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import CRS, Geod
from rasterio.errors import NotGeoreferencedWarning
from rasterio.transform import Affine

import rasters
from skyscan.errors import (
    CRSError,
    GeoreferenceError,
    ImageReadError,
    ImageTooLargeError,
    InputError,
    MetadataError,
)
from skyscan.geo.footprints import footprint_lonlat
from skyscan.io.reader import ImageReader, ReadOptions, open_image, to_uint8
from skyscan.types import ChipWindow


def read_all(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read()


# ------------------------------------------------------------------ georeferencing


def test_geotiff_utm_rgb(tmp_path: Path) -> None:
    p = rasters.write_geotiff(tmp_path / "scene.tif")
    ref = open_image(p)
    assert (ref.image_id, ref.width, ref.height, ref.count, ref.dtype) == (
        "scene",
        64,
        48,
        3,
        "uint8",
    )
    assert ref.crs == "EPSG:32631" and ref.georef_source == "geotiff"
    assert ref.transform == (0.5, 0.0, 594_000.0, 0.0, -0.5, 5_758_000.0)
    assert ref.gsd == pytest.approx(0.5)
    assert ref.rgb_bands == (1, 2, 3) and ref.value_range is None and ref.nodata is None


def test_geotiff_swiss_lv95_footprint(tmp_path: Path) -> None:
    p = rasters.write_geotiff(
        tmp_path / "zh.tif", crs="EPSG:2056", transform=rasters.lv95_transform(0.25)
    )
    ref = open_image(p)
    assert ref.crs == "EPSG:2056" and ref.gsd == pytest.approx(0.25)
    assert ref.transform is not None
    (lon, lat), *_ = footprint_lonlat(ref.transform, ref.crs, ref.width, ref.height)
    assert 8.4 < lon < 8.7 and 47.3 < lat < 47.5  # Zurich


def test_rotated_transform_keeps_gsd(tmp_path: Path) -> None:
    t = rasters.rotated_transform(0.5, 30.0)
    ref = open_image(rasters.write_geotiff(tmp_path / "rot.tif", transform=t))
    assert ref.transform == pytest.approx(tuple(t)[:6])
    assert ref.gsd == pytest.approx(0.5)


def test_geographic_crs_gsd_in_metres(tmp_path: Path) -> None:
    step = 1e-5  # degrees
    t = Affine(step, 0, 4.47, 0, -step, 51.92)
    ref = open_image(
        rasters.write_geotiff(tmp_path / "deg.tif", 100, 100, crs="EPSG:4326", transform=t)
    )
    geod = Geod(ellps="WGS84")
    lon, lat = 4.47 + 50 * step, 51.92 - 50 * step
    dx = geod.inv(lon, lat, lon + step, lat)[2]
    dy = geod.inv(lon, lat, lon, lat - step)[2]
    assert ref.gsd == pytest.approx(math.sqrt(dx * dy), rel=1e-3)
    assert 0.6 < ref.gsd < 0.9  # ~1.1 m north-south x ~0.69 m east-west at 52°N


def test_feet_crs_gsd_in_metres(tmp_path: Path) -> None:
    # EPSG:2236: NAD83 / Florida East (ftUS)
    t = Affine(1.0, 0, 600_000.0, 0, -1.0, 1_700_000.0)
    ref = open_image(rasters.write_geotiff(tmp_path / "ft.tif", crs="EPSG:2236", transform=t))
    assert ref.gsd == pytest.approx(1200 / 3937, rel=1e-9)  # one US survey foot


def test_png_worldfile_with_esri_prj(tmp_path: Path) -> None:
    wkt = CRS.from_epsg(32631).to_wkt(version="WKT1_ESRI")
    ref = open_image(rasters.write_png_with_worldfile(tmp_path / "w.png", prj_wkt=wkt))
    assert ref.georef_source == "worldfile" and ref.crs == "EPSG:32631"
    assert ref.transform == pytest.approx(tuple(rasters.utm_transform())[:6])


def test_jpeg_worldfile_with_prj(tmp_path: Path) -> None:
    t = rasters.lv95_transform(0.1)
    p = rasters.write_jpeg_with_worldfile(
        tmp_path / "w.jpg", transform=t, prj_wkt=CRS.from_epsg(2056).to_wkt()
    )
    ref = open_image(p)
    assert (ref.georef_source, ref.crs) == ("worldfile", "EPSG:2056")
    assert ref.gsd == pytest.approx(0.1)


def test_worldfile_without_prj_needs_user_crs(tmp_path: Path) -> None:
    p = rasters.write_png_with_worldfile(tmp_path / "w.png")
    with pytest.raises(CRSError, match=r"w\.png.*no CRS.*--crs"):
        open_image(p)
    ref = open_image(p, ReadOptions(crs="epsg:32631"))
    assert (ref.georef_source, ref.crs, ref.gsd) == ("user", "EPSG:32631", pytest.approx(0.5))


def test_garbage_prj_is_crs_error(tmp_path: Path) -> None:
    p = rasters.write_png_with_worldfile(tmp_path / "w.png", prj_wkt="PROJCS[nonsense")
    with pytest.raises(CRSError, match=r"w\.prj"):
        open_image(p)


def test_geotiff_transform_without_crs_is_crs_error(tmp_path: Path) -> None:
    p = tmp_path / "nocrs.tif"
    with rasterio.open(
        p,
        "w",
        driver="GTiff",
        width=8,
        height=8,
        count=1,
        dtype="uint8",
        transform=rasters.utm_transform(),
    ) as dst:
        dst.write(np.zeros((1, 8, 8), np.uint8))
    with pytest.raises(CRSError, match=r"nocrs\.tif"):
        open_image(p)


def test_aux_xml_georeferencing(tmp_path: Path) -> None:
    p = rasters.write_plain_png(tmp_path / "a.png")
    rasters.write_aux_xml(p, rasters.lv95_transform(0.5), CRS.from_epsg(2056).to_wkt())
    ref = open_image(p)
    assert (ref.georef_source, ref.crs) == ("aux.xml", "EPSG:2056")
    assert ref.transform == pytest.approx(tuple(rasters.lv95_transform(0.5))[:6])


def test_fgdc_sidecar_georeferencing(tmp_path: Path) -> None:
    p = rasters.write_plain_png(tmp_path / "f.png", 40, 20)
    rasters.write_fgdc_xml(tmp_path / "f.xml", west=4.40, south=51.90, east=4.42, north=51.91)
    ref = open_image(p)
    assert (ref.georef_source, ref.crs) == ("sidecar", "EPSG:4326")
    assert ref.transform is not None
    corners = footprint_lonlat(ref.transform, ref.crs, ref.width, ref.height)
    assert corners[0] == pytest.approx((4.40, 51.91)) and corners[2] == pytest.approx((4.42, 51.90))
    assert (
        ref.gsd is not None and 30 < ref.gsd < 60
    )  # 0.02° lon / 40 px ≈ 34 m; 0.01° lat / 20 px ≈ 56 m


def test_geotiff_wins_over_sidecar_position(tmp_path: Path) -> None:
    p = rasters.write_geotiff(tmp_path / "g.tif")
    rasters.write_fgdc_xml(tmp_path / "g.tif.xml", west=0, south=0, east=1, north=1)
    ref = open_image(p)
    assert ref.georef_source == "geotiff" and ref.crs == "EPSG:32631"


def test_user_mapping_sidecar_with_extras(tmp_path: Path) -> None:
    from skyscan.io.sidecar import XmlMapping

    p = rasters.write_plain_png(tmp_path / "v.png", 40, 30)
    (tmp_path / "v.xml").write_text(
        '<v:scene xmlns:v="urn:vendor"><v:id>SCN-42</v:id>'
        '<v:pos crs="32631"><v:e>594000.0</v:e><v:n>5758000.0</v:n></v:pos>'
        '<v:res unit="m">0.3</v:res><v:sensor name="WV3"/><v:date>2024-05-01</v:date></v:scene>'
    )
    mapping = XmlMapping(
        easting="v:pos/v:e",
        northing="v:pos/v:n",
        crs="v:pos/@crs",
        gsd="v:res",
        extra={"sensor": "v:sensor/@name", "acquired": "v:date", "absent": "v:nothing"},
        namespaces={"v": "urn:vendor"},
        image_id="/v:scene/v:id",
    )
    ref = open_image(p, ReadOptions(sidecar_mapping=mapping))
    assert (ref.georef_source, ref.crs, ref.image_id) == ("sidecar", "EPSG:32631", "SCN-42")
    assert ref.transform == (0.3, 0.0, 594000.0, 0.0, -0.3, 5758000.0)
    assert ref.gsd == pytest.approx(0.3)
    assert ref.metadata == {"sensor": "WV3", "acquired": "2024-05-01", "absent": None}


def test_sidecar_without_crs_uses_user_crs(tmp_path: Path) -> None:
    from skyscan.io.sidecar import XmlMapping

    p = rasters.write_plain_png(tmp_path / "v.png")
    (tmp_path / "v.png.xml").write_text("<m><e>2683000</e><n>1248000</n><g>0.5</g></m>")
    mapping = XmlMapping(easting="e", northing="n", gsd="g")
    with pytest.raises(CRSError, match=r"v\.png\.xml.*--crs"):
        open_image(p, ReadOptions(sidecar_mapping=mapping))
    ref = open_image(p, ReadOptions(sidecar_mapping=mapping, crs="EPSG:2056"))
    assert (ref.georef_source, ref.crs) == ("user", "EPSG:2056")


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<metadata><idinfo>&lol4;</idinfo></metadata>
"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE metadata [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<metadata><idinfo>&xxe;</idinfo></metadata>
"""


@pytest.mark.parametrize(
    "xml", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"]
)
def test_hostile_sidecar_is_refused(tmp_path: Path, xml: str) -> None:
    p = rasters.write_geotiff(tmp_path / "h.tif")
    (tmp_path / "h.xml").write_text(xml)
    with pytest.raises(MetadataError, match=r"h\.xml: refused hostile XML"):
        open_image(p)


def test_malformed_sidecar(tmp_path: Path) -> None:
    p = rasters.write_geotiff(tmp_path / "m.tif")
    (tmp_path / "m.xml").write_text("<metadata><idinfo></metadata>")
    with pytest.raises(MetadataError, match=r"m\.xml: malformed XML"):
        open_image(p)


def test_no_georef_is_pixel_space_or_error(tmp_path: Path) -> None:
    p = rasters.write_plain_png(tmp_path / "plain.png")
    ref = open_image(p)
    assert (ref.georef_source, ref.crs, ref.transform, ref.gsd) == ("none", None, None, None)
    assert not ref.is_georeferenced
    assert open_image(p, ReadOptions(gsd=0.13)).gsd == 0.13
    with pytest.raises(GeoreferenceError, match=r"plain\.png: no georeferencing"):
        open_image(p, ReadOptions(require_georef=True))


def test_user_gsd_does_not_override_georeferenced_gsd(tmp_path: Path) -> None:
    ref = open_image(rasters.write_geotiff(tmp_path / "g.tif"), ReadOptions(gsd=2.0))
    assert ref.gsd == pytest.approx(0.5)


# ------------------------------------------------------------------ bad inputs


def test_missing_zero_byte_and_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match=r"nope\.tif: cannot open"):
        open_image(tmp_path / "nope.tif")
    (tmp_path / "empty.tif").write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"empty\.tif: file is empty"):
        open_image(tmp_path / "empty.tif")
    (tmp_path / "text.tif").write_text("this is not an image\n" * 10)
    with pytest.raises(ImageReadError, match=r"text\.tif: cannot open as an image"):
        open_image(tmp_path / "text.tif")


@pytest.mark.parametrize("kind", ["tif", "png", "jpg"])
def test_truncated_files_fail_with_image_read_error(tmp_path: Path, kind: str) -> None:
    data = np.random.default_rng(0).integers(0, 255, (3, 256, 256), dtype=np.uint8)
    if kind == "tif":
        p = rasters.write_geotiff(tmp_path / "t.tif", 256, 256, data=data)
    else:
        p = tmp_path / f"t.{kind}"
        with warnings.catch_warnings():  # a plain image, not georeferenced on purpose
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(
                p,
                "w",
                driver="PNG" if kind == "png" else "JPEG",
                width=256,
                height=256,
                count=3,
                dtype="uint8",
            ) as dst:
                dst.write(data)
    rasters.truncate(p, 0.6)
    with pytest.raises(ImageReadError, match=f"t\\.{kind}"):
        ref = open_image(p)
        with ImageReader(ref) as reader:
            reader.read_chip(ChipWindow(0, 0, 256, 256, 256, 256))


def test_absurd_dimensions_refused_before_reading(tmp_path: Path) -> None:
    p = rasters.write_huge_sparse_tiff(tmp_path / "huge.tif", 60_000, 50_000)
    assert p.stat().st_size < 2_000_000
    with pytest.raises(ImageTooLargeError, match=r"huge\.tif: 60000 x 50000"):
        open_image(p)
    ref = open_image(p, ReadOptions(max_pixels=4_000_000_000))
    assert ref.width == 60_000


# ------------------------------------------------------------------ bands and dtypes


def test_uint16_pan_scaled_with_robust_range(tmp_path: Path) -> None:
    data = np.linspace(1000, 2000, 64 * 48).reshape(1, 48, 64).astype(np.uint16)
    p = rasters.write_geotiff(tmp_path / "pan.tif", count=1, dtype="uint16", data=data)
    ref = open_image(p)
    assert ref.rgb_bands == (1, 1, 1) and ref.dtype == "uint16"
    assert ref.value_range == pytest.approx((1020.0, 1980.0), abs=1.0)
    with ImageReader(ref) as reader:
        chip = reader.read_chip(ChipWindow(0, 0, 64, 48, 64, 48))
    assert chip.shape == (48, 64, 3) and chip.dtype == np.uint8
    assert (chip[..., 0] == chip[..., 1]).all() and (chip[..., 1] == chip[..., 2]).all()
    assert np.array_equal(chip[..., 0], to_uint8(data[0], ref.value_range))
    assert chip[0, 0, 0] == 0 and chip[-1, -1, 0] == 255  # below/above the range clip


def test_value_range_sample_is_decimated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import skyscan.io.reader as reader_mod

    monkeypatch.setattr(reader_mod, "SAMPLE_SIZE", 16)
    seen: list[tuple[int, ...]] = []
    real_read = rasterio.io.DatasetReader.read

    def spy(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(kwargs.get("out_shape"))
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(rasterio.io.DatasetReader, "read", spy)
    p = rasters.write_geotiff(tmp_path / "pan.tif", 200, 100, count=1, dtype="uint16")
    open_image(p)
    assert seen == [(1, 8, 16)]


def test_nodata_excluded_from_range_and_zero_in_chip(tmp_path: Path) -> None:
    data = np.full((1, 20, 20), 500, np.uint16)
    data[0, :, 10:] = 1500
    data[0, :5, :] = 0  # nodata stripe
    p = rasters.write_geotiff(
        tmp_path / "nd.tif", 20, 20, count=1, dtype="uint16", data=data, nodata=0
    )
    ref = open_image(p)
    assert ref.nodata == 0.0
    assert ref.value_range == pytest.approx((500.0, 1500.0))
    with ImageReader(ref) as reader:
        chip = reader.read_chip(ChipWindow(0, 0, 20, 20, 20, 20), resampling="nearest")
    assert (chip[:5] == 0).all()
    assert (chip[5:, :10] == 0).all() and (chip[5:, 10:] == 255).all()


def test_rgba_alpha_masked_to_zero(tmp_path: Path) -> None:
    p = rasters.write_rgba_geotiff(tmp_path / "rgba.tif", 32, 32)
    ref = open_image(p)
    assert ref.rgb_bands == (1, 2, 3) and ref.count == 4
    src = read_all(p)
    with ImageReader(ref) as reader:
        chip = reader.read_chip(ChipWindow(0, 0, 32, 32, 32, 32))
    assert (chip[:, :16] == 0).all()
    assert np.array_equal(chip[:, 16:], np.moveaxis(src[:3, :, 16:], 0, -1))


def test_multispectral_float_defaults_and_override(tmp_path: Path) -> None:
    data = np.stack([np.full((10, 10), v, np.float64) for v in (0.1, 0.2, 0.3, 0.9)])
    data[0, 0, 0] = 0.0
    p = rasters.write_geotiff(tmp_path / "ms.tif", 10, 10, count=4, dtype="float64", data=data)
    ref = open_image(p)
    assert ref.rgb_bands == (1, 2, 3) and ref.dtype == "float64"
    ref2 = open_image(p, ReadOptions(rgb_bands=(4, 3, 2)))
    assert ref2.rgb_bands == (4, 3, 2)
    with ImageReader(ref2) as reader:
        chip = reader.read_chip(ChipWindow(0, 0, 10, 10, 10, 10))
    assert chip[5, 5, 0] > chip[5, 5, 1] > chip[5, 5, 2]  # NIR brightest, then red, green
    with pytest.raises(InputError, match="exceeds the image's 4 bands"):
        open_image(p, ReadOptions(rgb_bands=(5, 3, 2)))


# ------------------------------------------------------------------ windows


@pytest.fixture()
def gradient(tmp_path: Path) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(3)
    data = rng.integers(1, 255, (3, 48, 64), dtype=np.uint8)
    return rasters.write_geotiff(tmp_path / "g.tif", 64, 48, data=data), data


def test_window_inside_is_exact(gradient: tuple[Path, np.ndarray]) -> None:
    p, data = gradient
    with ImageReader(open_image(p)) as reader:
        chip = reader.read_chip(ChipWindow(5, 7, 20, 10, 20, 10))
    assert np.array_equal(chip, np.moveaxis(data[:, 7:17, 5:25], 0, -1))


def test_window_past_edges_is_zero_padded(gradient: tuple[Path, np.ndarray]) -> None:
    p, data = gradient
    with ImageReader(open_image(p)) as reader:
        tl = reader.read_chip(ChipWindow(-8, -6, 32, 32, 32, 32))
        br = reader.read_chip(ChipWindow(50, 40, 32, 32, 32, 32))
        outside = reader.read_chip(ChipWindow(100, 100, 16, 16, 8, 8))
    assert (tl[:6] == 0).all() and (tl[:, :8] == 0).all()
    assert np.array_equal(tl[6:, 8:], np.moveaxis(data[:, :26, :24], 0, -1))
    assert np.array_equal(br[:8, :14], np.moveaxis(data[:, 40:, 50:], 0, -1))
    assert (br[8:] == 0).all() and (br[:, 14:] == 0).all()
    assert outside.shape == (8, 8, 3) and not outside.any()


def test_padding_is_zeroed_over_stale_batch_memory(gradient: tuple[Path, np.ndarray]) -> None:
    """Batches are not zeroed when allocated: a chip past the edge zeroes its own padding."""
    p, data = gradient
    with ImageReader(open_image(p)) as reader:
        past = np.full((3, 32, 32), 255, np.uint8)
        reader._read_into(
            past, ChipWindow(-8, -6, 32, 32, 32, 32), rasterio.enums.Resampling.bilinear
        )
        outside = np.full((3, 8, 8), 255, np.uint8)
        reader._read_into(
            outside, ChipWindow(100, 100, 16, 16, 8, 8), rasterio.enums.Resampling.bilinear
        )
    assert (past[:, :6] == 0).all() and (past[:, :, :8] == 0).all()
    assert np.array_equal(past[:, 6:, 8:], data[:, :26, :24])
    assert not outside.any()


def test_downsampled_window_matches_block_average(gradient: tuple[Path, np.ndarray]) -> None:
    p, data = gradient
    with ImageReader(open_image(p)) as reader:
        chip = reader.read_chip(ChipWindow(0, 0, 64, 48, 32, 24), resampling="average")
    expected = data.reshape(3, 24, 2, 32, 2).astype(float).mean(axis=(2, 4))
    assert np.abs(chip.astype(float) - np.moveaxis(expected, 0, -1)).max() <= 1.0


# rasterio's boundless read multiplies affines with `*` (pending deprecation in affine 2.4)
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_downsampled_window_past_edge_matches_boundless_read(
    gradient: tuple[Path, np.ndarray],
) -> None:
    p, _ = gradient
    window = ChipWindow(-16, -16, 64, 64, 32, 32)
    with ImageReader(open_image(p)) as reader:
        chip = reader.read_chip(window, resampling="average")
    with rasterio.open(p) as ds:
        ref = ds.read(
            window=rasterio.windows.Window(-16, -16, 64, 64),
            out_shape=(3, 32, 32),
            boundless=True,
            resampling=rasterio.enums.Resampling.average,
        )
    assert (chip[:8] == 0).all() and (chip[:, :8] == 0).all()
    assert np.abs(chip[8:, 8:].astype(int) - np.moveaxis(ref, 0, -1)[8:, 8:]).max() <= 1


def test_bad_resampling_and_window(gradient: tuple[Path, np.ndarray]) -> None:
    p, _ = gradient
    with ImageReader(open_image(p)) as reader:
        with pytest.raises(InputError, match="'resampling' must be one of"):
            reader.read_chip(ChipWindow(0, 0, 8, 8, 8, 8), resampling="fancy")
        with pytest.raises(InputError, match="window sizes must be positive"):
            reader.read_chip(ChipWindow(0, 0, 0, 8, 8, 8))


# ------------------------------------------------------------------ options


def test_read_options_validation(tmp_path: Path) -> None:
    with pytest.raises(CRSError, match="'crs' option"):
        ReadOptions(crs="EPSG:99999999")
    for gsd in (-1.0, 0.0, 1e-300, float("nan"), float("inf"), 1e9):
        with pytest.raises(InputError, match="'gsd' must be a number of metres per pixel between"):
            ReadOptions(gsd=gsd)
    with pytest.raises(InputError, match="'max_pixels'"):
        ReadOptions(max_pixels=0)
    with pytest.raises(InputError, match="'rgb_bands'"):
        ReadOptions(rgb_bands=(0, 1, 2))
    with pytest.raises(MetadataError, match="metadata table not found"):
        ReadOptions(metadata_table=str(tmp_path / "none.csv"))
    assert ReadOptions(crs="epsg:2056").crs == "EPSG:2056"


def test_metadata_table_joined(tmp_path: Path) -> None:
    p = rasters.write_geotiff(tmp_path / "scene.tif")
    table = tmp_path / "meta.csv"
    table.write_text("image_id,flight,altitude\nscene,F7,1200\nother,F8,900\n")
    (tmp_path / "scene.xml").write_text("<m><pilot>Ann</pilot><flight>from-xml</flight></m>")
    from skyscan.io.sidecar import XmlMapping

    ref = open_image(
        p,
        ReadOptions(
            metadata_table=str(table),
            sidecar_mapping=XmlMapping(extra={"pilot": "pilot", "flight": "flight"}),
        ),
    )
    assert ref.metadata == {"pilot": "Ann", "flight": "F7", "altitude": "1200"}
    assert ref.image_id == "scene"


def test_cog_with_overviews(tmp_path: Path) -> None:
    data = np.linspace(100, 4000, 512 * 512).reshape(1, 512, 512).astype(np.uint16)
    p = tmp_path / "cog.tif"
    with rasterio.open(
        p,
        "w",
        driver="COG",
        width=512,
        height=512,
        count=1,
        dtype="uint16",
        crs="EPSG:32631",
        transform=rasters.utm_transform(),
        overview_count=2,
        blocksize=256,
    ) as dst:
        dst.write(data)
    with rasterio.open(p) as ds:
        assert ds.overviews(1)  # a real COG with overviews
    ref = open_image(p)
    assert (ref.georef_source, ref.crs, ref.rgb_bands) == ("geotiff", "EPSG:32631", (1, 1, 1))
    assert ref.value_range is not None
    assert ref.value_range[0] == pytest.approx(178, abs=15) and ref.value_range[1] == pytest.approx(
        3922, abs=15
    )
    with ImageReader(ref) as reader:
        chip = reader.read_chip(ChipWindow(256, 256, 512, 512, 128, 128))
    assert chip.shape == (128, 128, 3) and not chip[64:].any()  # lower half is past the edge


def test_gcps_become_an_affine_transform(tmp_path: Path) -> None:
    from rasterio.control import GroundControlPoint

    gcps = [
        GroundControlPoint(row=r, col=c, x=594_000 + 0.5 * c, y=5_758_000 - 0.5 * r)
        for r, c in [(0, 0), (0, 64), (48, 0), (48, 64)]
    ]
    p = tmp_path / "gcp.tif"
    with rasterio.open(
        p,
        "w",
        driver="GTiff",
        width=64,
        height=48,
        count=1,
        dtype="uint8",
        gcps=gcps,
        crs="EPSG:32631",
    ) as dst:
        dst.write(np.ones((1, 48, 64), np.uint8))
    ref = open_image(p)
    assert ref.crs == "EPSG:32631" and ref.georef_source == "geotiff"
    assert ref.transform == pytest.approx((0.5, 0.0, 594_000.0, 0.0, -0.5, 5_758_000.0))


@pytest.fixture(scope="module")
def small_tif(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    data = np.random.default_rng(5).integers(1, 255, (3, 23, 31), dtype=np.uint8)
    return rasters.write_geotiff(tmp_path_factory.mktemp("prop") / "s.tif", 31, 23, data=data), data


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    col=st.integers(-40, 40), row=st.integers(-30, 30), w=st.integers(1, 50), h=st.integers(1, 50)
)
def test_unresampled_window_equals_zero_padded_crop(
    small_tif: tuple[Path, np.ndarray], col: int, row: int, w: int, h: int
) -> None:
    p, data = small_tif
    m = 100  # margin larger than any offset + size drawn below
    padded = np.zeros((3, 23 + 2 * m, 31 + 2 * m), np.uint8)
    padded[:, m : m + 23, m : m + 31] = data
    expected = np.moveaxis(padded[:, row + m : row + m + h, col + m : col + m + w], 0, -1)
    with ImageReader(open_image(p)) as reader:
        chip = reader.read_chip(ChipWindow(col, row, w, h, w, h))
    assert np.array_equal(chip, expected)


def test_paletted_band_is_expanded_through_its_colour_table(tmp_path: Path) -> None:
    idx = np.zeros((1, 8, 8), np.uint8)
    idx[0, :, 2:5] = 1
    idx[0, :, 5:] = 2
    p = tmp_path / "pal.tif"
    with rasterio.open(
        p,
        "w",
        driver="GTiff",
        width=8,
        height=8,
        count=1,
        dtype="uint8",
        crs="EPSG:32631",
        transform=rasters.utm_transform(),
        photometric="palette",
    ) as dst:
        dst.write(idx)
        dst.write_colormap(1, {0: (9, 9, 9, 255), 1: (255, 0, 0, 255), 2: (0, 200, 50, 255)})
    ref = open_image(p)
    assert ref.rgb_bands == (1, 1, 1)
    with ImageReader(ref) as reader:
        chip = reader.read_chip(ChipWindow(0, 0, 8, 8, 8, 8))
        half = reader.read_chip(ChipWindow(0, 0, 8, 8, 4, 4))  # bilinear asked, nearest used
    assert (chip[:, :2] == 9).all()
    assert (chip[:, 2:5] == (255, 0, 0)).all() and (chip[:, 5:] == (0, 200, 50)).all()
    assert {tuple(v) for v in half.reshape(-1, 3)} <= {(9, 9, 9), (255, 0, 0), (0, 200, 50)}


def test_sidecar_corner_without_gsd_uses_user_gsd(tmp_path: Path) -> None:
    from skyscan.io.sidecar import XmlMapping

    p = rasters.write_plain_png(tmp_path / "c.png")
    (tmp_path / "c.xml").write_text("<m><e>2683000</e><n>1248000</n><epsg>2056</epsg></m>")
    mapping = XmlMapping(easting="e", northing="n", crs="epsg")
    with pytest.raises(MetadataError, match=r"c\.xml: a corner needs a positive GSD.*--gsd"):
        open_image(p, ReadOptions(sidecar_mapping=mapping))
    ref = open_image(p, ReadOptions(sidecar_mapping=mapping, gsd=0.4))
    assert ref.transform == (0.4, 0.0, 2683000.0, 0.0, -0.4, 1248000.0)
    assert (ref.crs, ref.georef_source, ref.gsd) == ("EPSG:2056", "sidecar", pytest.approx(0.4))


def test_tiff_with_tfw_and_prj_but_no_tags(tmp_path: Path) -> None:
    p = rasters.write_geotiff(tmp_path / "t.tif", crs=None)
    (tmp_path / "t.tfw").write_text("0.5\n0\n0\n-0.5\n594000.25\n5757999.75\n")
    with pytest.raises(CRSError, match=r"t\.tif: has a transform \(worldfile\) but no CRS"):
        open_image(p)
    (tmp_path / "t.prj").write_text(CRS.from_epsg(32631).to_wkt(version="WKT1_ESRI"))
    ref = open_image(p)
    assert (ref.georef_source, ref.crs) == ("worldfile", "EPSG:32631")
    assert ref.transform == (0.5, 0.0, 594000.0, 0.0, -0.5, 5758000.0)
    # The same world file beside a GeoTIFF with its own tags: the tags get the credit.
    q = rasters.write_geotiff(tmp_path / "g.tif")
    (tmp_path / "g.tfw").write_text((tmp_path / "t.tfw").read_text())
    assert open_image(q).georef_source == "geotiff"
