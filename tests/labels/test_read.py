"""Label readers: YOLO, COCO, xView; class folds; every bad input named or counted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rasters import write_plain_png
from skyscan.errors import LabelError
from skyscan.labels import ClassMapping, read_labels
from skyscan.labels.mapping import parse_overrides

CLASSES = "car\ntruck\nbus\nminibus\ncyclist\n"


def _yolo(
    tmp_path: Path, labels: dict[str, str], images: tuple[str, ...] = ("a", "b")
) -> tuple[Path, Path]:
    img_dir, lab_dir = tmp_path / "images", tmp_path / "labels"
    img_dir.mkdir()
    lab_dir.mkdir()
    for name in images:
        write_plain_png(img_dir / f"{name}.png", width=100, height=50)
    for name, text in labels.items():
        (lab_dir / f"{name}.txt").write_text(text)
    (tmp_path / "classes.txt").write_text(CLASSES)
    return img_dir, lab_dir


def test_yolo_boxes_in_pixels_and_folds(tmp_path: Path) -> None:
    img, lab = _yolo(
        tmp_path,
        {
            "a": "0 0.5 0.5 0.2 0.4\n3 0.25 0.5 0.1 0.2\n",
            "b": "4 0.5 0.5 0.1 0.1\n2 0.5 0.5 0.5 0.5\n",
        },
    )
    ls = read_labels(img, lab, "yolo")
    a, b = ls.images
    np.testing.assert_allclose(a.boxes, [[40, 15, 60, 35], [20, 20, 30, 30]])
    assert [ls.classes[i] for i in a.labels] == ["car", "bus"]  # minibus -> bus
    assert [ls.classes[i] for i in b.labels] == ["bus"]  # cyclist ignored
    assert ls.ignored == {"cyclist": 1}
    assert ls.issues.counts["ignored_class"] == 1
    assert ls.counts() == {"car": 1, "truck": 0, "bus": 2}


def test_yolo_clips_and_drops_outside_boxes_with_counts(tmp_path: Path) -> None:
    img, lab = _yolo(tmp_path, {"a": "0 0.95 0.5 0.2 0.2\n0 1.5 0.5 0.1 0.1\n", "b": ""})
    ls = read_labels(img, lab, "yolo")
    a, b = ls.images
    np.testing.assert_allclose(a.boxes, [[85, 20, 100, 30]])
    assert ls.issues.counts["clipped"] == 1
    assert ls.issues.counts["outside"] == 1
    assert ls.issues.counts["empty_file"] == 1
    assert "b.txt" in ls.issues.examples["empty_file"][0]
    assert len(b) == 0


def test_yolo_unknown_class_id_names_file_and_line(tmp_path: Path) -> None:
    img, lab = _yolo(tmp_path, {"a": "0 0.5 0.5 0.1 0.1\n7 0.5 0.5 0.1 0.1\n", "b": ""})
    with pytest.raises(LabelError, match=r"a\.txt:2: class id 7 is not in the class list"):
        read_labels(img, lab, "yolo")


def test_yolo_malformed_line(tmp_path: Path) -> None:
    img, lab = _yolo(tmp_path, {"a": "0 0.5 0.5 0.1\n", "b": ""})
    with pytest.raises(LabelError, match=r"a\.txt:1: expected 'class cx cy w h'"):
        read_labels(img, lab, "yolo")


def test_yolo_image_without_labels(tmp_path: Path) -> None:
    img, lab = _yolo(tmp_path, {"a": "0 0.5 0.5 0.1 0.1\n"})
    with pytest.raises(LabelError, match=r"b\.png: no label file"):
        read_labels(img, lab, "yolo")
    ls = read_labels(img, lab, "yolo", allow_missing=True)
    assert ls.issues.counts["missing_labels"] == 1
    assert len(ls.images) == 2


def test_yolo_orphan_label_file_counted(tmp_path: Path) -> None:
    img, lab = _yolo(tmp_path, {"a": "", "b": "", "zzz": "0 0.5 0.5 0.1 0.1\n"})
    ls = read_labels(img, lab, "yolo")
    assert ls.issues.counts["orphan_labels"] == 1
    assert "zzz.txt" in ls.issues.examples["orphan_labels"][0]


def test_yolo_unknown_class_name_needs_a_fold(tmp_path: Path) -> None:
    img, lab = _yolo(tmp_path, {"a": "", "b": ""})
    (tmp_path / "classes.txt").write_text("car\ntractor\n")
    with pytest.raises(LabelError, match="class 'tractor' is not known"):
        read_labels(img, lab, "yolo")
    mapping = ClassMapping().with_overrides(parse_overrides(["tractor=truck"]))
    assert read_labels(img, lab, "yolo", mapping=mapping).classes == ("car", "truck", "bus")


def test_name_list_selects_images(tmp_path: Path) -> None:
    img, lab = _yolo(tmp_path, {"a": "0 0.5 0.5 0.1 0.1\n", "b": ""})
    ls = read_labels(img, lab, "yolo", names=["a.png"])
    assert [Path(i.image_path).name for i in ls.images] == ["a.png"]
    assert not ls.issues.counts  # b.txt is not an orphan when a list selects images
    with pytest.raises(LabelError, match="not found"):
        read_labels(img, lab, "yolo", names=["nope.png"])


def _coco(tmp_path: Path, file_names: tuple[str, ...] = ("a.png", "b.png")) -> tuple[Path, Path]:
    img_dir = tmp_path / "images"
    img_dir.mkdir()
    for n in ("a", "b"):
        write_plain_png(img_dir / f"{n}.png", width=100, height=50)
    data = {
        "images": [
            {"id": i + 1, "file_name": f, "width": 100, "height": 50}
            for i, f in enumerate(file_names)
        ],
        "categories": [
            {"id": 1, "name": "car"},
            {"id": 2, "name": "Minibus"},
            {"id": 3, "name": "person"},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 10]},
            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [90, 40, 20, 20]},
            {"id": 3, "image_id": 2, "category_id": 3, "bbox": [1, 1, 2, 2]},
        ],
    }
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(data))
    return img_dir, path


def test_coco(tmp_path: Path) -> None:
    img, path = _coco(tmp_path)
    ls = read_labels(img, path, "coco")
    a, b = ls.images
    np.testing.assert_allclose(a.boxes, [[10, 10, 30, 20], [90, 40, 100, 50]])
    assert [ls.classes[i] for i in a.labels] == ["car", "bus"]
    assert ls.issues.counts["clipped"] == 1
    assert ls.ignored == {"person": 1}
    assert len(b) == 0


def test_coco_mismatched_names(tmp_path: Path) -> None:
    img, path = _coco(tmp_path, ("x.png", "y.png"))
    with pytest.raises(LabelError, match="none of its 2 image names match"):
        read_labels(img, path, "coco")


def test_coco_unknown_category(tmp_path: Path) -> None:
    img, path = _coco(tmp_path)
    data = json.loads(path.read_text())
    data["annotations"][0]["category_id"] = 9
    path.write_text(json.dumps(data))
    with pytest.raises(LabelError, match="annotation #0 has unknown category_id 9"):
        read_labels(img, path, "coco")


def _xview_feature(box: str, type_id: int, image_id: str) -> dict[str, object]:
    return {
        "type": "Feature",
        "properties": {"bounds_imcoords": box, "type_id": type_id, "image_id": image_id},
        "geometry": None,
    }


def test_xview(tmp_path: Path) -> None:
    img_dir = tmp_path / "images"
    img_dir.mkdir()
    write_plain_png(img_dir / "5.png", width=100, height=50)
    feats = [
        _xview_feature("1,2,11,12", 18, "5.png"),
        _xview_feature("20,20,40,30", 23, "5.png"),
        _xview_feature("50,5,70,15", 19, "5.png"),
        _xview_feature("0,0,5,5", 73, "5.png"),
        _xview_feature("0,0,5,5", 18, "other.tif"),
    ]
    path = tmp_path / "xview.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    ls = read_labels(img_dir, path, "xview")
    (im,) = ls.images
    assert [ls.classes[i] for i in im.labels] == ["car", "truck", "bus"]
    assert ls.ignored == {"xview:73": 1}  # building
    assert ls.issues.counts["orphan_labels"] == 1  # other.tif is not among the images


def test_xview_unknown_type_id(tmp_path: Path) -> None:
    img_dir = tmp_path / "images"
    img_dir.mkdir()
    write_plain_png(img_dir / "5.png")
    path = tmp_path / "xview.geojson"
    path.write_text(
        json.dumps(
            {"type": "FeatureCollection", "features": [_xview_feature("1,1,3,3", 999, "5.png")]}
        )
    )
    with pytest.raises(LabelError, match="unknown xView type_id 999"):
        read_labels(img_dir, path, "xview")


def test_xview_real_sample_parses(shared_data: Path, tmp_path: Path) -> None:
    """The two genuine xView records (a building) read with the xView class list."""
    sample = shared_data / "xview-format" / "xview-sample-annotation.json"
    data = json.loads(sample.read_text())
    image_id = data["features"][0]["properties"]["image_id"]
    img_dir = tmp_path / "images"
    img_dir.mkdir()
    write_plain_png(img_dir / image_id, width=3000, height=3000)
    ls = read_labels(img_dir, sample, "xview")
    assert sum(len(i) for i in ls.images) == 0  # buildings are ignored, and counted
    assert sum(ls.ignored.values()) == sum(
        1 for f in data["features"] if f["properties"]["image_id"] == image_id
    )


def test_mapping_rejects_bad_target() -> None:
    with pytest.raises(LabelError, match="maps to 'boat'"):
        ClassMapping(names={"ship": "boat"})
    with pytest.raises(LabelError, match="name=target"):
        parse_overrides(["car"])
