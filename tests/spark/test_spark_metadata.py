"""Per-image metadata on the spark engine: a metadata table and XML sidecar attributes
reach every detection row exactly as on the local engine, and ``skyscan.spark.join_metadata``
joins a DataFrame of attributes onto detections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from spark_helpers import assert_same_detections, blob_options, run_local

from rasters import lv95_transform, utm_transform, write_fgdc_xml, write_geotiff
from skyscan.detectors.synthetic import draw_blobs
from skyscan.errors import InputError
from skyscan.io.reader import ReadOptions
from skyscan.io.sidecar import XmlMapping
from skyscan.schema import DETECTION_COLUMNS

pytestmark = pytest.mark.spark

CHIPS_PER_UNIT = 4  # the larger scenes spread over several work units
VENDOR_XML = """<?xml version="1.0" encoding="UTF-8"?>
<acme:scene xmlns:acme="urn:acme:imagery:2">
  <acme:id>acme-0042</acme:id>
  <acme:position><acme:easting>594200.0</acme:easting><acme:northing>5757900.0</acme:northing>
    <acme:epsg>32631</acme:epsg><acme:resolution>0.5</acme:resolution></acme:position>
  <acme:sensor name="WV3"/>
  <acme:cloud>3</acme:cloud>
</acme:scene>
"""
MAPPING = XmlMapping(
    namespaces={"a": "urn:acme:imagery:2"},
    easting="a:position/a:easting",
    northing="a:position/a:northing",
    crs="a:position/a:epsg",
    gsd="a:position/a:resolution",
    extra={"sensor": "a:sensor/@name", "cloud": "a:cloud"},
    image_id="a:id",
)
# Keyed by file name; nometa.tif has no row. Text as written: "007" stays "007", empty
# cells are nulls, and the table's sensor wins over the vendor sidecar's "WV3".
TABLE = (
    "filename,flight,sensor,acquired\n"
    "utm_a.tif,17,UCX,2021-06-01\n"
    "lv95.tif,,DMC,2021-06-02\n"
    "vendor.png,007,UCXp,2021-06-03\n"
    "fgdc.png,19,,2021-06-04\n"
)
META = ["meta_acquired", "meta_cloud", "meta_flight", "meta_sensor"]
EXPECTED = {  # image_id -> meta_* values (absent: null)
    "utm_a": {"meta_acquired": "2021-06-01", "meta_flight": "17", "meta_sensor": "UCX"},
    "lv95": {"meta_acquired": "2021-06-02", "meta_sensor": "DMC"},
    "acme-0042": {
        "meta_acquired": "2021-06-03",
        "meta_cloud": "3",
        "meta_flight": "007",
        "meta_sensor": "UCXp",
    },
    "fgdc": {"meta_acquired": "2021-06-04", "meta_flight": "19"},
    "nometa": {},
}


def _pixels(rng: np.random.Generator, width: int, height: int, n: int) -> np.ndarray:
    img = np.zeros((3, height, width), np.uint8)
    draw_blobs(
        img,
        [
            (
                float(rng.uniform(10, width - 10)),
                float(rng.uniform(10, height - 10)),
                int(rng.integers(0, 3)),
            )
            for _ in range(n)
        ],
    )
    return img


def _png(path: Path, img: np.ndarray) -> str:
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    # A plain PNG on purpose: its XML sidecar georeferences it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        dst = rasterio.open(
            path, "w", driver="PNG", width=img.shape[2], height=img.shape[1], count=3, dtype="uint8"
        )
    with dst:
        dst.write(img)
    return str(path)


@pytest.fixture(scope="module")
def meta_scenes(tmp_path_factory: pytest.TempPathFactory, blob_model: Path) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("spark-meta")
    img_dir = root / "images"
    img_dir.mkdir()
    rng = np.random.default_rng(11)
    paths = [
        str(
            write_geotiff(
                img_dir / "utm_a.tif",
                240,
                160,
                data=_pixels(rng, 240, 160, 5),
                transform=utm_transform(0.5),
            )
        ),
        str(
            write_geotiff(
                img_dir / "lv95.tif",
                200,
                140,
                data=_pixels(rng, 200, 140, 4),
                crs="EPSG:2056",
                transform=lv95_transform(0.5),
            )
        ),
        str(
            write_geotiff(
                img_dir / "nometa.tif",
                160,
                120,
                data=_pixels(rng, 160, 120, 3),
                transform=utm_transform(0.5, x0=594_800.0),
            )
        ),
        _png(img_dir / "vendor.png", _pixels(rng, 180, 120, 4)),  # georeferenced by its vendor XML
        _png(img_dir / "fgdc.png", _pixels(rng, 120, 90, 3)),  # georeferenced by FGDC bounds
    ]
    (img_dir / "vendor.xml").write_text(VENDOR_XML)
    write_fgdc_xml(
        img_dir / "fgdc.xml", 4.5, 51.9, 4.5 + 120 * 0.5 / 68_800, 51.9 + 90 * 0.5 / 111_200
    )
    (root / "table.csv").write_text(TABLE)
    options = blob_options(
        blob_model,
        chips_per_unit=CHIPS_PER_UNIT,
        read=ReadOptions(metadata_table=str(root / "table.csv"), sidecar_mapping=MAPPING),
    )
    return {"root": root, "paths": sorted(paths), "options": options}


@pytest.fixture(scope="module")
def local_meta(meta_scenes: dict[str, Any]) -> pa.Table:
    det, err = run_local(
        meta_scenes["paths"], meta_scenes["options"], meta_scenes["root"] / "local-out"
    )
    assert err.num_rows == 0, err.to_pylist()
    return det


def _assert_expected_metadata(det: pa.Table) -> None:
    """Every row of every image carries its image's attributes, nulls where it has none."""
    assert det.column_names == DETECTION_COLUMNS + META  # contract first, then meta_* sorted
    rows = det.select(["image_id", *META]).to_pylist()
    assert {r["image_id"] for r in rows} == set(EXPECTED)  # every image has detections
    for r in rows:
        assert {c: r[c] for c in META} == {c: EXPECTED[r["image_id"]].get(c) for c in META}, r[
            "image_id"
        ]


