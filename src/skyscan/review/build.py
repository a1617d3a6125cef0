"""Assemble the review page: detections + imagery → one self-contained offline HTML file.

The page holds the crops and views as JPEG ``data:`` URIs, skyscan's own review code
(``templates/review.js``) and the data; it requests nothing. Decisions live in the
browser's ``localStorage`` under a key derived from the page's content, so a reload keeps
them; labels are exported from the page as browser downloads.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from skyscan import arrow_arrays
from skyscan.errors import InputError, OutputExistsError
from skyscan.io.reader import ImageReader, open_image
from skyscan.review.chips import jpeg_data_uri, read_window
from skyscan.review.geo import lonlat_affine
from skyscan.review.options import ReviewOptions
from skyscan.review.select import ViewTile, crop_window, pick_crops, plan_views

if TYPE_CHECKING:
    import pandas as pd

    from skyscan.viz.build import Detections
from skyscan.types import ChipWindow, ImageRef, JsonObject
from skyscan.viz.build import script_json, write_atomic

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
CLASSES = ("car", "truck", "bus")  # keys 1, 2, 3 on the page; the export's class order
BOX_COLUMNS = ("px_xmin", "px_ymin", "px_xmax", "px_ymax")
NEEDED = ("image_path", "class_name", "score", *BOX_COLUMNS)


@dataclass
class ReviewResult:
    """The page and what went into it (for the CLI's report and for tests)."""

    html: str
    page_id: str
    n_detections: int
    n_crops: int
    n_images: int
    n_views: int
    n_views_total: int
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _read_table(detections: Detections) -> pd.DataFrame:
    """The columns the page needs, as a pandas DataFrame."""
    import pandas as pd

    if isinstance(detections, pd.DataFrame):
        frame = detections
    elif hasattr(detections, "to_pandas"):  # an Arrow table
        frame = detections.to_pandas()
    else:
        path = Path(detections)
        if not path.is_file():
            raise InputError(f"detections file {path} does not exist")
        if path.suffix.lower() in {".parquet", ".geoparquet", ".pq"}:
            import pyarrow.parquet as pq

            names = arrow_arrays.parquet_columns(path)
            frame = pq.read_table(
                path, columns=[c for c in (*NEEDED, "detection_id") if c in names]
            ).to_pandas()
        elif path.suffix.lower() in {".geojson", ".json"}:
            import geopandas as gpd

            frame = pd.DataFrame(gpd.read_file(path).drop(columns="geometry"))
        elif path.suffix.lower() == ".csv":
            frame = pd.read_csv(path)
        else:
            raise InputError(
                f"detections file {path}: expected .parquet, .geojson or .csv (got {path.suffix!r})"
            )
    missing = [c for c in NEEDED if c not in frame.columns]
    if missing:
        raise InputError(
            f"detections lack the column(s) {missing}: the review needs {list(NEEDED)} "
            "(the table skyscan detect writes)"
        )
    return frame


def _match_images(paths: list[str], imagery: list[str] | None) -> tuple[dict[str, str], list[str]]:
    """Detection image_path → the image file to read (same path, else same file name)."""
    notes: list[str] = []
    if imagery is None:
        return {p: p for p in paths if Path(p).is_file()}, notes
    from skyscan.io.sources import expand_inputs

    files, failures = expand_inputs(imagery)
    notes += [f"imagery {f.path}: {f.message}" for f in failures]
    by_path = {str(Path(f).resolve()): f for f in files}
    by_name: dict[str, list[str]] = {}
    for f in files:
        by_name.setdefault(Path(f).name, []).append(f)
    out = {}
    for p in paths:
        hit = by_path.get(str(Path(p).resolve()))
        if hit is None and len(by_name.get(Path(p).name, [])) == 1:
            hit = by_name[Path(p).name][0]
        if hit is not None:
            out[p] = hit
    return out, notes


def _crs_name(ref: ImageRef) -> str | None:
    """``EPSG:n`` when the image's CRS has a code, else its WKT (None without georeferencing)."""
    if ref.crs is None:
        return None
    from pyproj import CRS

    crs = CRS.from_user_input(ref.crs)
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def _ll(ref: ImageRef, col: int, row: int, width: int, height: int) -> list[float] | None:
    """The window's pixel → lon/lat map, or None for an image without georeferencing."""
    if ref.crs is None or ref.transform is None:
        return None
    return lonlat_affine(ref.transform, ref.crs, col, row, width, height)


def _open_images(
    frame: pd.DataFrame, imagery: list[str | Path] | None, notes: list[str]
) -> tuple[pd.DataFrame, list[ImageRef]]:
    """The rows whose image could be opened (with an ``_image`` index column) and those images."""
    paths = sorted({str(p) for p in frame["image_path"].astype(str)})
    matched, match_notes = _match_images(
        paths, [str(i) for i in imagery] if imagery is not None else None
    )
    notes += match_notes
    refs: list[ImageRef] = []
    index_of: dict[str, int] = {}
    for p in paths:
        if p not in matched:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                refs.append(open_image(matched[p]))
            index_of[p] = len(refs) - 1
        except (OSError, ValueError) as exc:
            notes.append(f"{matched[p]}: cannot be read ({exc})")
    names = [Path(r.path).name for r in refs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(
            f"two images share the file name {dupes[0]!r}: exported labels name images by file "
            "name; review them separately"
        )
    found = frame["image_path"].astype(str).isin(list(index_of))
    if (~found).any():
        notes.append(
            f"{int((~found).sum()):,} detection(s) of {frame.loc[~found, 'image_path'].nunique()} "
            "image(s) not found in the imagery are left out"
        )
    other = found & ~frame["class_name"].astype(str).isin(CLASSES)
    if other.any():
        notes.append(
            f"{int(other.sum()):,} detection(s) of classes other than {', '.join(CLASSES)} are left out"
        )
    frame = frame[found & ~other].reset_index(drop=True)
    return frame.assign(_image=frame["image_path"].astype(str).map(index_of).astype(np.int64)), refs


def _cut(
    refs: list[ImageRef],
    frame: pd.DataFrame,
    chosen: npt.NDArray[np.intp],
    views: list[ViewTile],
    opts: ReviewOptions,
) -> tuple[list[JsonObject], list[JsonObject]]:
    """The chosen detections with their crops, and the views, read image by image."""
    boxes = frame[list(BOX_COLUMNS)].to_numpy(np.float64)
    img_idx = frame["_image"].to_numpy(np.int64)
    det_id = (
        frame["detection_id"].astype(str).to_numpy() if "detection_id" in frame.columns else None
    )
    classes = frame["class_name"].astype(str).to_numpy()
    scores = np.nan_to_num(frame["score"].to_numpy(np.float64))
    dets: dict[int, JsonObject] = {}
    view_data: list[JsonObject] = []
    for i, ref in enumerate(refs):
        rows = [k for k in chosen.tolist() if img_idx[k] == i]
        views_i = [v for v in views if v.image == i]
        if not rows and not views_i:
            continue
        with ImageReader(ref) as reader:
            for k in rows:
                col, row, side = crop_window(
                    (boxes[k, 0], boxes[k, 1], boxes[k, 2], boxes[k, 3]), ref.gsd, opts.context_m
                )
                pixels = reader.read_chip(
                    ChipWindow(col, row, side, side, opts.crop_px, opts.crop_px)
                )
                dets[k] = {
                    "id": det_id[k] if det_id is not None else f"{Path(ref.path).stem}:{k}",
                    "image": i,
                    "cls": classes[k],
                    "score": round(float(scores[k]), 4),
                    "box": [round(float(v), 2) for v in boxes[k]],
                    "url": jpeg_data_uri(pixels),
                    "win": [col, row, side],
                    "ll": _ll(ref, col, row, side, side),
                }
            for v in views_i:
                pixels, scale = read_window(reader, v.col_off, v.row_off, v.width, v.height, 768)
                view_data.append(
                    {
                        "image": i,
                        "win": [v.col_off, v.row_off, v.width, v.height],
                        "scale": scale,
                        "url": jpeg_data_uri(pixels, 88),
                        "ll": _ll(ref, v.col_off, v.row_off, v.width, v.height),
                    }
                )
    return [dets[k] for k in chosen.tolist()], view_data


def _in_views(
    frame: pd.DataFrame,
    chosen: npt.NDArray[np.intp],
    views: list[ViewTile],
    view_data: list[JsonObject],
) -> list[JsonObject]:
    """Detections without a crop whose centre lies in an embedded view: shown and decided there."""
    boxes = frame[list(BOX_COLUMNS)].to_numpy(np.float64)
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    img_idx = frame["_image"].to_numpy(np.int64)
    taken = np.zeros(len(frame), bool)
    taken[chosen] = True
    det_id = (
        frame["detection_id"].astype(str).to_numpy() if "detection_id" in frame.columns else None
    )
    classes = frame["class_name"].astype(str).to_numpy()
    scores = np.nan_to_num(frame["score"].to_numpy(np.float64))
    out = []
    for n, v in enumerate(views):
        inside = np.flatnonzero(
            ~taken
            & (img_idx == v.image)
            & (cx >= v.col_off)
            & (cx < v.col_off + v.width)
            & (cy >= v.row_off)
            & (cy < v.row_off + v.height)
        )
        taken[inside] = True
        for k in inside.tolist():
            out.append(
                {
                    "id": det_id[k] if det_id is not None else f"{v.image}:{k}",
                    "image": v.image,
                    "cls": classes[k],
                    "score": round(float(scores[k]), 4),
                    "box": [round(float(b), 2) for b in boxes[k]],
                    "ll": view_data[n]["ll"],
                }
            )
    return out


def build_review(
    detections: Detections,
    imagery: list[str | Path] | None = None,
    options: ReviewOptions | None = None,
) -> ReviewResult:
    """Build the review page of ``detections`` (a detections file or DataFrame) on ``imagery``
    (files, folders, globs; by default the table's ``image_path``), as ``options`` say."""
    opts = options or ReviewOptions()
    t0 = time.perf_counter()
    notes: list[str] = []
    frame, refs = _open_images(_read_table(detections), imagery, notes)
    chosen = pick_crops(frame["score"].to_numpy(np.float64), opts.max_crops, opts.order, opts.seed)
    if len(frame) > len(chosen):
        how = (
            "highest scores first"
            if opts.order == "score"
            else f"a random sample, seed {opts.seed}"
        )
        notes.append(
            f"{len(chosen):,} of {len(frame):,} detections shown as crops ({how}); the others "
            "inside the image views can be decided there (click, then a or r); the rest are neither "
            "labels nor negatives in the export"
        )
    centre = np.c_[frame.px_xmin + frame.px_xmax, frame.px_ymin + frame.px_ymax] / 2
    img_idx = frame["_image"].to_numpy(np.int64)
    views, n_views_total = plan_views(
        [(r.width, r.height) for r in refs],
        [centre[img_idx == i] for i in range(len(refs))],
        opts.view_size,
        opts.max_views,
    )
    if n_views_total > len(views):
        notes.append(
            f"{len(views)} of {n_views_total} image views embedded (those with the most detections): "
            "vehicles outside them cannot be added, so labels are complete only where you looked"
        )
    dets, view_data = _cut(refs, frame, chosen, views, opts)
    extra = _in_views(frame, chosen, views, view_data) if len(frame) > len(chosen) else []
    images = [
        {
            "file_name": Path(r.path).name,
            "path": r.path,
            "width": r.width,
            "height": r.height,
            "gsd": r.gsd,
            "crs": _crs_name(r),
        }
        for r in refs
    ]
    page_id = hashlib.sha256(
        json.dumps(
            [
                images,
                [(d["id"], d["box"]) for d in dets],
                [v["win"] for v in view_data],
                [d["id"] for d in extra],
            ]
        ).encode()
    ).hexdigest()[:16]
    data = {
        "title": opts.title,
        "classes": list(CLASSES),
        "images": images,
        "detections": dets,
        "in_views": extra,
        "views": view_data,
        "notes": notes,
        "n_detections": len(frame),
        "page_id": page_id,
    }
    page = Template((TEMPLATES / "review.html").read_text(encoding="utf-8")).substitute(
        title=html.escape(opts.title),
        css=(TEMPLATES / "review.css").read_text(encoding="utf-8"),
        js=(TEMPLATES / "review.js").read_text(encoding="utf-8"),
        data=script_json(data),
    )
    for note in notes:
        log.warning("review: %s", note)
    return ReviewResult(
        page,
        page_id,
        len(frame),
        len(dets),
        len(images),
        len(view_data),
        n_views_total,
        notes,
        time.perf_counter() - t0,
    )


def make_review(
    detections: Detections,
    output: str | Path,
    imagery: list[str | Path] | None = None,
    options: ReviewOptions | None = None,
    *,
    overwrite: bool = False,
) -> ReviewResult:
    """Build the review page and write it to ``output`` (refused when it exists, unless ``overwrite``)."""
    out = Path(output)
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} exists; pass overwrite=True / --overwrite to replace it")
    result = build_review(detections, imagery, options)
    write_atomic(result.html, out)
    return result
