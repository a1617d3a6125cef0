"""``skyscan detect`` / ``plan`` / ``aggregate`` on STAC inputs, through real components on
loopback: static catalogs written with pystac and served by the Range server, a
stac-geoparquet file, and a real STAC API (stac-fastapi-geoparquet under uvicorn)
searched with pystac-client. Every run is compared with a run on the same COGs named
as plain files, so the answers are not computed by the code under test."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from e2e_support import read_outputs, skyscan

from remote_servers import RangeServer
from stac_support import Scene, item_for, stac_api, write_catalog, write_geoparquet, write_scenes

pytest.importorskip("pystac")
pytest.importorskip("pystac_client")

DATES = ["2024-05-01T10:00:00Z", "2024-05-01T14:30:00Z", "2024-06-15T09:00:00Z"]


@pytest.fixture(scope="module")
def www(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Scene]]:
    root = tmp_path_factory.mktemp("www")
    scenes = write_scenes(root / "img", DATES)
    write_catalog(root / "stac", scenes)
    return root, scenes


@pytest.fixture(scope="module")
def server(www: tuple[Path, list[Scene]]) -> Iterator[RangeServer]:
    with RangeServer(www[0]) as srv:
        yield srv


@pytest.fixture(scope="module")
def plain(
    www: tuple[Path, list[Scene]], blob_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> pa.Table:
    """The same COGs named as files: the answer the STAC runs must give."""
    out = tmp_path_factory.mktemp("plain") / "out"
    res = skyscan("-q", "detect", *(s.path for s in www[1]), "-o", out, "--model", blob_model)
    assert res.returncode == 0, res.stderr
    det = read_outputs(out)[0]
    assert det.num_rows >= sum(s.blobs for s in www[1]) - 1  # the blobs are found
    return det


def _rows(table: pa.Table, ids: dict[str, str] | None = None) -> list[tuple[Any, ...]]:
    """Comparable rows; ``ids`` renames image ids (item id -> file stem)."""
    cols = ["image_id", "class_name", "px_xmin", "px_ymin", "px_xmax", "px_ymax", "lon", "lat"]
    rows = zip(*(table.column(c).to_pylist() for c in cols), strict=True)
    return sorted(((ids or {}).get(r[0], r[0]), *r[1:]) for r in rows)


def _stems(scenes: list[Scene]) -> dict[str, str]:
    return {s.item_id: s.path.stem for s in scenes}


def test_static_catalog_over_http_gives_the_files_rows_with_item_columns(
    www: tuple[Path, list[Scene]],
    server: RangeServer,
    plain: pa.Table,
    blob_model: Path,
    tmp_path: Path,
) -> None:
    _root, scenes = www
    out = tmp_path / "out"
    res = skyscan(
        "-q",
        "detect",
        "--stac",
        server.url("stac/catalog.json"),
        "-o",
        out,
        "--model",
        blob_model,
        "--stac-properties",
        "eo:cloud_cover,platform",
    )
    assert res.returncode == 0, res.stderr
    det, err, manifest = read_outputs(out)
    assert err.num_rows == 0
    assert _rows(det, _stems(scenes)) == _rows(plain)
    by_item = {s.item_id: s for s in scenes}
    for row in det.select(
        [
            "image_id",
            "image_path",
            "meta_stac_item",
            "meta_stac_collection",
            "meta_stac_asset",
            "meta_datetime",
            "meta_capture_date",
            "meta_eo:cloud_cover",
            "meta_platform",
        ]
    ).to_pylist():
        scene = by_item[row["meta_stac_item"]]
        assert row["image_id"] == scene.item_id
        assert row["image_path"] == server.url(f"img/{scene.path.name}")  # read over HTTP
        assert row["meta_datetime"] == scene.datetime
        assert row["meta_capture_date"] == scene.datetime[:10]
        assert float(row["meta_eo:cloud_cover"]) == scene.cloud_cover
        assert (row["meta_stac_collection"], row["meta_stac_asset"], row["meta_platform"]) == (
            "swiss",
            "visual",
            "drone",
        )
    assert manifest["stac"]["items"] == len(scenes) and manifest["stac"]["items_skipped"] == []


def test_counts_per_capture_date_with_aggregate(
    www: tuple[Path, list[Scene]], plain: pa.Table, blob_model: Path, tmp_path: Path
) -> None:
    root, scenes = www
    out = tmp_path / "out"
    res = skyscan(
        "-q", "detect", "--stac", root / "stac" / "catalog.json", "-o", out, "--model", blob_model
    )
    assert res.returncode == 0, res.stderr
    # expected: the plain run's rows counted by the date each file's item carries
    date_of = {s.path.stem: s.datetime[:10] for s in scenes}
    expected = Counter(
        (date_of[i], c)
        for i, c in zip(
            plain.column("image_id").to_pylist(),
            plain.column("class_name").to_pylist(),
            strict=True,
        )
    )
    counts = tmp_path / "counts.csv"
    res = skyscan(
        "aggregate",
        out / "detections.parquet",
        counts,
        "--by",
        "meta_capture_date",
        "--by",
        "class_name",
    )
    assert res.returncode == 0, res.stderr
    import pandas as pd

    got = pd.read_csv(counts, dtype={"meta_capture_date": str})
    assert {(r.meta_capture_date, r.class_name): r.count for r in got.itertuples()} == dict(
        expected
    )
    assert set(got["meta_capture_date"]) == {"2024-05-01", "2024-06-15"}  # two items, one day
    pivot = tmp_path / "pivot.csv"
    res = skyscan(
        "aggregate",
        out / "detections.parquet",
        pivot,
        "--by",
        "class_name",
        "--by",
        "meta_capture_date",
        "--pivot",
        "meta_capture_date",
    )
    assert res.returncode == 0, res.stderr
    table = pd.read_csv(pivot)
    per_date = {
        c: int(table[c].sum()) for c in table.columns if c.startswith(("2024-", "count_2024-"))
    }
    assert sorted(per_date.values()) == sorted(Counter(d for d, _ in expected.elements()).values())


def test_items_missing_the_aoi_are_skipped_unopened(
    www: tuple[Path, list[Scene]],
    server: RangeServer,
    plain: pa.Table,
    blob_model: Path,
    tmp_path: Path,
) -> None:
    _root, scenes = www
    import rasterio
    import shapely
    from rasterio.warp import transform_bounds

    with rasterio.open(scenes[0].path) as ds:
        area = shapely.box(*transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)).buffer(-1e-5)
    server.reset()
    out = tmp_path / "out"
    res = skyscan(
        "-q",
        "detect",
        "--stac",
        server.url("stac/catalog.json"),
        "--aoi",
        area.wkt,
        "-o",
        out,
        "--model",
        blob_model,
    )
    assert res.returncode == 0, res.stderr
    det, _, manifest = read_outputs(out)
    assert set(det.column("image_id").to_pylist()) == {"scene-0"}
    assert sorted(manifest["stac"]["items_skipped"]) == ["scene-1", "scene-2"]
    fetched = {p.split("?")[0] for p in server.stats()["paths"]}
    assert "/img/scene_0.tif" in fetched
    assert not fetched & {"/img/scene_1.tif", "/img/scene_2.tif"}  # never opened
    res = skyscan(
        "plan",
        "--stac",
        server.url("stac/catalog.json"),
        "--aoi",
        area.wkt,
        "--json",
        "--rate",
        "1",
        "--model",
        blob_model,
    )
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert [x["image_id"] for x in lines[:-1]] == ["scene-0"] and lines[-1]["totals"]["chips"] > 0


def test_bad_items_become_error_rows_and_the_rest_goes_on(
    www: tuple[Path, list[Scene]], blob_model: Path, tmp_path: Path
) -> None:
    root, scenes = www
    import pystac

    no_tiff = item_for(Scene("png-only", scenes[0].path, DATES[0], 0, 0.0))
    del no_tiff.assets["visual"]
    gone = item_for(Scene("gone", scenes[0].path, DATES[0], 0, 0.0))
    gone.assets["visual"].href = str(tmp_path / "missing.tif")
    catalog = write_catalog(tmp_path / "stac", scenes[:2], extra_items=[no_tiff, gone])
    broken = tmp_path / "stac" / "swiss" / "scene-1" / "scene-1.json"
    broken.write_text("{ not json")
    out = tmp_path / "out"
    res = skyscan("-q", "detect", "--stac", catalog, "-o", out, "--model", blob_model)
    assert res.returncode == 3, res.stderr
    det, err, _ = read_outputs(out)
    assert set(det.column("image_id").to_pylist()) == {"scene-0"}
    errors = {Path(r["path"]).name: r for r in err.to_pylist()}
    assert errors["scene-1.json"]["message"].startswith("item of 'swiss': ")
    assert "scene-1.json: not JSON" in errors["scene-1.json"]["message"]
    assert "item 'png-only': no GeoTIFF asset" in errors["png-only.json"]["message"]
    assert "thumbnail (image/png)" in errors["png-only.json"]["message"]
    assert errors["missing.tif"]["stage"] == "read"  # the item was fine, its image is not
    assert isinstance(pystac.read_file(str(catalog)), pystac.Catalog)
    # an asset asked for by name that items lack: one error row per item
    res = skyscan(
        "-q",
        "detect",
        "--stac",
        root / "stac" / "catalog.json",
        "--stac-asset",
        "analytic",
        "-o",
        tmp_path / "out2",
        "--model",
        blob_model,
    )
    assert res.returncode == 3
    _, err, _ = read_outputs(tmp_path / "out2")
    assert sorted(m.split(":")[0] for m in err.column("message").to_pylist()) == [
        f"item {s.item_id!r}" for s in scenes
    ]


def test_geoparquet_file_with_a_datetime_filter(
    www: tuple[Path, list[Scene]], plain: pa.Table, blob_model: Path, tmp_path: Path
) -> None:
    _root, scenes = www
    parquet = write_geoparquet([item_for(s) for s in scenes], tmp_path / "items.parquet")
    out = tmp_path / "out"
    res = skyscan(
        "-q",
        "detect",
        "--stac",
        parquet,
        "--datetime",
        "2024-05-01",
        "-o",
        out,
        "--model",
        blob_model,
        "--stac-asset",
        "image/tiff; application=geotiff; profile=cloud-optimized",
    )
    assert res.returncode == 0, res.stderr
    det = read_outputs(out)[0]
    may = [s for s in scenes if s.datetime.startswith("2024-05-01")]
    keep = {s.path.stem for s in may}
    want = plain.filter(pa.array([i in keep for i in plain.column("image_id").to_pylist()]))
    assert _rows(det, _stems(scenes)) == _rows(want)


def test_stac_api_search_with_pystac_client(
    www: tuple[Path, list[Scene]],
    server: RangeServer,
    plain: pa.Table,
    blob_model: Path,
    tmp_path: Path,
) -> None:
    _root, scenes = www
    items = [item_for(s, href=server.url(f"img/{s.path.name}")) for s in scenes]
    other = item_for(Scene("elsewhere", scenes[0].path, DATES[0], 0, 0.0))
    other.geometry = {
        "type": "Polygon",
        "coordinates": [[[10, 46], [10.1, 46], [10.1, 46.1], [10, 46.1], [10, 46]]],
    }
    other.bbox = [10, 46, 10.1, 46.1]  # outside --bbox: the API leaves it out
    parquet = write_geoparquet([*items, other], tmp_path / "api.parquet")
    with stac_api(parquet) as url:
        out = tmp_path / "out"
        res = skyscan(
            "-q",
            "detect",
            "--stac",
            url,
            "--collection",
            "swiss",
            "--datetime",
            "2024-05-01T00:00:00Z/2024-05-31T00:00:00Z",
            "--bbox",
            "8.0,47.0,9.0,48.0",
            "-o",
            out,
            "--model",
            blob_model,
            "--stac-properties",
            "platform",
        )
        assert res.returncode == 0, res.stderr
        det, err, manifest = read_outputs(out)
        # a search the API answers with nothing is not an error
        empty = skyscan(
            "-q",
            "detect",
            "--stac",
            url,
            "--collection",
            "swiss",
            "--datetime",
            "2020-01-01/2020-02-01",
            "-o",
            tmp_path / "none",
            "--model",
            blob_model,
        )
    assert err.num_rows == 0
    may = {s.path.stem for s in scenes if s.datetime.startswith("2024-05")}
    want = plain.filter(pa.array([i in may for i in plain.column("image_id").to_pylist()]))
    assert _rows(det, _stems(scenes)) == _rows(want)
    assert set(det.column("meta_platform").to_pylist()) == {"drone"}
    assert manifest["stac"]["queries"][0]["collections"] == ["swiss"]
    assert empty.returncode == 0, empty.stderr


def test_unreachable_catalog_is_an_error_row(blob_model: Path, tmp_path: Path) -> None:
    res = skyscan(
        "-q",
        "detect",
        "--stac",
        tmp_path / "nope" / "catalog.json",
        "-o",
        tmp_path / "out",
        "--model",
        blob_model,
    )
    assert res.returncode == 3, res.stderr
    _, err, _ = read_outputs(tmp_path / "out")
    (row,) = err.to_pylist()
    assert row["path"].endswith("catalog.json") and "cannot read" in row["message"]


def test_usage_errors(blob_model: Path, tmp_path: Path) -> None:
    res = skyscan("detect", "-o", tmp_path / "o", "--model", blob_model)
    assert res.returncode == 2 and "--stac" in res.stderr
    res = skyscan(
        "detect", "x.tif", "--collection", "a", "-o", tmp_path / "o", "--model", blob_model
    )
    assert res.returncode == 2 and "need --stac" in res.stderr
    res = skyscan(
        "detect", "--stac", "c.json", "--bbox", "1,2,3", "-o", tmp_path / "o", "--model", blob_model
    )
    assert res.returncode == 2 and "expected 4 values" in res.stderr
    res = skyscan(
        "detect",
        "--stac",
        "c.json",
        "--datetime",
        "yesterday",
        "-o",
        tmp_path / "o",
        "--model",
        blob_model,
    )
    assert res.returncode == 2 and "datetime" in res.stderr
    assert not (tmp_path / "o").exists()


def _with_projection(item: Any, scene: Scene) -> Any:
    """The item with its asset's grid declared (projection extension, ``file:size``)."""
    import rasterio

    with rasterio.open(scene.path) as ds:
        item.properties["proj:code"] = ds.crs.to_string()
        item.properties["proj:shape"] = [ds.height, ds.width]
        item.properties["proj:transform"] = list(ds.transform)[:6]
    item.assets["visual"].extra_fields["file:size"] = scene.path.stat().st_size
    return item


