"""Masks through the CLI: transparent (alpha = 0) and nodata pixels are never seen by the
model. Both images hide a bright white area (which the blob detector would report) behind
the mask, next to one real object."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from e2e_support import blank, read_outputs, rows_of, skyscan

from rasters import write_geotiff


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, blob_model: Path) -> dict[str, object]:
    d = tmp_path_factory.mktemp("formats")
    rgb = blank(96, 64, [(70, 30, 0)])
    rgb[:, :, :40] = 255  # white, but transparent
    alpha = np.full((1, 64, 96), 255, np.uint8)
    alpha[:, :, :40] = 0
    write_geotiff(
        d / "rgba.tif",
        96,
        64,
        count=4,
        data=np.concatenate([rgb, alpha]),
        photometric="RGB",
        alpha="YES",
    )
    data = np.minimum(blank(96, 64, [(70, 40, 1)]), 254)  # 255 is the nodata value
    data[:, :30, :40] = 255
    write_geotiff(d / "nodata.tif", 96, 64, data=data, nodata=255)
    out = d / "out"
    res = skyscan("detect", d / "rgba.tif", d / "nodata.tif", "-o", out, "--model", blob_model)
    assert res.returncode == 0, res.stderr
    return {"det": read_outputs(out)[0]}


@pytest.mark.parametrize(
    ("image_id", "blob", "class_id"), [("rgba", (70, 30), 0), ("nodata", (70, 40), 1)]
)
def test_masked_pixels_produce_no_detections(
    run: dict[str, object], image_id: str, blob: tuple[int, int], class_id: int
) -> None:
    rows = rows_of(run["det"], image_id).to_pylist()  # type: ignore[arg-type]
    assert len(rows) == 1, rows
    r = rows[0]
    assert r["class_id"] == class_id
    centre = ((r["px_xmin"] + r["px_xmax"]) / 2, (r["px_ymin"] + r["px_ymax"]) / 2)
    assert np.hypot(centre[0] - blob[0] - 0.5, centre[1] - blob[1] - 0.5) < 2.0