def test_local_engine_rows_carry_the_metadata(local_meta: pa.Table) -> None:
    """The reference itself is not vacuous: rows with and without metadata, right values."""
    _assert_expected_metadata(local_meta)
    flights = local_meta.column("meta_flight").to_pylist()
    assert sum(v is not None for v in flights) >= 5 and None in flights
    assert local_meta.num_rows >= 15


def test_spark_engine_run_detect_carries_metadata_like_local(
    local_spark: Any, meta_scenes: dict[str, Any], local_meta: pa.Table, tmp_path: Path
) -> None:
    from skyscan.options import RunSettings
    from skyscan.run import run_detect

    result = run_detect(
        meta_scenes["paths"],
        tmp_path / "out",
        meta_scenes["options"],
        RunSettings(engine="spark", master="local[2]", geojson=False),
    )
    assert result.n_failed == 0
    det = pq.read_table(tmp_path / "out" / "detections.parquet")
    assert_same_detections(det, local_meta)
    _assert_expected_metadata(det)


def test_spark_dataframe_detect_carries_metadata_like_local(
    local_spark: Any, meta_scenes: dict[str, Any], local_meta: pa.Table
) -> None:
    from skyscan.spark import detect

    result = detect(local_spark, meta_scenes["paths"], meta_scenes["options"])
    try:
        det = result.detections.toArrow()
        assert det.column_names == local_meta.column_names
        assert all(det.schema.field(c).type == pa.string() for c in META)
        # Spark hands columns back with its own nullability; compare values, not flags.
        assert_same_detections(det.cast(local_meta.schema), local_meta)
        assert result.errors.count() == 0
    finally:
        result.release()


def test_duplicate_file_names_get_the_rows_of_their_unique_ids(
    local_spark: Any, blob_model: Path, tmp_path: Path
) -> None:
    """Same file name in two folders: ids ``day1/tile`` and ``day2/tile`` key the table.

    The spark engine must look the table up by the id the run gives the image, as the local
    engine does, not by the bare file stem (the ``tile`` row belongs to neither).
    """
    from skyscan.options import RunSettings
    from skyscan.run import run_detect

    rng = np.random.default_rng(5)
    paths = []
    for day in ("day1", "day2"):
        (tmp_path / day).mkdir()
        paths.append(
            str(
                write_geotiff(tmp_path / day / "tile.tif", 160, 120, data=_pixels(rng, 160, 120, 3))
            )
        )
    (tmp_path / "ids.csv").write_text(
        "image_id,site\nday1/tile,north\nday2/tile,south\ntile,stem-only\n"
    )
    options = blob_options(blob_model, read=ReadOptions(metadata_table=str(tmp_path / "ids.csv")))
    local_det, _ = run_local(paths, options, tmp_path / "local")
    run_detect(
        paths,
        tmp_path / "spark",
        options,
        RunSettings(engine="spark", master="local[2]", geojson=False),
    )
    spark_det = pq.read_table(tmp_path / "spark" / "detections.parquet")
    for det in (local_det, spark_det):
        sites = {
            (r["image_id"], r["meta_site"])
            for r in det.select(["image_id", "meta_site"]).to_pylist()
        }
        assert sites == {("day1/tile", "north"), ("day2/tile", "south")}
    assert_same_detections(spark_det, local_det)


# ------------------------------------------------------------------ join_metadata


@pytest.fixture(scope="module")
def detections_df(local_spark: Any, local_meta: pa.Table) -> Any:
    # The local engine's rows as a Spark DataFrame (the same rows the spark engine gives).
    return local_spark.createDataFrame(
        local_meta.select(["image_id", "detection_id", "class_name", *META]).to_pandas()
    )


