"""The review page in a real headless Chromium, offline: accept, reject, undo, reload,
add and delete boxes, export (captured downloads) and read the exports back with
skyscan's readers, then train and evaluate on them."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from review_samples import MISSED

from skyscan.cli import cli
from skyscan.labels import read_labels
from skyscan.labels.read import read_name_list
from skyscan.review import ReviewOptions, make_review, read_export
from tiny_data import tiny_train_args

pytestmark = pytest.mark.browser


def _open(browser: Any, html: Path, context: Any | None = None) -> tuple[Any, Any, list[str]]:
    ctx = context or browser.new_context(
        accept_downloads=True, viewport={"width": 1200, "height": 900}
    )
    page = ctx.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error {e}"))
    page.on("console", lambda m: m.type == "error" and problems.append(f"console error {m.text}"))
    page.on("requestfailed", lambda r: problems.append(f"failed request {r.url}"))

    def file_only(route: Any) -> None:
        if route.request.url.startswith(("file://", "data:", "blob:")):
            route.continue_()
        else:
            problems.append(f"network request {route.request.url}")
            route.abort()

    page.route("**/*", file_only)
    page.goto("file://" + os.path.abspath(html))
    page.wait_for_function("window.skyscan && window.skyscan.ready === true", timeout=60_000)
    return ctx, page, problems


def _drag(page: Any, win: list[int], box: tuple[float, float, float, float]) -> None:
    """Drag a box given in image pixels on the current view (window ``win``)."""
    r = page.locator("#view img").bounding_box()
    sx, sy = r["width"] / win[2], r["height"] / win[3]
    page.mouse.move(r["x"] + (box[0] - win[0]) * sx, r["y"] + (box[1] - win[1]) * sy)
    page.mouse.down()
    page.mouse.move(r["x"] + (box[2] - win[0]) * sx, r["y"] + (box[3] - win[1]) * sy, steps=4)
    page.mouse.up()


def _save(page: Any, button: str, dest: Path) -> Path:
    with page.expect_download() as info:
        page.click(button)
    info.value.save_as(dest)
    return dest


def test_review_accept_reject_add_export(
    browser: Any, scene: tuple[Path, Path], tmp_path: Path
) -> None:
    images, table = scene
    html = tmp_path / "review.html"
    make_review(table, html, [images])
    ctx, page, problems = _open(browser, html)

    # crops come highest score first: a:0, a:1, a:2, b:4, a:3 (the false one)
    for key in "ar":
        page.keyboard.press(key)
    assert page.evaluate("window.skyscan.state().decisions") == {"a:0": "accept", "a:1": "reject"}
    page.keyboard.press("u")  # undo the reject: back on a:1
    state = page.evaluate("window.skyscan.state()")
    assert state["decisions"] == {"a:0": "accept"} and state["cur"] == 1
    for key in "aa2r":  # a:1, a:2 accepted; b:4 (a car) accepted as a truck; a:3 rejected
        page.keyboard.press(key)
    assert "4 accepted, 1 rejected" in page.inner_text("#progress")
    assert page.is_visible("#big img") and not page.is_visible("#view")
    assert page.locator(".thumb.accept").count() == 4 and page.locator(".thumb.reject").count() == 1

    # a reload keeps the decisions (localStorage, keyed by the page)
    page.reload()
    page.wait_for_function("window.skyscan && window.skyscan.ready === true")
    decisions = page.evaluate("window.skyscan.state().decisions")
    assert decisions == {
        "a:0": "accept",
        "a:1": "accept",
        "a:2": "accept",
        "b:4": "accept",
        "a:3": "reject",
    }
    assert page.evaluate("window.skyscan.state().relabel") == {"b:4": "truck"}

    # add the missed car on a.tif's view; add a bus on b.tif, delete it; add a truck, undo it
    page.keyboard.press("v")
    assert page.is_visible("#view img") and not page.is_visible("#grid")
    views = page.evaluate("JSON.parse(document.getElementById('review-data').textContent).views")
    assert [v["image"] for v in views] == [0, 1]
    _drag(page, views[0]["win"], MISSED[1:])
    page.keyboard.press("j")
    page.keyboard.press("3")
    _drag(page, views[1]["win"], (60, 40, 90, 52))
    page.click("#view .box.added")
    page.keyboard.press("x")
    page.keyboard.press("2")
    _drag(page, views[1]["win"], (70, 60, 100, 70))
    assert len(page.evaluate("window.skyscan.state().added")) == 1 + 1
    page.keyboard.press("u")
    added = page.evaluate("window.skyscan.state().added")
    assert len(added) == 1 and added[0]["cls"] == "car" and added[0]["image"] == 0
    assert np.allclose(added[0]["box"], MISSED[1:], atol=1.0)

    yolo = _save(page, "#export-yolo", tmp_path / "review-yolo.zip")
    coco = _save(page, "#export-coco", tmp_path / "review-coco.json")
    geo = _save(page, "#export-geojson", tmp_path / "review.geojson")
    assert problems == []
    ctx.close()

    # every export reads back to the same labels: 3 accepted + 1 added on a.tif, 1 on b.tif
    want_a = np.array(
        [[40, 40, 58, 48], [100, 60, 118, 68], [200, 150, 230, 162], MISSED[1:]], float
    )
    for export in (yolo, coco, geo):
        got = read_export(export)
        a, b = got.labels.images
        order = np.argsort(a.boxes[:, 0])
        assert np.allclose(a.boxes[order], want_a[np.argsort(want_a[:, 0])], atol=1.0), export
        assert sorted(a.labels.tolist()) == [0, 0, 0, 1]  # car, car, car (added), truck
        assert b.boxes.shape == (1, 4) and b.labels.tolist() == [1]  # relabelled as a truck
        assert got.labels.counts() == {"car": 3, "truck": 2, "bus": 0}
        neg = got.negatives.images[0]
        assert np.allclose(
            neg.boxes, [[300, 200, 318, 208]], atol=0.01
        ) and neg.labels.tolist() == [2]
        assert got.negatives.counts()["bus"] == 1

    # images that moved since the page was built: name their folder
    import shutil

    moved = shutil.copytree(images, tmp_path / "moved")
    for export in (yolo, coco, geo):
        again = read_export(export, moved)
        assert again.labels.images[0].image_path == str(moved / "a.tif")
        assert again.labels.counts() == {"car": 3, "truck": 2, "bus": 0}

    # the files themselves: what skyscan's readers (and so train / evaluate) take
    unzipped = tmp_path / "yolo"
    with zipfile.ZipFile(yolo) as zf:
        assert zf.testzip() is None  # every member's CRC checks out
        assert sorted(zf.namelist()) == [
            "classes.txt",
            "images.txt",
            "labels/a.txt",
            "labels/b.txt",
            "negatives/a.txt",
            "negatives/b.txt",
            "review.json",
        ]
        zf.extractall(unzipped)
    for txt in (unzipped / "labels").glob("*.txt"):
        for line in txt.read_text().splitlines():
            cls, *xywh = line.split()
            assert cls in {"0", "1", "2"} and all(0 <= float(v) <= 1 for v in xywh), line
    names = read_name_list(unzipped / "images.txt")
    views_seen = json.loads((unzipped / "review.json").read_text())["views"]
    assert [(v["file_name"], v["seen"]) for v in views_seen] == [("a.tif", True), ("b.tif", True)]
    assert names == ["a.tif", "b.tif"]
    labels = read_labels(
        images, unzipped / "labels", "yolo", classes=unzipped / "classes.txt", names=names
    )
    assert labels.counts() == {"car": 3, "truck": 2, "bus": 0} and not labels.issues.counts
    assert read_labels(images, coco, "coco").counts() == {"car": 3, "truck": 2, "bus": 0}

    # GeoJSON in lon/lat: every corner where the image's transform and pyproj put it (< 1 mm)
    import rasterio

    from skyscan.geo.crs import to_wgs84
    from skyscan.geo.footprints import pixel_to_crs

    features = json.loads(geo.read_text())["features"]
    assert {f["properties"]["status"] for f in features} == {"accepted", "added", "rejected"}
    for f in features:
        p = f["properties"]
        with rasterio.open(images / p["image"]) as src:
            transform = tuple(src.transform)[:6]
        cols = [p["px_xmin"], p["px_xmin"], p["px_xmax"], p["px_xmax"], p["px_xmin"]]
        rows = [p["px_ymin"], p["px_ymax"], p["px_ymax"], p["px_ymin"], p["px_ymin"]]
        lon, lat = to_wgs84(*pixel_to_crs(cols, rows, transform), "EPSG:32631")
        ring = np.array(f["geometry"]["coordinates"][0])
        assert np.abs(ring - np.c_[lon, lat]).max() < 1e-8, p["id"]

    runner = CliRunner()
    model = tmp_path / "tuned.onnx"
    res = runner.invoke(
        cli,
        tiny_train_args(
            images,
            model,
            "--classes",
            str(unzipped / "classes.txt"),
            "--list",
            str(unzipped / "images.txt"),
            "--init",
            "vehicles",
            steps=2,
            labels=unzipped / "labels",
        ),
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        cli,
        [
            "evaluate",
            str(images),
            "--labels",
            str(coco),
            "--format",
            "coco",
            "--model",
            str(model),
            "--gsd",
            "0.25",
            "-o",
            str(tmp_path / "eval.json"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "eval.json").read_text())["classes"]["car"]["n_labels"] == 3


def test_review_page_without_detections_or_views(
    browser: Any, scene: tuple[Path, Path], tmp_path: Path
) -> None:
    images, table = scene
    html = tmp_path / "review.html"
    make_review(table, html, [images], ReviewOptions(max_crops=0, max_views=0))
    ctx, page, problems = _open(browser, html)
    assert "No detections to review." in page.inner_text("#info")
    assert "0 of 5 detections" in page.inner_text("#notes")
    page.keyboard.press("a")
    page.keyboard.press("v")
    assert "No image views." in page.inner_text("#view-title")
    coco = _save(page, "#export-coco", tmp_path / "c.json")
    assert json.loads(coco.read_text())["annotations"] == []
    assert problems == []
    ctx.close()


def test_detections_without_crops_are_decided_in_the_views(
    browser: Any, scene: tuple[Path, Path], tmp_path: Path
) -> None:
    images, table = scene
    html = tmp_path / "review.html"
    make_review(table, html, [images], ReviewOptions(max_crops=2))  # crops for a:0 and a:1 only
    ctx, page, problems = _open(browser, html)
    assert "the others inside the image views can be decided there" in page.inner_text("#notes")
    page.keyboard.press("a")
    page.keyboard.press("a")
    page.keyboard.press("v")
    assert page.locator("#view .box.det").count() == 4  # a:0..a:3 on a.tif's view
    page.click('#view .box.det[data-id="a:2"]')
    page.keyboard.press("a")
    page.click('#view .box.det[data-id="a:3"]')
    page.keyboard.press("r")
    page.keyboard.press("j")
    page.click('#view .box.det[data-id="b:4"]')
    page.keyboard.press("a")
    assert "5 / 5 decided (4 accepted, 1 rejected)" in page.inner_text("#progress")
    page.keyboard.press("u")  # undo keeps the view
    assert "4 / 5 decided" in page.inner_text("#progress") and "View 2 of 2" in page.inner_text(
        "#view-title"
    )
    page.click('#view .box.det[data-id="b:4"]')
    page.keyboard.press("a")
    coco = _save(page, "#export-coco", tmp_path / "c.json")
    geo = _save(page, "#export-geojson", tmp_path / "g.geojson")
    assert problems == []
    ctx.close()
    got = read_export(coco)
    assert (
        got.labels.counts() == {"car": 3, "truck": 1, "bus": 0}
        and got.negatives.counts()["bus"] == 1
    )
    features = json.loads(geo.read_text())["features"]
    assert len(features) == 5 and all(f["geometry"] is not None for f in features)
