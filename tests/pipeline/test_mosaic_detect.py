"""Detection over a mosaic of tiles cut from one blob scene: the scene's rows, seams and all."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rasters import cut_tiles, utm_transform, write_geotiff
from skyscan.detectors import DetectorRecipe, recipe_card
from skyscan.detectors.synthetic import build_blob_model, draw_blobs
from skyscan.errors import InputError
from skyscan.io.mosaic import MOSAIC_DIR, build_vrt
from skyscan.io.reader import open_image
from skyscan.options import RunSettings
from skyscan.pipeline import DetectOptions, plan_units
from skyscan.plan import ImagePlan, plan_run
from skyscan.run import run_detect

SEAM_X, SEAM_Y = 120, 90  # where a 2 x 2 cut of the 240 x 180 scene puts its seams
# blobs on the vertical seam, the horizontal seam, their crossing, and away from both
BLOBS = [
    (SEAM_X, 30.0, 0),
    (60.0, SEAM_Y, 1),
    (SEAM_X + 0.5, SEAM_Y - 0.5, 2),
    (40.0, 40.0, 0),
    (200.0, 150.0, 1),
    (SEAM_X - 3.0, 150.0, 2),
    (180.0, SEAM_Y + 2.0, 0),
]
MOSAIC = RunSettings(geojson=False, mosaic=True)  # a mosaic run, no GeoJSON
BOX = ["px_xmin", "px_ymin", "px_xmax", "px_ymax"]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_blob_model(tmp_path_factory.mktemp("m") / "blobs.onnx", input_size=64)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scene")
    img = np.zeros((3, 180, 240), np.uint8)
    draw_blobs(img, BLOBS)
    return write_geotiff(root / "scene.tif", 240, 180, data=img, transform=utm_transform(0.5))


def _options(model: Path) -> DetectOptions:
    return DetectOptions(recipe=DetectorRecipe(model=str(model)), chips_per_unit=3)


def _rows(out: Path) -> pa.Table:
    return pq.read_table(out / "detections.parquet")


def _assert_same_boxes(mosaic: pa.Table, scene: pa.Table) -> None:
    assert mosaic.num_rows == scene.num_rows
    for name in [*BOX, "score", "lon", "lat", "class_id"]:
        np.testing.assert_allclose(
            mosaic.column(name).to_numpy(),
            scene.column(name).to_numpy(),
            rtol=0,
            atol=1e-9,
            err_msg=name,
        )


@pytest.mark.parametrize("overlap", [0, 12])
def test_a_mosaic_of_tiles_gives_the_scenes_detections(
    scene: Path, model: Path, tmp_path: Path, overlap: int
) -> None:
    tiles = tmp_path / "tiles"
    cut_tiles(scene, tiles, 2, 2, overlap=overlap)
    run_detect([str(scene)], tmp_path / "scene", _options(model), RunSettings(geojson=False))
    result = run_detect([str(tiles)], tmp_path / "out", _options(model), MOSAIC)
    whole, mosaic = _rows(tmp_path / "scene"), _rows(tmp_path / "out")
    assert whole.num_rows == len(BLOBS)  # every blob once, seams included
    _assert_same_boxes(mosaic, whole)
    vrt = tmp_path / "out" / MOSAIC_DIR / "tiles.vrt"
    assert set(mosaic.column("image_path").to_pylist()) == {str(vrt)}
    assert result.manifest["images"] == [str(vrt)]
    # each row names the tile its centre lies in (the later tile where tiles overlap)
    cx = (mosaic.column("px_xmin").to_numpy() + mosaic.column("px_xmax").to_numpy()) / 2
    cy = (mosaic.column("px_ymin").to_numpy() + mosaic.column("px_ymax").to_numpy()) / 2
    col = np.where(cx >= SEAM_X - overlap, 1, 0)
    row = np.where(cy >= SEAM_Y - overlap, 1, 0)
    assert mosaic.column("image_id").to_pylist() == [
        f"tiles/tile_{r}_{c}" for r, c in zip(row, col, strict=True)
    ]
    ids = mosaic.column("detection_id").to_pylist()
    assert len(set(ids)) == len(ids)


def test_a_vrt_input_is_a_mosaic_without_asking(scene: Path, model: Path, tmp_path: Path) -> None:
    vrt, _ = build_vrt(
        [str(p) for p in cut_tiles(scene, tmp_path / "tiles", 3, 2, overlap=4)],
        tmp_path / "city.vrt",
    )
    run_detect([str(scene)], tmp_path / "scene", _options(model), RunSettings(geojson=False))
    run_detect([str(vrt)], tmp_path / "out", _options(model), RunSettings(geojson=False))
    mosaic = _rows(tmp_path / "out")
    _assert_same_boxes(mosaic, _rows(tmp_path / "scene"))
    assert all(i.startswith("city/tile_") for i in mosaic.column("image_id").to_pylist())


def test_units_hold_the_chips_of_one_tile_and_plan_counts_the_scenes_chips(
    scene: Path, model: Path, tmp_path: Path
) -> None:
    tiles = tmp_path / "tiles"
    cut_tiles(scene, tiles, 2, 2)
    vrt, _ = build_vrt([str(p) for p in sorted(tiles.iterdir())], tmp_path / "m.vrt")
    options = _options(model)
    card = recipe_card(options.recipe)
    units = plan_units(open_image(vrt), card, options)
    whole = plan_units(open_image(scene), card, options)
    assert sorted((w.col_off, w.row_off) for u in units for w in u.windows) == sorted(
        (w.col_off, w.row_off) for u in whole for w in u.windows
    )
    for u in units:  # a unit's chips all start in one tile
        starts = {(max(0, w.col_off) >= SEAM_X, max(0, w.row_off) >= SEAM_Y) for w in u.windows}
        assert len(starts) == 1, u
    plans = list(plan_run([str(tiles)], options, mosaic=True))
    assert len(plans) == 1 and isinstance(plan := plans[0], ImagePlan)
    assert (plan.chips, plan.width, plan.height) == (sum(len(u.windows) for u in whole), 240, 180)
    assert plan.path == "tiles (mosaic of 4 tiles)"
    assert plan.file_bytes == sum(p.stat().st_size for p in tiles.iterdir())


def test_detect_and_plan_take_mosaic_from_its_declaration(
    scene: Path, model: Path, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from skyscan.cli import LazyGroup

    tiles = tmp_path / "tiles"
    cut_tiles(scene, tiles, 2, 2)
    run_detect([str(scene)], tmp_path / "scene", _options(model), RunSettings(geojson=False))
    detect, plan = (LazyGroup._load(name) for name in ("detect", "plan"))
    assert detect is not None and plan is not None
    out = tmp_path / "out"
    args = [str(tiles), "--model", str(model), "--mosaic"]
    result = CliRunner().invoke(detect, [*args, "-o", str(out), "--no-geojson"])
    assert result.exit_code == 0, result.output
    assert (out / MOSAIC_DIR / "tiles.vrt").is_file()
    _assert_same_boxes(_rows(out), _rows(tmp_path / "scene"))
    result = CliRunner().invoke(plan, [*args, "--json", "--rate", "1", "--no-bytes"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.splitlines()[0])["path"] == "tiles (mosaic of 4 tiles)"


def test_tiles_of_two_crss_are_refused_before_any_detection(
    scene: Path, model: Path, tmp_path: Path
) -> None:
    tiles = tmp_path / "tiles"
    cut_tiles(scene, tiles, 2, 1)
    write_geotiff(tiles / "zurich.tif", 40, 40, crs="EPSG:2056")
    out = tmp_path / "out"
    with pytest.raises(InputError, match=r"zurich\.tif.*has CRS EPSG:2056"):
        run_detect([str(tiles)], out, _options(model), RunSettings(mosaic=True))
    assert not out.exists()  # a run that could not start leaves nothing behind


def test_an_interrupted_mosaic_run_resumes_to_the_same_rows(
    scene: Path, model: Path, tmp_path: Path
) -> None:
    tiles = tmp_path / "tiles"
    cut_tiles(scene, tiles, 2, 2, overlap=6)
    # a second input: a VRT of the scene's left half, a mosaic of its own
    other, _ = build_vrt(
        [str(p) for p in cut_tiles(scene, tmp_path / "left", 1, 2)], tmp_path / "left.vrt"
    )
    inputs = [str(tiles), str(other)]
    run_detect(inputs, tmp_path / "full", _options(model), MOSAIC)

    def stop(_: str) -> None:
        raise KeyboardInterrupt  # the run dies once its first image is written

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_detect(inputs, out, _options(model), MOSAIC, progress=stop)
    assert not (out / "detections.parquet").exists() and (out / MOSAIC_DIR / "tiles.vrt").is_file()
    # without --mosaic the images are others: refused
    with pytest.raises(InputError, match="different options"):
        run_detect(inputs, out, _options(model), RunSettings(geojson=False, resume=True))
    done: list[str] = []
    run_detect(
        inputs,
        out,
        _options(model),
        RunSettings(geojson=False, mosaic=True, resume=True),
        progress=done.append,
    )
    # (rows come in path order, and OUTDIR's mosaic sorts before or after the other VRT)
    resumed, full = (_rows(d).sort_by("detection_id") for d in (out, tmp_path / "full"))
    assert resumed.num_rows > len(BLOBS)  # both inputs' rows
    assert resumed.drop(["run_id", "image_path"]).equals(full.drop(["run_id", "image_path"]))
    assert [Path(p).name for p in resumed.column("image_path").to_pylist()] == [
        Path(p).name for p in full.column("image_path").to_pylist()
    ]
    assert len(done) == 2  # both inputs accounted for, one of them from its earlier part


def test_stac_items_as_tiles_of_a_mosaic_keep_their_items_attributes(
    scene: Path, model: Path, tmp_path: Path
) -> None:
    """``--stac ... --mosaic``: the items' COGs are detected as one surface (the scene's
    rows, seams included), and each row names and carries the item of its tile."""
    pystac = pytest.importorskip("pystac")
    pytest.importorskip("stac_geoparquet")
    import rasterio
    import shapely
    from rasterio.warp import transform_bounds

    from skyscan.io.stac import StacQuery

    items = []
    dates = {}
    for k, path in enumerate(cut_tiles(scene, tmp_path / "tiles", 2, 2)):
        with rasterio.open(path) as ds:
            bounds = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
        when = f"2024-05-0{k + 1}T10:00:00Z"
        item = pystac.Item(
            f"flight-{k}",
            shapely.geometry.mapping(shapely.box(*bounds)),
            list(bounds),
            pystac.utils.str_to_datetime(when),
            {},
        )
        item.add_asset("visual", pystac.Asset(str(path), media_type="image/tiff"))
        items.append(item)
        dates[path.stem] = (item.id, when)
    collection = tmp_path / "items.json"
    collection.write_text(
        json.dumps({"type": "FeatureCollection", "features": [i.to_dict() for i in items]})
    )
    run_detect([str(scene)], tmp_path / "scene", _options(model), RunSettings(geojson=False))
    run_detect([], tmp_path / "out", _options(model), MOSAIC, stac=[StacQuery(str(collection))])
    whole, mosaic = _rows(tmp_path / "scene"), _rows(tmp_path / "out")
    _assert_same_boxes(mosaic, whole)
    cx = (mosaic.column("px_xmin").to_numpy() + mosaic.column("px_xmax").to_numpy()) / 2
    cy = (mosaic.column("px_ymin").to_numpy() + mosaic.column("px_ymax").to_numpy()) / 2
    tiles = [f"tile_{int(y >= SEAM_Y)}_{int(x >= SEAM_X)}" for x, y in zip(cx, cy, strict=True)]
    assert mosaic.column("image_id").to_pylist() == [f"mosaic/{dates[t][0]}" for t in tiles]
    assert mosaic.column("meta_stac_item").to_pylist() == [dates[t][0] for t in tiles]
    assert mosaic.column("meta_datetime").to_pylist() == [dates[t][1] for t in tiles]
    assert len(set(tiles)) == 4  # rows in every tile
