"""The loop on real imagery: skyscan detect on a shared orthophoto, the review page in
Chromium, every detection accepted, the COCO export read back."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from skyscan.cli import cli
from skyscan.review import read_export

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_detect_review_export_on_a_real_orthophoto(
    browser: Any, shared_data: Path, tmp_path: Path
) -> None:
    image = shared_data / "georef" / "gorinchem" / "gorinchem_0.25m.tif"  # not a reserved test file
    if not image.is_file():
        pytest.skip(f"{image} not in the shared data")
    runner = CliRunner()
    res = runner.invoke(cli, ["-q", "detect", str(image), "-o", str(tmp_path / "det")])
    assert res.exit_code == 0, res.output
    html = tmp_path / "review.html"
    res = runner.invoke(
        cli,
        [
            "review",
            str(tmp_path / "det" / "detections.parquet"),
            "--imagery",
            str(image.parent),
            "-o",
            str(html),
            "--max-crops",
            "20",
        ],
    )
    assert res.exit_code == 0, res.output
    ctx = browser.new_context(accept_downloads=True)
    page = ctx.new_page()
    page.route(
        "**/*",
        lambda r: (
            r.continue_() if r.request.url.startswith(("file:", "data:", "blob:")) else r.abort()
        ),
    )
    page.goto("file://" + os.path.abspath(html))
    page.wait_for_function("window.skyscan && window.skyscan.ready === true")
    n = len(
        page.evaluate("JSON.parse(document.getElementById('review-data').textContent).detections")
    )
    assert n == 20  # the --max-crops cap (the scene has more detections)
    for _ in range(n):
        page.keyboard.press("a")
    with page.expect_download() as info:
        page.click("#export-coco")
    info.value.save_as(tmp_path / "coco.json")
    ctx.close()
    got = read_export(tmp_path / "coco.json")
    assert sum(got.labels.counts().values()) == 20 and sum(got.negatives.counts().values()) == 0
    assert json.loads((tmp_path / "coco.json").read_text())["images"][0]["file_name"] == image.name