def test_plan_of_items_that_declare_their_grid_opens_nothing_and_agrees(
    www: tuple[Path, list[Scene]], server: RangeServer, blob_model: Path, tmp_path: Path
) -> None:
    """A country's catalog is planned from the items alone: with proj:shape,
    proj:transform and proj:code the chips equal those of the opened images, and the
    images (served over HTTP here) are never requested."""
    _root, scenes = www
    opened = [
        json.loads(x)
        for x in skyscan(
            "plan", *(s.path for s in scenes), "--json", "--rate", "1", "--model", blob_model
        ).stdout.splitlines()
    ]
    items = [
        _with_projection(item_for(s, href=server.url(f"img/{s.path.name}")), s) for s in scenes
    ]
    table = write_geoparquet(items, tmp_path / "items.parquet")
    before = len(server.stats()["paths"])
    res = skyscan("plan", "--stac", table, "--json", "--rate", "1", "--model", blob_model)
    assert res.returncode == 0, res.stderr
    declared = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(server.stats()["paths"]) == before  # no image was opened

    def key(plan: dict[str, Any]) -> tuple[Any, ...]:
        return plan["width"], plan["height"], plan["chips"], plan["model_megapixels"]

    assert sorted(key(p) for p in declared[:-1]) == sorted(key(p) for p in opened[:-1])
    assert {p["image_id"] for p in declared[:-1]} == {s.item_id for s in scenes}
    assert {p["file_bytes"] for p in declared[:-1]} == {s.path.stat().st_size for s in scenes}
    assert declared[-1]["totals"]["chips"] == opened[-1]["totals"]["chips"] > 0


def test_inspect_describes_the_items_images_with_their_attributes(
    www: tuple[Path, list[Scene]], server: RangeServer
) -> None:
    _root, scenes = www
    res = skyscan(
        "inspect",
        "--stac",
        server.url("stac/catalog.json"),
        "--stac-properties",
        "eo:cloud_cover",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    records = {r["image_id"]: r for r in json.loads(res.stdout)}
    assert set(records) == {s.item_id for s in scenes}
    for scene in scenes:
        record = records[scene.item_id]
        assert (record["width"], record["height"], record["crs"]) == (192, 160, "EPSG:2056")
        assert record["metadata"]["stac_item"] == scene.item_id
        assert record["metadata"]["datetime"] == scene.datetime
        assert json.loads(record["metadata"]["eo:cloud_cover"]) == scene.cloud_cover
    assert skyscan("inspect").returncode == 2  # nothing to describe