def test_join_metadata_adds_prefixed_columns_and_keeps_every_detection(
    local_spark: Any, detections_df: Any, local_meta: pa.Table
) -> None:
    from skyscan.spark import join_metadata

    survey = local_spark.createDataFrame(
        [
            ("utm_a", "alice", 3),
            ("acme-0042", "bob", 5),
            ("ghost", "carol", 7),
        ],  # ghost: no detections
        "image_id string, operator string, passes int",
    )
    out = join_metadata(detections_df, survey, prefix="survey_")
    assert out.columns == [*detections_df.columns, "survey_operator", "survey_passes"]
    rows = out.collect()
    assert len(rows) == local_meta.num_rows  # left join: every detection exactly once
    assert sorted(r["detection_id"] for r in rows) == sorted(
        local_meta.column("detection_id").to_pylist()
    )
    want = {"utm_a": ("alice", 3), "acme-0042": ("bob", 5)}
    for r in rows:
        assert (r["survey_operator"], r["survey_passes"]) == want.get(
            r["image_id"], (None, None)
        ), r["image_id"]
    assert {r["image_id"] for r in rows if r["survey_operator"] is None} == {
        "lv95",
        "fgdc",
        "nometa",
    }
    assert all(
        r["meta_sensor"] == EXPECTED[r["image_id"]].get("meta_sensor") for r in rows
    )  # untouched


def test_join_metadata_on_another_key_with_the_default_prefix(
    local_spark: Any, detections_df: Any
) -> None:
    from skyscan.spark import join_metadata

    per_class = local_spark.createDataFrame([("car", "red")], "class_name string, colour string")
    rows = join_metadata(detections_df, per_class, on="class_name").collect()
    assert {(r["class_name"], r["meta_colour"]) for r in rows} >= {("car", "red")}
    assert all(r["meta_colour"] == ("red" if r["class_name"] == "car" else None) for r in rows)


def test_join_metadata_refuses_a_missing_key(local_spark: Any, detections_df: Any) -> None:
    from skyscan.spark import join_metadata

    no_key = local_spark.createDataFrame([("utm_a", "x")], "scene string, operator string")
    with pytest.raises(InputError, match=r"'image_id' is missing from metadata \("):
        join_metadata(detections_df, no_key)
    with pytest.raises(InputError, match="'scene' is missing from detections \\("):
        join_metadata(detections_df, no_key, on="scene")
    with pytest.raises(InputError, match="'frame' is missing from detections and metadata"):
        join_metadata(detections_df, no_key, on="frame")


def test_join_metadata_refuses_colliding_names_and_repeated_keys(
    local_spark: Any, detections_df: Any
) -> None:
    from skyscan.spark import join_metadata

    clash = local_spark.createDataFrame(
        [("utm_a", "x", "y")], "image_id string, sensor string, site string"
    )
    with pytest.raises(InputError, match="metadata column 'sensor' -> 'meta_sensor'"):
        join_metadata(detections_df, clash)
    assert join_metadata(detections_df, clash, prefix="m2_").columns[-2:] == [
        "m2_sensor",
        "m2_site",
    ]
    repeated = local_spark.createDataFrame(
        [("utm_a", "x"), ("utm_a", "y")], "image_id string, site string"
    )
    with pytest.raises(InputError, match=r"several rows for image_id \['utm_a'\]"):
        join_metadata(detections_df, repeated)


def test_spark_dataframe_detect_gives_a_mosaics_rows_their_tiles_metadata(
    local_spark: Any, blob_model: Path, tmp_path: Path
) -> None:
    """A mosaic whose tiles a metadata table names: each row carries its tile's attributes,
    on ``skyscan.spark.detect`` as on the local engine (the columns come from the tiles)."""
    from dataclasses import replace

    from rasters import cut_tiles
    from skyscan.io.mosaic import build_vrt
    from skyscan.spark import detect

    img = np.zeros((3, 160, 240), np.uint8)
    draw_blobs(img, [(40.0, 40.0, 0), (200.0, 40.0, 1), (40.0, 120.0, 2), (200.0, 120.0, 0)])
    scene = write_geotiff(tmp_path / "scene.tif", 240, 160, data=img, transform=utm_transform(0.5))
    tiles = cut_tiles(scene, tmp_path / "tiles", 2, 2)
    vrt, _ = build_vrt([str(t) for t in tiles], tmp_path / "m.vrt")
    table = tmp_path / "flights.csv"
    table.write_text("filename,flight\n" + "".join(f"{t.name},F{k}\n" for k, t in enumerate(tiles)))
    base = blob_options(blob_model, chips_per_unit=CHIPS_PER_UNIT)
    options = replace(base, read=replace(base.read, metadata_table=str(table)))
    local, _ = run_local([str(vrt)], options, tmp_path / "local")
    assert sorted(set(local.column("meta_flight").to_pylist())) == ["F0", "F1", "F2", "F3"]
    result = detect(local_spark, [str(vrt)], options)
    try:
        det = result.detections.toArrow()
        assert det.column_names == local.column_names
        assert_same_detections(det.cast(local.schema), local)
    finally:
        result.release()
