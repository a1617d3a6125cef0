"""Read a review page's exports back: the YOLO zip, the COCO JSON or the GeoJSON.

Each export holds the labels (accepted detections and added boxes) and the negatives
(rejected detections) of every reviewed image, in that image's pixels. The YOLO and COCO
files are the formats ``skyscan train`` and ``skyscan evaluate`` read (unzip the YOLO
export; its ``images.txt`` is the ``--list`` of reviewed images); this module reads them
with the same readers (:mod:`skyscan.labels.read`).
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skyscan.errors import LabelError
from skyscan.jsonfile import load_json_file
from skyscan.labels import ClassMapping
from skyscan.labels.read import image_size, read_coco, read_name_list, read_yolo
from skyscan.labels.types import ImageLabels, LabelIssues, LabelSet
from skyscan.types import JsonObject


@dataclass(frozen=True)
class ReviewExport:
    """Labels and negatives of the reviewed images, and the export's own summary."""

    labels: LabelSet
    negatives: LabelSet
    summary: JsonObject


def _image_paths(entries: list[JsonObject], images: str | Path | None) -> list[Path]:
    """Where the reviewed images are: ``images`` (a folder) or the paths the page recorded."""
    if images is not None:
        root = Path(images)
        return [root / e["file_name"] if root.is_dir() else root for e in entries]
    return [Path(e.get("path") or e.get("skyscan_path") or e["file_name"]) for e in entries]


def read_export(
    path: str | Path, images: str | Path | None = None, mapping: ClassMapping | None = None
) -> ReviewExport:
    """Read ``review-yolo.zip``, ``review-coco.json`` or ``review.geojson``.

    ``images`` is the folder holding the reviewed images when they moved since the page was
    built (by default the paths recorded in the export).
    """
    p = Path(path)
    mapping = mapping or ClassMapping()
    if p.suffix.lower() == ".zip":
        return _read_yolo_zip(p, images, mapping)
    data = load_json_file(p, "the review export", LabelError)
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        return _read_geojson(p, data, images, mapping)
    if isinstance(data, dict) and "annotations" in data:
        return _read_coco(p, data, images, mapping)
    raise LabelError(f"{p}: not a review export (expected a YOLO zip, COCO JSON or GeoJSON)")


def _read_yolo_zip(p: Path, images: str | Path | None, mapping: ClassMapping) -> ReviewExport:
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(p) as zf:
        zf.extractall(tmp)
        root = Path(tmp)
        summary = json.loads((root / "review.json").read_text(encoding="utf-8"))
        paths = _image_paths(summary["images"], images)
        classes = read_name_list(root / "classes.txt")
        labels = read_yolo(paths, root / "labels", classes, mapping)
        negatives = read_yolo(paths, root / "negatives", classes, mapping)
    return ReviewExport(labels, negatives, summary)


def _read_coco(
    p: Path, data: JsonObject, images: str | Path | None, mapping: ClassMapping
) -> ReviewExport:
    paths = _image_paths(data["images"], images)
    negatives_file = {**data, "annotations": data.get("skyscan_negatives", [])}
    with tempfile.TemporaryDirectory() as tmp:
        neg_path = Path(tmp) / p.name
        neg_path.write_text(json.dumps(negatives_file), encoding="utf-8")
        negatives = read_coco(paths, neg_path, mapping)
    summary = {"page_id": data.get("info", {}).get("page_id"), "images": data["images"]}
    return ReviewExport(read_coco(paths, p, mapping), negatives, summary)


def _read_geojson(
    p: Path, data: JsonObject, images: str | Path | None, mapping: ClassMapping
) -> ReviewExport:
    summary = data.get("skyscan") or {}
    if "images" not in summary:
        raise LabelError(f"{p}: a GeoJSON without the review's 'skyscan' summary")
    paths = _image_paths(summary["images"], images)
    # file name -> {False: labels, True: negatives}, each a list of (box, class index)
    by_name: dict[str, dict[bool, list[tuple[list[float], int]]]] = {
        e["file_name"]: {False: [], True: []} for e in summary["images"]
    }
    for i, feat in enumerate(data["features"]):
        try:
            props = feat["properties"]
            box = [float(props[k]) for k in ("px_xmin", "px_ymin", "px_xmax", "px_ymax")]
            target = mapping.map_name(str(props["class_name"]), f"{p} feature #{i}")
            slot = by_name[str(props["image"])]
        except (KeyError, TypeError, ValueError) as exc:
            raise LabelError(
                f"{p}: feature #{i} is not a review label ({type(exc).__name__}: {exc})"
            ) from exc
        if target is not None:
            slot[bool(props.get("negative"))].append((box, mapping.index(target)))
    labels: list[ImageLabels] = []
    negatives: list[ImageLabels] = []
    for entry, path in zip(summary["images"], paths, strict=True):
        width, height = image_size(path)
        for negative, out in ((False, labels), (True, negatives)):
            items = by_name[entry["file_name"]][negative]
            out.append(
                ImageLabels(
                    str(path),
                    width,
                    height,
                    np.asarray([b for b, _ in items], np.float64).reshape(-1, 4),
                    np.asarray([c for _, c in items], np.int64),
                )
            )
    return ReviewExport(
        LabelSet(mapping.targets, labels, LabelIssues()),
        LabelSet(mapping.targets, negatives, LabelIssues()),
        summary,
    )
