"""Readers for YOLO txt, COCO JSON and xView GeoJSON labels.

All readers resolve images the same way (:func:`list_images`), convert boxes to image
pixels (xyxy), clip boxes that stick out of the image and record every clip, drop and
ignored class in the :class:`LabelIssues` of the returned :class:`LabelSet`. Hard errors
(:class:`LabelError`, naming the file and line) are malformed lines, unknown class ids,
images without labels (unless ``allow_missing``) and names that match no image.
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from skyscan.errors import ImageReadError, LabelError
from skyscan.jsonfile import load_json_file
from skyscan.labels.mapping import ClassMapping
from skyscan.labels.types import ImageLabels, LabelIssues, LabelSet

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
FORMATS = ("yolo", "coco", "xview")
# Boxes may overhang the image by this many pixels before the clip is reported: label
# tools round coordinates, and a 1-px overhang is not a labelling error.
_CLIP_TOLERANCE_PX = 1.0


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image, from its header."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                return int(src.width), int(src.height)
    except RasterioIOError as exc:
        raise ImageReadError(f"{path}: cannot read image header ({exc})") from exc


def list_images(images: str | Path, names: list[str] | None = None) -> list[Path]:
    """Images in a directory (sorted), a single image, or the ``names`` inside a directory."""
    root = Path(images)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise LabelError(f"images: {root} is neither an image file nor a directory")
    if names is not None:
        paths = [root / n for n in names]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise LabelError(
                f"image list names {len(missing)} file(s) not found, e.g. {missing[0]}"
            )
        return paths
    paths = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise LabelError(f"images: no images ({', '.join(IMAGE_SUFFIXES)}) in {root}")
    return paths


def read_name_list(path: str | Path) -> list[str]:
    """One image name per line (blank lines and ``#`` comments skipped)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [s.strip() for s in lines if s.strip() and not s.strip().startswith("#")]


def _clip_boxes(
    boxes: np.ndarray, width: int, height: int, source: str, issues: LabelIssues
) -> np.ndarray:
    """Clip xyxy boxes to the image; return a keep mask for boxes with area left."""
    over = (
        (boxes[:, 0] < -_CLIP_TOLERANCE_PX)
        | (boxes[:, 1] < -_CLIP_TOLERANCE_PX)
        | (boxes[:, 2] > width + _CLIP_TOLERANCE_PX)
        | (boxes[:, 3] > height + _CLIP_TOLERANCE_PX)
    )
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    keep = (boxes[:, 2] - boxes[:, 0] >= 1.0) & (boxes[:, 3] - boxes[:, 1] >= 1.0)
    if (~keep).any():
        issues.add(
            "outside",
            f"{source}: {int((~keep).sum())} box(es) outside the image or empty, dropped",
            int((~keep).sum()),
        )
    clipped = over & keep
    if clipped.any():
        issues.add(
            "clipped",
            f"{source}: {int(clipped.sum())} box(es) partly outside the image, clipped",
            int(clipped.sum()),
        )
    return keep


def _finish(
    path: Path,
    width: int,
    height: int,
    boxes: list[list[float]],
    labels: list[int],
    source: str,
    issues: LabelIssues,
) -> ImageLabels:
    arr = np.asarray(boxes, np.float64).reshape(-1, 4)
    lab = np.asarray(labels, np.int64)
    keep = _clip_boxes(arr, width, height, source, issues)
    return ImageLabels(str(path), width, height, arr[keep], lab[keep])


def read_yolo(
    images: list[Path],
    labels_dir: Path,
    class_names: list[str],
    mapping: ClassMapping,
    allow_missing: bool = False,
    check_orphans: bool = True,
) -> LabelSet:
    """YOLO: ``<labels_dir>/<image stem>.txt``, lines ``class cx cy w h`` normalised to 0..1."""
    issues, ignored = LabelIssues(), Counter[str]()
    targets = [mapping.map_name(n, "class list") for n in class_names]
    out: list[ImageLabels] = []
    stems = {p.stem for p in images}
    for txt in sorted(labels_dir.glob("*.txt")) if check_orphans else []:
        if txt.stem not in stems and txt.name != "classes.txt":
            issues.add(
                "orphan_labels", f"{txt}: no image named {txt.stem}.* among the images, skipped"
            )
    for img in images:
        txt = labels_dir / f"{img.stem}.txt"
        width, height = image_size(img)
        if not txt.is_file():
            if not allow_missing:
                raise LabelError(
                    f"{img}: no label file (expected {txt}); pass allow_missing/--allow-unlabelled "
                    "to treat unlabelled images as having no objects"
                )
            issues.add("missing_labels", f"{img}: no label file {txt.name}, treated as no objects")
            out.append(_finish(img, width, height, [], [], str(txt), issues))
            continue
        boxes: list[list[float]] = []
        labels: list[int] = []
        lines = txt.read_text(encoding="utf-8").splitlines()
        if not any(s.strip() for s in lines):
            issues.add("empty_file", f"{txt}: empty label file, image has no objects")
        for lineno, line in enumerate(lines, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 5:
                raise LabelError(
                    f"{txt}:{lineno}: expected 'class cx cy w h' (got {line.strip()!r})"
                )
            try:
                cls_id = int(parts[0])
                cx, cy, w, h = (float(v) for v in parts[1:])
            except ValueError as exc:
                raise LabelError(f"{txt}:{lineno}: not numbers ({line.strip()!r})") from exc
            if not 0 <= cls_id < len(class_names):
                raise LabelError(
                    f"{txt}:{lineno}: class id {cls_id} is not in the class list (ids 0..{len(class_names) - 1})"
                )
            target = targets[cls_id]
            if target is None:
                ignored[class_names[cls_id]] += 1
                issues.add(
                    "ignored_class",
                    f"{txt}:{lineno}: class {class_names[cls_id]!r} ignored by the mapping",
                )
                continue
            boxes.append(
                [
                    (cx - w / 2) * width,
                    (cy - h / 2) * height,
                    (cx + w / 2) * width,
                    (cy + h / 2) * height,
                ]
            )
            labels.append(mapping.index(target))
        out.append(_finish(img, width, height, boxes, labels, str(txt), issues))
    return LabelSet(mapping.targets, out, issues, ignored)


def _load_json(path: Path) -> Any:
    return load_json_file(path, "label JSON", LabelError)


def _group_by_image(
    images: list[Path],
    records: dict[str, list[tuple[list[float], str | None, str]]],
    label_file: Path,
    mapping: ClassMapping,
    allow_missing: bool,
    issues: LabelIssues,
    ignored: Counter[str],
) -> list[ImageLabels]:
    by_name = {p.name: p for p in images}
    unknown = sorted(set(records) - set(by_name))
    for name in unknown:
        issues.add(
            "orphan_labels",
            f"{label_file}: labels for {name!r}, which is not among the images; skipped",
            len(records[name]),
        )
    if unknown and len(unknown) == len(records) and records:
        raise LabelError(
            f"{label_file}: none of its {len(records)} image names match the images "
            f"(e.g. {unknown[0]!r} vs {next(iter(by_name))!r})"
        )
    out: list[ImageLabels] = []
    for name, img in by_name.items():
        width, height = image_size(img)
        recs = records.get(name)
        if recs is None:
            if not allow_missing:
                raise LabelError(
                    f"{img}: no labels in {label_file}; pass allow_missing/--allow-unlabelled to "
                    "treat unlabelled images as having no objects"
                )
            issues.add(
                "missing_labels", f"{img}: no labels in {label_file.name}, treated as no objects"
            )
            recs = []
        boxes, labels = [], []
        for box, target, src_name in recs:
            if target is None:
                ignored[src_name] += 1
                issues.add(
                    "ignored_class",
                    f"{label_file}: class {src_name!r} on {name} ignored by the mapping",
                )
                continue
            boxes.append(box)
            labels.append(mapping.index(target))
        out.append(_finish(img, width, height, boxes, labels, f"{label_file} [{name}]", issues))
    return out


def read_coco(
    images: list[Path], label_file: Path, mapping: ClassMapping, allow_missing: bool = False
) -> LabelSet:
    """COCO detection JSON: ``images`` (id, file_name), ``annotations`` (bbox x,y,w,h), ``categories``."""
    data = _load_json(label_file)
    issues, ignored = LabelIssues(), Counter[str]()
    try:
        cats = {int(c["id"]): str(c["name"]) for c in data["categories"]}
        names = {int(im["id"]): Path(str(im["file_name"])).name for im in data["images"]}
        anns = data["annotations"]
    except (KeyError, TypeError, ValueError) as exc:
        raise LabelError(
            f"{label_file}: not a COCO detection file ({type(exc).__name__}: {exc})"
        ) from exc
    cat_target = {
        cid: mapping.map_name(name, f"{label_file} category {cid}") for cid, name in cats.items()
    }
    records: dict[str, list[tuple[list[float], str | None, str]]] = {n: [] for n in names.values()}
    for i, ann in enumerate(anns):
        try:
            x, y, w, h = (float(v) for v in ann["bbox"])
            cid, iid = int(ann["category_id"]), int(ann["image_id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise LabelError(f"{label_file}: annotation #{i} is malformed ({exc})") from exc
        if cid not in cats:
            raise LabelError(
                f"{label_file}: annotation #{i} has unknown category_id {cid} (known {sorted(cats)})"
            )
        if iid not in names:
            raise LabelError(f"{label_file}: annotation #{i} refers to unknown image_id {iid}")
        records[names[iid]].append(([x, y, x + w, y + h], cat_target[cid], cats[cid]))
    for name, recs in records.items():
        if not recs:
            issues.add(
                "empty_file",
                f"{label_file}: image {name!r} has no annotations, image has no objects",
            )
    out = _group_by_image(images, records, label_file, mapping, allow_missing, issues, ignored)
    return LabelSet(mapping.targets, out, issues, ignored)


def read_xview(
    images: list[Path], label_file: Path, mapping: ClassMapping, allow_missing: bool = False
) -> LabelSet:
    """xView GeoJSON: features with ``bounds_imcoords`` "xmin,ymin,xmax,ymax", ``type_id``, ``image_id``."""
    data = _load_json(label_file)
    issues, ignored = LabelIssues(), Counter[str]()
    feats = data.get("features") if isinstance(data, dict) else None
    if not isinstance(feats, list):
        raise LabelError(f"{label_file}: not a GeoJSON FeatureCollection with 'features'")
    records: dict[str, list[tuple[list[float], str | None, str]]] = {}
    for i, feat in enumerate(feats):
        try:
            props = feat["properties"]
            box = [float(v) for v in str(props["bounds_imcoords"]).split(",")]
            type_id, image_id = int(props["type_id"]), str(props["image_id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise LabelError(
                f"{label_file}: feature #{i} lacks a valid bounds_imcoords/type_id/image_id ({exc})"
            ) from exc
        if len(box) != 4:
            raise LabelError(
                f"{label_file}: feature #{i}: bounds_imcoords needs 4 numbers (got {len(box)})"
            )
        target = mapping.map_xview(type_id, f"{label_file} feature #{i}")
        records.setdefault(image_id, []).append((box, target, f"xview:{type_id}"))
    out = _group_by_image(images, records, label_file, mapping, allow_missing, issues, ignored)
    return LabelSet(mapping.targets, out, issues, ignored)


def read_labels(
    images: str | Path,
    labels: str | Path,
    fmt: str,
    *,
    classes: str | Path | None = None,
    mapping: ClassMapping | None = None,
    names: list[str] | None = None,
    allow_missing: bool = False,
) -> LabelSet:
    """Read labels for ``images`` (a directory, one image, or ``names`` inside a directory).

    ``labels`` is a directory of txt files (``yolo``, with ``classes``: a class list file,
    one name a line, defaulting to ``<labels>/../classes.txt``) or a JSON file (``coco``,
    ``xview``).
    """
    if fmt not in FORMATS:
        raise LabelError(f"label format must be one of {FORMATS} (got {fmt!r})")
    mapping = mapping or ClassMapping()
    paths = list_images(images, names)
    lab = Path(labels)
    if fmt == "yolo":
        if not lab.is_dir():
            raise LabelError(f"yolo labels must be a directory of .txt files (got {lab})")
        class_file = Path(classes) if classes else lab.parent / "classes.txt"
        if not class_file.is_file():
            raise LabelError(
                f"yolo labels need a class list file (one name a line): {class_file} not found"
            )
        class_names = read_name_list(class_file)
        if not class_names:
            raise LabelError(f"{class_file}: class list is empty")
        return read_yolo(
            paths, lab, class_names, mapping, allow_missing, check_orphans=names is None
        )
    if not lab.is_file():
        raise LabelError(f"{fmt} labels must be a JSON file (got {lab})")
    reader = read_coco if fmt == "coco" else read_xview
    return reader(paths, lab, mapping, allow_missing)
