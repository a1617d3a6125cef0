"""The page as text: self-contained, safe, small, and honest about what it holds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skyscan.errors import InputError, MissingDependencyError
from skyscan.viz import assets, build_map, make_map


def _data(page: str) -> dict:
    block = re.search(
        r'<script type="application/json" id="skyscan-data">(.*?)</script>', page, re.S
    )
    assert block
    return json.loads(block.group(1))


def test_make_map_writes_a_file_or_returns_html(tmp_path: Path, detections: pd.DataFrame) -> None:
    out = make_map(detections, tmp_path / "sub" / "m.html")
    assert out == tmp_path / "sub" / "m.html" and out.read_text().startswith("<!DOCTYPE html>")
    page = make_map(detections)
    assert isinstance(page, str) and "skyscan-data" in page
    assert list(tmp_path.joinpath("sub").iterdir()) == [out]  # no temp file left behind


def test_skyscan_map_delegates(detections: pd.DataFrame) -> None:
    import skyscan

    assert "skyscan-data" in skyscan.map(detections, max_markers=3)


def test_page_is_self_contained(detections: pd.DataFrame) -> None:
    page = make_map(detections)
    assert isinstance(page, str)
    assert "<script src" not in page and "<link" not in page
    assert "sourceMappingURL" not in page
    assert "url(images/" not in page  # Leaflet's CSS images inlined as data URIs
    # No remote address at all: the basemap travels in the page.
    assert re.findall(r"https?://[^'\"\s)<]+\{z\}", page) == []
    assert "openstreetmap" not in page
    assert 'img-src data:">' in page  # the CSP lets the page load nothing but data: URIs


def test_title_and_popup_text_cannot_inject_markup(detections: pd.DataFrame) -> None:
    evil = "</script><script>alert(1)</script>"
    frame = detections.assign(image_id=evil)
    page = make_map(frame, title=evil)
    assert isinstance(page, str)
    assert page.count("<script>alert(1)") == 0
    assert _data(page)["title"] == evil and _data(page)["images"] == [evil]


def test_markers_are_capped_by_score_and_reported(detections: pd.DataFrame) -> None:
    result = build_map(detections, max_markers=2)
    data = _data(result.html)
    assert result.n_markers == 2 and data["markers"]["n"] == 2
    assert any("2 highest-scoring of 203" in n for n in result.notes)
    # The two best scores (0.93 car, 0.92 bus) are the ones kept.
    import base64

    cls = np.frombuffer(base64.b64decode(data["markers"]["cls"]["b64"]), np.uint8)
    names = [data["classes"][c]["name"] for c in cls]
    assert sorted(names) == ["bus", "car"]
    heat = data["heat"]
    counts = np.frombuffer(
        base64.b64decode(heat["count"]["b64"]),
        {"u1": "u1", "u2": "<u2", "u4": "<u4"}[heat["count"]["dtype"]],
    )
    assert counts.sum() == len(detections)  # the heatmap still counts everything


def test_class_colours_follow_the_demo(detections: pd.DataFrame) -> None:
    colours = {c["name"]: c["colour"] for c in _data(make_map(detections))["classes"]}  # type: ignore[arg-type]
    assert colours == {"car": "#e31a1c", "truck": "#ff7f00", "bus": "#ffffff"}


def test_bad_arguments_are_named(detections: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="'max_markers' must be an integer >= 0"):
        make_map(detections, max_markers=-1)
    with pytest.raises(
        InputError, match=r"'h3_resolution' must be an integer in \[0, 15\] \(got 16\)"
    ):
        make_map(detections, h3_resolution=16)


def test_naive_projected_input_gives_an_empty_map_that_says_why() -> None:
    import geopandas as gpd

    gdf = gpd.GeoDataFrame(
        {"class_name": ["car"]}, geometry=gpd.points_from_xy([594000.0], [5758000.0])
    )
    result = build_map(gdf)
    assert result.n_points == 0 and "no CRS" in result.notes[-1]


def test_zones_without_crs_and_missing_files_are_notes(
    tmp_path: Path, detections: pd.DataFrame
) -> None:
    import geopandas as gpd
    from shapely.geometry import box

    naive = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)])
    result = build_map(detections, zones=naive, clusters=tmp_path / "nope.parquet")
    text = " | ".join(result.notes)
    assert "Zones not shown: they have no CRS" in text
    assert "Clusters not shown" in text and "nope.parquet" in text
    assert "zones" not in _data(result.html)["vectors"]


def test_h3_layer_counts_per_class(detections: pd.DataFrame) -> None:
    import h3

    result = build_map(detections, h3_resolution=9)
    fc = _data(result.html)["vectors"]["h3"]
    assert fc["resolution"] == 9
    total = sum(f["properties"]["count"] for f in fc["features"])
    assert total == len(detections)
    expected = {
        h3.latlng_to_cell(la, lo, 9) for lo, la in zip(detections.lon, detections.lat, strict=True)
    }
    assert {f["properties"]["h3"] for f in fc["features"]} == expected


def test_h3_too_many_cells_coarsens_and_says_so(
    monkeypatch: pytest.MonkeyPatch, detections: pd.DataFrame
) -> None:
    from skyscan.viz import layers

    monkeypatch.setattr(layers, "MAX_H3_CELLS", 1)
    result = build_map(detections, h3_resolution=13)
    res = _data(result.html)["vectors"]["h3"]["resolution"]
    assert res < 13 and any(f"shown at resolution {res}" in n for n in result.notes)


def test_missing_leaflet_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, detections: pd.DataFrame
) -> None:
    monkeypatch.setenv(assets.ENV_VAR, str(tmp_path))
    with pytest.raises(MissingDependencyError, match=r"pip install 'skyscan\[map\]'"):
        make_map(detections)


def test_leaflet_dir_from_env_var_with_inlined_images(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "layers.png").write_bytes(b"\x89PNG fake")
    (tmp_path / "leaflet.js").write_text(
        'window.L={};L.version="1.9.4";\n//# sourceMappingURL=leaflet.js.map\n'
    )
    (tmp_path / "leaflet.css").write_text(
        ".a{background:url(images/layers.png)} .b{background:url(images/none.png)}"
    )
    monkeypatch.setenv(assets.ENV_VAR, str(tmp_path))
    found = assets.leaflet_assets()
    assert found.version == "1.9.4" and found.source == str(tmp_path)
    assert "sourceMappingURL" not in found.js
    assert "url(data:image/png;base64," in found.css and "images/none.png" not in found.css


def test_page_size_grows_with_occupied_cells_not_detections() -> None:
    rng = np.random.default_rng(3)
    n = 200_000
    lots = rng.uniform([4.40, 51.88], [4.68, 52.05], (300, 2))
    pick = rng.integers(0, 300, n)
    frame = pd.DataFrame(
        {
            "lon": lots[pick, 0] + rng.normal(0, 3e-4, n),
            "lat": lots[pick, 1] + rng.normal(0, 2e-4, n),
            "class_name": "car",
            "score": rng.random(n),
        }
    )
    small = build_map(frame.iloc[:20_000])
    big = build_map(frame)
    assert big.n_markers == 5000 and big.n_heat_cells <= 65_536
    assert len(big.html) < 1_000_000  # < 5 bytes per detection
    assert len(big.html) < 2.5 * len(small.html)  # 10x the detections, not 10x the bytes


@pytest.mark.shared_data
def test_real_imagery_overlay(shared_data: Path) -> None:
    from skyscan.viz.imagery import render_overlay

    overlay = render_overlay(
        shared_data / "georef" / "spacenet" / "pan1.tif"
    )  # uint16 pan, UTM 31N
    assert 4.3 < overlay.west < overlay.east < 4.6 and 51.8 < overlay.south < overlay.north < 52.0
    assert 550 <= max(overlay.width, overlay.height) <= 700
    assert len(overlay.data_uri) < 1_500_000


def test_imagery_must_be_paths(detections: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="'imagery' must be a path or a sequence of paths"):
        make_map(detections, imagery=[3])  # type: ignore[list-item]


def test_clusters_from_analytics_table_and_labelled_detections(
    tmp_path: Path, detections: pd.DataFrame
) -> None:
    import geopandas as gpd

    from skyscan.analytics.cluster import cluster_detections

    gdf = gpd.GeoDataFrame(
        detections, geometry=gpd.points_from_xy(detections.lon, detections.lat), crs="EPSG:4326"
    )
    result = cluster_detections(gdf, eps_m=5.0, min_samples=5)
    assert len(result.clusters) >= 1
    sizes = sorted(result.clusters["size"].tolist())
    for given in (result, result.clusters):  # the result object or its clusters table
        fc = _data(build_map(detections, clusters=given).html)["vectors"]["clusters"]
        assert sorted(f["properties"]["size"] for f in fc["features"]) == sizes
        assert {f["geometry"]["type"] for f in fc["features"]} <= {"Polygon", "MultiPolygon"}
    # Labelled detections (a file with cluster_id per detection): hulls are built here.
    labelled = tmp_path / "labelled.parquet"
    result.detections.to_parquet(labelled)
    fc = _data(build_map(detections, clusters=labelled).html)["vectors"]["clusters"]
    assert sorted(f["properties"]["size"] for f in fc["features"]) == sizes


def test_places_to_jump_between_most_detections_first() -> None:
    import pandas as pd

    from skyscan.viz.build import image_places
    from skyscan.viz.points import load_points

    frame = pd.DataFrame(
        {
            "lon": [4.0, 4.001, 4.002, 115.0],
            "lat": [51.0, 51.001, 51.002, -8.5],
            "class_name": "car",
            "score": 0.9,
            "image_id": ["a", "a", "a", "b"],
        }
    )
    places = image_places(load_points(frame))
    assert [(p["name"], p["count"]) for p in places] == [("a", 3), ("b", 1)]
    assert places[0]["bounds"] == [[51.0, 4.0], [51.002, 4.002]]
    assert image_places(load_points(frame[frame.image_id == "a"])) == []


def test_page_opens_on_detections_inside_the_validated_range() -> None:
    """Many detections on out-of-range imagery elsewhere do not pull the first view away
    from the few the model was validated for."""
    from skyscan.viz.build import opening_view
    from skyscan.viz.points import load_points

    frame = pd.DataFrame(
        {
            "lon": [4.0, 4.001, 4.002] + [115.0 + 0.0001 * i for i in range(50)],
            "lat": [51.0, 51.001, 51.002] + [-8.5] * 50,
            "class_name": "car",
            "score": 0.9,
            "image_id": ["a"] * 3 + ["b"] * 50,
            "in_validated_range": [True] * 3 + [False] * 50,
        }
    )
    assert opening_view(load_points(frame)) == [[51.0, 4.0], [51.002, 4.002]]
    everything = load_points(frame.drop(columns="in_validated_range"))
    view = opening_view(everything)
    assert view is not None and view[0][1] >= 115.0  # without the column: the densest place
