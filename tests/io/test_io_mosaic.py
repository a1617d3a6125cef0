"""Mosaic VRTs of tiny generated tiles: layout, refusals, chip groups and row names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from rasters import cut_tiles, lv95_transform, rotated_transform, utm_transform, write_geotiff
from skyscan.chips import plan_chips
from skyscan.errors import InputError
from skyscan.io.mosaic import (
    build_vrt,
    mosaic_name,
    mosaic_tiles,
    row_image_ids,
    row_tiles,
    window_groups,
)
from skyscan.io.reader import ImageReader, open_image
from skyscan.types import ChipWindow


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    return write_geotiff(tmp_path / "scene.tif", 90, 70, transform=utm_transform(0.5), seed=3)


def test_tiles_cut_from_a_scene_rebuild_it_pixel_for_pixel(scene: Path, tmp_path: Path) -> None:
    tiles = cut_tiles(scene, tmp_path / "tiles", 2, 2, overlap=5)
    vrt, failures = build_vrt([str(p) for p in tiles], tmp_path / "m.vrt")
    assert failures == []
    whole, mosaic = open_image(scene), open_image(vrt)
    assert (mosaic.width, mosaic.height, mosaic.transform, mosaic.gsd) == (
        whole.width,
        whole.height,
        whole.transform,
        whole.gsd,
    )
    # windows across both seams, padded past the edges and resampled as the model reads them
    windows = [ChipWindow(c, r, 40, 40, 32, 32) for c in (-8, 25, 50) for r in (-8, 20, 38)]
    with ImageReader(whole) as a, ImageReader(mosaic) as b:
        np.testing.assert_array_equal(a.read_chips(windows), b.read_chips(windows))
    found = mosaic_tiles(str(vrt))
    assert [t.tile_id for t in found] == ["tile_0_0", "tile_0_1", "tile_1_0", "tile_1_1"]
    assert [(t.col_off, t.row_off) for t in found] == [(0, 0), (40, 0), (0, 30), (40, 30)]


def test_the_same_tiles_always_give_the_same_vrt(scene: Path, tmp_path: Path) -> None:
    tiles = [str(p) for p in cut_tiles(scene, tmp_path / "tiles", 3, 1)]
    a, _ = build_vrt(tiles, tmp_path / "a.vrt")
    b, _ = build_vrt(list(reversed(tiles)), tmp_path / "b.vrt")
    assert a.read_text() == b.read_text()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"crs": "EPSG:2056", "transform": lv95_transform(0.5)}, "has CRS EPSG:2056"),
        ({"transform": utm_transform(0.25, x0=594_045.0)}, "has pixels of 0.25"),
        ({"transform": utm_transform(0.5, x0=594_045.2)}, "off the mosaic's pixel grid"),
        ({"transform": rotated_transform(0.5)}, "is rotated"),
        ({"count": 4}, "has 4 bands"),
        ({"dtype": "uint16"}, "of uint16"),
    ],
)
def test_tiles_that_do_not_share_one_grid_are_refused_by_name(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    first = write_geotiff(tmp_path / "a.tif", 90, 70, transform=utm_transform(0.5))
    other = write_geotiff(
        tmp_path / "b.tif", 30, 30, **{"transform": utm_transform(0.5, x0=594_045.0), **kwargs}
    )
    with pytest.raises(InputError, match=message) as err:
        build_vrt([str(first), str(other)], tmp_path / "m.vrt")
    assert str(other) in str(err.value) and str(first) in str(err.value)
    assert not (tmp_path / "m.vrt").exists()


def test_a_tile_that_cannot_be_opened_is_a_failure_not_the_end(scene: Path, tmp_path: Path) -> None:
    tiles = [str(p) for p in cut_tiles(scene, tmp_path / "tiles", 2, 1)]
    bad = tmp_path / "tiles" / "broken.tif"
    bad.write_bytes(b"II*\x00" + b"\x00" * 32)
    vrt, failures = build_vrt([*tiles, str(bad)], tmp_path / "m.vrt")
    assert [(f.path, f.stage) for f in failures] == [(str(bad), "read")]
    assert len(mosaic_tiles(str(vrt))) == 2


def test_chips_are_grouped_by_the_tile_they_start_in(scene: Path, tmp_path: Path) -> None:
    vrt, _ = build_vrt(
        [str(p) for p in cut_tiles(scene, tmp_path / "tiles", 2, 2)], tmp_path / "m.vrt"
    )
    ref = open_image(vrt)
    windows = plan_chips(ref.width, ref.height, chip_src=24, out_size=24, overlap=0.2, margin=4)
    groups = window_groups(ref, windows)
    assert sorted((w.col_off, w.row_off) for g in groups for w in g) == sorted(
        (w.col_off, w.row_off) for w in windows
    )
    assert len(groups) == 4
    tiles = mosaic_tiles(str(vrt))
    for group, tile in zip(groups, tiles, strict=True):  # reading order: row by row
        for w in group:
            col, row = max(0, w.col_off), max(0, w.row_off)
            assert (
                tile.col_off <= col < tile.col_off + tile.width
                and tile.row_off <= row < tile.row_off + tile.height
            )
    assert window_groups(open_image(scene), windows) == [windows]  # a plain image: one group


def test_rows_are_named_after_the_tile_their_centre_lies_in(scene: Path, tmp_path: Path) -> None:
    vrt, _ = build_vrt(
        [str(p) for p in cut_tiles(scene, tmp_path / "tiles", 2, 2, overlap=5)], tmp_path / "m.vrt"
    )
    ref = open_image(vrt)
    boxes = np.array(
        [[0, 0, 10, 10], [36, 0, 46, 10], [30, 25, 40, 40], [80, 60, 90, 70]], np.float64
    )
    # centre x=41 lies in both top tiles (overlap): the later one's pixels are shown
    assert row_image_ids(ref, row_tiles(ref, boxes)) == [
        "m/tile_0_0",
        "m/tile_0_1",
        "m/tile_1_0",
        "m/tile_1_1",
    ]
    plain = open_image(scene)
    assert row_image_ids(plain, row_tiles(plain, boxes)) == "scene"


def test_the_mosaic_is_named_after_its_folder(tmp_path: Path) -> None:
    assert mosaic_name([tmp_path]) == tmp_path.name
    assert mosaic_name([f"{tmp_path}/*.tif"]) == tmp_path.name
    assert mosaic_name([tmp_path / "a.tif", tmp_path / "b.tif"]) == "mosaic"


def test_a_vrt_keeps_nodata_of_its_tiles(tmp_path: Path) -> None:
    a = write_geotiff(tmp_path / "a.tif", 20, 20, nodata=0, transform=utm_transform(0.5))
    b = write_geotiff(
        tmp_path / "b.tif", 20, 20, nodata=0, transform=utm_transform(0.5, y0=5_757_980.0)
    )
    vrt, _ = build_vrt([str(a), str(b)], tmp_path / "m.vrt")
    with rasterio.open(vrt) as ds:
        assert ds.nodata == 0 and (ds.width, ds.height) == (20, 60)  # a 20 px hole between them
        assert not ds.read_masks(1)[20:40].any()


def test_the_pixel_limit_of_a_mosaic_is_each_tiles(scene: Path, tmp_path: Path) -> None:
    from skyscan.errors import ImageTooLargeError
    from skyscan.io.reader import ReadOptions

    vrt, _ = build_vrt(
        [str(p) for p in cut_tiles(scene, tmp_path / "tiles", 2, 2)], tmp_path / "m.vrt"
    )
    assert open_image(vrt, ReadOptions(max_pixels=45 * 35)).width == 90  # the mosaic is 4 x that
    with pytest.raises(ImageTooLargeError, match="a tile of 45 x 35"):
        open_image(vrt, ReadOptions(max_pixels=45 * 35 - 1))


def test_a_vrt_with_paths_relative_to_it_names_its_tiles(scene: Path, tmp_path: Path) -> None:
    vrt, _ = build_vrt(
        [str(p) for p in cut_tiles(scene, tmp_path / "tiles", 2, 1)], tmp_path / "m.vrt"
    )
    # as gdalbuildvrt writes it: sources relative to the VRT
    text = vrt.read_text().replace('relativeToVRT="0">' + str(tmp_path) + "/", 'relativeToVRT="1">')
    assert text.count('relativeToVRT="1">tiles/') == 6
    rel = tmp_path / "rel.vrt"
    rel.write_text(text)
    assert [t.path for t in mosaic_tiles(str(rel))] == [t.path for t in mosaic_tiles(str(vrt))]
    assert open_image(rel).width == 90
