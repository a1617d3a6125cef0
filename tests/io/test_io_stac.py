"""skyscan.io.stac in process: asset choice, datetime intervals, resolving a static
catalog written with pystac (area filter, failures, ids), and merging with plain inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import shapely

from stac_support import COG_TYPE, Scene, item_for, write_catalog, write_geoparquet, write_scenes

pystac = pytest.importorskip("pystac")

from skyscan.errors import InputError  # noqa: E402
from skyscan.io.stac import StacError, StacQuery, choose_asset, gather, resolve  # noqa: E402

DATES = ["2024-05-01T10:00:00Z", "2024-05-02T10:00:00Z", "2024-06-15T09:00:00Z"]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> list[Scene]:
    return write_scenes(tmp_path_factory.mktemp("img") / "img", DATES)


def _item(assets: dict[str, tuple[str, str | None]]) -> Any:
    item = pystac.Item("x", None, None, pystac.utils.str_to_datetime(DATES[0]), {})
    for key, (href, media) in assets.items():
        item.add_asset(key, pystac.Asset(href, media_type=media))
    return item


def test_asset_choice() -> None:
    item = _item(
        {
            "thumb": ("t.png", "image/png"),
            "B04": ("b4.tif", "image/tiff; application=geotiff"),
            "visual": ("v.tif", COG_TYPE),
            "meta": ("m.json", "application/json"),
        }
    )
    assert choose_asset(item, None)[0] == "visual"  # preferred by name
    assert choose_asset(item, "B04")[0] == "B04"  # by key
    assert choose_asset(item, "application/json")[0] == "meta"  # by media type
    assert choose_asset(item, COG_TYPE)[0] == "visual"  # by full media type with parameters
    assert (
        choose_asset(_item({"t": ("t.png", "image/png"), "b": ("b.TIF", None)}), None)[0] == "b"
    )  # by extension
    assert (
        choose_asset(_item({"a": ("a.jp2", "image/jp2"), "b": ("b.tif", "image/tiff")}), None)[0]
        == "b"
    )
    with pytest.raises(
        StacError,
        match=r"item 'x': no asset 'nir' by key or media type \(assets: thumb \(image/png\)",
    ):
        choose_asset(item, "nir")
    with pytest.raises(StacError, match=r"no GeoTIFF asset .*--stac-asset"):
        choose_asset(_item({"t": ("t.png", "image/png")}), None)


def test_query_values_are_checked() -> None:
    with pytest.raises(InputError, match="datetime"):
        StacQuery("c.json", datetime="2024-13-45")
    with pytest.raises(InputError, match="bbox"):
        StacQuery("c.json", bbox=(9, 47, 8, 48))
    with pytest.raises(InputError, match="source"):
        StacQuery("")


def test_static_catalog_area_and_datetime_filters(scenes: list[Scene], tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "stac", scenes)
    got = resolve([StacQuery(str(catalog), properties=("eo:cloud_cover", "missing"))])
    assert [i.image_id for i in got.images] == [
        "scene-0",
        "scene-1",
        "scene-2",
    ] and not got.failures
    first = got.images[0]
    assert Path(first.href) == scenes[0].path.resolve()  # relative asset href resolved
    assert first.attributes == {
        "stac_item": "scene-0",
        "stac_collection": "swiss",
        "stac_asset": "visual",
        "datetime": DATES[0],
        "capture_date": "2024-05-01",
        "eo:cloud_cover": "0.0",
        "missing": None,
    }
    # an area over scene 1 only: the others are skipped (never opened)
    import rasterio
    from rasterio.warp import transform_bounds

    with rasterio.open(scenes[1].path) as ds:
        area = shapely.box(*transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)).centroid.buffer(1e-5)
    got = resolve([StacQuery(str(catalog))], area)
    assert [i.image_id for i in got.images] == ["scene-1"] and sorted(got.skipped) == [
        "scene-0",
        "scene-2",
    ]
    got = resolve([StacQuery(str(catalog), datetime="2024-05-01/2024-05-31", bbox=(8, 47, 9, 48))])
    assert [i.image_id for i in got.images] == ["scene-0", "scene-1"]
    got = resolve([StacQuery(str(catalog), collections=("other",))])
    assert got.images == [] and got.failures == []
    got = resolve([StacQuery(str(catalog), max_items=2)])
    assert len(got.images) == 2


def test_same_item_id_in_two_collections_and_a_file_of_the_same_name(
    scenes: list[Scene], tmp_path: Path
) -> None:
    a = write_geoparquet([item_for(scenes[0], collection="a")], tmp_path / "a.parquet")
    b_item = item_for(scenes[1], collection="b")
    b_item.id = "scene-0"
    b = write_geoparquet([b_item], tmp_path / "b.parquet")
    got = resolve([StacQuery(str(a)), StacQuery(str(b))])
    assert sorted(i.image_id for i in got.images) == ["a/scene-0", "b/scene-0"]
    # a plain input already called 'scene-0' keeps its id; the item gets a suffix
    plain = str(tmp_path / "scene-0.tif")
    merged = gather([plain], [], {plain: "scene-0"}, [StacQuery(str(a))], None)
    item_id = merged.image_ids[str(scenes[0].path)]
    assert (
        merged.image_ids[plain] == "scene-0"
        and item_id.startswith("scene-0@")
        and len(set(merged.image_ids.values())) == 2
    )
    assert merged.paths == sorted([plain, str(scenes[0].path)])


def test_broken_documents_are_failures_naming_them(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "thing.json").write_text('{"type": "Thing"}')
    got = resolve(
        [
            StacQuery(str(tmp_path / "list.json")),
            StacQuery(str(tmp_path / "thing.json")),
            StacQuery(str(tmp_path / "bad.parquet")),
        ]
    )
    messages = [f.message for f in got.failures]
    assert "list.json: not a STAC object (a JSON list)" in messages[0]
    assert "thing.json: not a STAC catalog, collection or item (type 'Thing')" in messages[1]
    assert "bad.parquet: not a readable stac-geoparquet file" in messages[2]
    assert all(f.stage == "ingest" for f in got.failures)


def test_static_catalog_on_s3_is_read_through_gdal(
    scenes: list[Scene], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from remote_servers import moto_s3, set_env

    www = tmp_path / "www"
    (www / "img").mkdir(parents=True)
    copies = [replace(s, path=www / "img" / s.path.name) for s in scenes[:2]]
    for scene, copy in zip(scenes, copies, strict=False):
        copy.path.write_bytes(scene.path.read_bytes())
    write_catalog(www / "stac", copies)  # asset hrefs ../../../img/NAME
    with moto_s3("stac-bucket") as env:
        set_env(monkeypatch, env)
        client = env["_client"]
        for file in www.rglob("*"):
            if file.is_file():
                client.upload_file(str(file), "stac-bucket", file.relative_to(www).as_posix())
        got = resolve([StacQuery("s3://stac-bucket/stac/catalog.json")])
        missing = resolve([StacQuery("s3://stac-bucket/nope/catalog.json")])
    assert not got.failures, [f.message for f in got.failures]
    assert [i.href for i in got.images] == [f"s3://stac-bucket/img/{s.path.name}" for s in copies]
    assert "s3://stac-bucket/nope/catalog.json: cannot read" in missing.failures[0].message


def test_python_api_takes_the_stac_options(scenes: list[Scene], tmp_path: Path) -> None:
    from skyscan.api import detect
    from skyscan.detectors.synthetic import build_blob_model

    model = build_blob_model(tmp_path / "blobs.onnx", input_size=64, gsd=0.5)
    parquet = write_geoparquet([item_for(s) for s in scenes[:2]], tmp_path / "items.parquet")
    gdf = detect([], model=str(model), stac=parquet, stac_properties=("platform",))
    assert len(gdf) >= scenes[0].blobs + scenes[1].blobs - 1
    assert set(gdf["meta_stac_item"]) == {"scene-0", "scene-1"} == set(gdf["image_id"])
    assert set(gdf["meta_platform"]) == {"drone"} and gdf.attrs["run"]["stac"]["items"] == 2


def test_declared_grid_is_read_from_asset_or_item_and_bad_metadata_is_ignored() -> None:
    from skyscan.io.stac import raster_grid

    item = _item({"visual": ("v.tif", COG_TYPE)})
    asset = item.assets["visual"]
    assert raster_grid(item, asset) is None  # nothing declared: the header will be read
    item.properties.update(
        {
            "proj:epsg": 2056,
            "proj:shape": [100, 200],
            "proj:transform": [0.5, 0, 2.6e6, 0, -0.5, 1.2e6],
        }
    )
    grid = raster_grid(item, asset)
    assert grid is not None
    assert (grid.width, grid.height, grid.crs, grid.gsd, grid.bands) == (
        200,
        100,
        "EPSG:2056",
        0.5,
        3,
    )
    asset.extra_fields.update(
        {"proj:shape": [10, 20], "eo:bands": [{"name": "pan"}], "file:size": 7}
    )
    grid = raster_grid(item, asset)  # the asset's fields win over the item's
    assert grid is not None and (grid.width, grid.height, grid.bands, grid.file_size) == (
        20,
        10,
        1,
        7,
    )
    assert grid.image_ref("v.tif", "x").rgb_bands == (1, 1, 1)
    for bad in (
        {"proj:shape": ["a", 2]},
        {"proj:shape": [0, 5]},
        {"proj:transform": [0, 0, 0, 0, 0, 0]},
        {"proj:code": "EPSG:0"},
    ):
        asset.extra_fields.update(bad)
        assert raster_grid(item, asset) is None, bad
        for key in bad:
            del asset.extra_fields[key]
