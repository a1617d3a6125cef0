"""The review page's content, crop and view selection, and the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from skyscan.cli import cli
from skyscan.errors import InputError
from skyscan.review import ReviewOptions, build_review
from skyscan.review.select import pick_crops, plan_views


def _data(page: str) -> dict:
    match = re.search(
        r'<script id="review-data" type="application/json">(.*?)</script>', page, re.S
    )
    assert match
    return json.loads(match.group(1))


def test_page_is_self_contained(scene: tuple[Path, Path]) -> None:
    images, table = scene
    result = build_review(table, [images])
    assert result.n_crops == 5 and result.n_images == 2 and result.notes == []
    assert not re.search(r'(src|href)="https?:', result.html)
    data = _data(result.html)
    assert [d["id"] for d in data["detections"]][:2] == ["a:0", "a:1"]  # highest score first
    assert all(
        d["url"].startswith("data:image/jpeg;base64,") for d in data["detections"] + data["views"]
    )
    a = data["images"][0]
    assert a["file_name"] == "a.tif" and a["crs"] == "EPSG:32631" and a["gsd"] == 0.25
    # 12 m of context at 0.25 m is 48 px; crops are at least 64 px
    assert data["detections"][0]["win"] == [17, 12, 64]


def test_a_table_file_a_frame_and_an_arrow_table_give_the_same_page(
    scene: tuple[Path, Path],
) -> None:
    import pyarrow.parquet as pq

    images, table = scene
    arrow = pq.read_table(table)
    pages = [build_review(t, [images]).html for t in (table, arrow.to_pandas(), arrow)]
    assert _data(pages[1]) == _data(pages[0]) == _data(pages[2])


def test_caps_are_stated_on_the_page(scene: tuple[Path, Path]) -> None:
    images, table = scene
    result = build_review(table, [images], ReviewOptions(max_crops=2, max_views=1, view_size=128))
    assert result.n_crops == 2 and result.n_views == 1 and result.n_views_total == 8 + 1
    assert any("2 of 5 detections" in n for n in result.notes)
    assert any("1 of 9 image views" in n for n in result.notes)
    sampled = build_review(table, [images], ReviewOptions(max_crops=3, order="sample", seed=1))
    assert sampled.n_crops == 3 and any("random sample, seed 1" in n for n in sampled.notes)


def test_detections_of_other_images_are_noted(scene: tuple[Path, Path], tmp_path: Path) -> None:
    images, table = scene
    result = build_review(table, [images / "b.tif"])
    assert result.n_crops == 1 and any(
        "4 detection(s) of 1 image(s) not found" in n for n in result.notes
    )


def test_missing_columns_are_named(tmp_path: Path) -> None:
    import pandas as pd

    with pytest.raises(InputError, match="px_xmin"):
        build_review(pd.DataFrame({"image_path": ["x.tif"], "class_name": ["car"], "score": [0.5]}))


def test_pick_and_plan() -> None:
    assert pick_crops(np.array([0.1, 0.7, 0.3]), 5).tolist() == [1, 2, 0]
    a = pick_crops(np.arange(100.0), 10, "sample", seed=3)
    assert (
        len(a) == 10 and a.tolist() == pick_crops(np.arange(100.0), 10, "sample", seed=3).tolist()
    )
    views, total = plan_views([(1000, 500)], [np.array([[900.0, 400.0], [950.0, 450.0]])], 256, 1)
    assert total == 8 and (views[0].col_off, views[0].row_off) == (768, 256)


def test_cli(scene: tuple[Path, Path], tmp_path: Path) -> None:
    images, table = scene
    out = tmp_path / "review.html"
    res = CliRunner().invoke(cli, ["review", str(table), "--imagery", str(images), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "5 of 5 detections" in res.output and out.stat().st_size > 5000
    res = CliRunner().invoke(cli, ["review", str(table), "--imagery", str(images), "-o", str(out)])
    assert res.exit_code == 1 and "exists" in res.output


def test_read_export_refuses_other_files(tmp_path: Path) -> None:
    from skyscan.errors import LabelError
    from skyscan.review import read_export

    other = tmp_path / "x.json"
    other.write_text('{"hello": 1}')
    with pytest.raises(LabelError, match="not a review export"):
        read_export(other)


def test_images_from_the_table_and_geojson_detections(
    scene: tuple[Path, Path], tmp_path: Path
) -> None:
    """Without --imagery the table's image_path is read; a GeoJSON detections file works too."""
    import geopandas as gpd
    import pandas as pd

    images, table = scene
    assert build_review(table).n_crops == 5
    frame = pd.read_parquet(table)
    geo = tmp_path / "detections.geojson"
    gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(frame.px_xmin, frame.px_ymin), crs="EPSG:32631"
    ).to_file(geo)
    assert build_review(geo, [images]).n_crops == 5


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_crops", -1, "'max_crops' must be >= 0 (got -1)"),
        ("order", "random", "'order' must be one of"),
        ("crop_px", 20, "'crop_px' must be in [64, 512] (got 20)"),
        ("view_size", 8, "'view_size' must be >= 32 pixels (got 8)"),
    ],
)
def test_options_are_checked(field: str, value: object, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        ReviewOptions(**{field: value})  # type: ignore[arg-type]


def test_other_classes_are_left_out(scene: tuple[Path, Path]) -> None:
    import pandas as pd

    images, table = scene
    frame = pd.read_parquet(table)
    frame.loc[0, "class_name"] = "ship"
    result = build_review(frame, [images])
    assert result.n_crops == 4 and any(
        "1 detection(s) of classes other than car, truck, bus" in n for n in result.notes
    )
