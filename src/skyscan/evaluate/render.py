"""Draw detections on their image (PNG), for docs and visual checks.

Colours follow the original pipeline: car red, truck orange, bus white. Non-8-bit imagery
(e.g. 16-bit panchromatic) is stretched between its 2nd and 98th percentiles for display.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from skyscan.options import DetectSettings

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

COLOURS = {"car": (255, 0, 0), "truck": (255, 140, 0), "bus": (255, 255, 255)}


def read_display(path: str | Path) -> npt.NDArray[np.uint8]:
    """The image as 8-bit RGB for display (first three bands, or one band as gray)."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as src:
            raw = src.read(list(range(1, min(src.count, 3) + 1)))
    arr = raw.astype(np.float64)
    if arr.shape[0] == 1:
        arr = np.repeat(arr, 3, axis=0)
    if raw.dtype != np.uint8:
        lo, hi = np.percentile(arr, [2, 98])
        arr = (arr - lo) / max(hi - lo, 1e-9) * 255
    return np.ascontiguousarray(arr.clip(0, 255).astype(np.uint8).transpose(1, 2, 0))


def draw_detections(
    image_path: str | Path,
    detections: pd.DataFrame,
    out_png: str | Path,
    *,
    scale: float = 2.0,
    crop: tuple[int, int, int, int] | None = None,
    width: int = 2,
) -> Path:
    """Draw ``detections`` (a table with px_xmin..px_ymax and class_name) on the image.

    ``crop`` is (col_off, row_off, width, height) in image pixels; ``scale`` enlarges the
    result (nearest neighbour, so pixels stay visible).
    """
    from PIL import Image, ImageDraw

    rgb = read_display(image_path)
    x0, y0 = 0, 0
    if crop is not None:
        x0, y0, w, h = crop
        rgb = rgb[y0 : y0 + h, x0 : x0 + w]
    img = Image.fromarray(rgb).resize(
        (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), Image.Resampling.NEAREST
    )
    draw = ImageDraw.Draw(img)
    cols = ["px_xmin", "px_ymin", "px_xmax", "px_ymax"]
    for (a, b, c, d), name in zip(
        np.asarray(detections[cols], np.float64), list(detections["class_name"]), strict=True
    ):
        box = [(a - x0) * scale, (b - y0) * scale, (c - x0) * scale, (d - y0) * scale]
        draw.rectangle(box, outline=COLOURS.get(str(name), (0, 255, 255)), width=width)
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out, optimize=True)
    return out


def render_image(
    image: str | Path,
    outdir: str | Path,
    settings: DetectSettings | None = None,
    *,
    scale: float | None = None,
) -> tuple[Path, dict[str, int]]:
    """Detect objects in ``image`` (with ``settings``, as ``skyscan detect``) and draw them
    on it as ``outdir/detect_<stem>.png`` (:func:`draw_detections`; ``scale`` 2 for
    images narrower than 400 px, else 1, unless given); returns that path and the
    detections per class."""
    from skyscan.api import detect_table

    detections = detect_table(image, settings)
    if scale is None:
        scale = 2.0 if read_display(image).shape[1] < 400 else 1.0
    out = draw_detections(
        image, detections, Path(outdir) / f"detect_{Path(image).stem}.png", scale=scale
    )
    counts = (
        {str(k): int(v) for k, v in detections["class_name"].value_counts().items()}
        if len(detections)
        else {}
    )
    return out, counts
