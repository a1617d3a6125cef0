"""The real-world labels shipped in data/labels are valid (data/labels/README.md).

The format checks need no imagery and always run; the checks against the images (sizes,
boxes inside them, regions inside them) skip when ../shared/data is absent.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from skyscan.evaluate.ignore import read_ignore_regions
from skyscan.labels import ClassMapping, read_labels

LABELS = Path(__file__).resolve().parents[2] / "data" / "labels"
RESERVED = ("tiles/", "pan3.tif", "sample_geotiff.tif", "big_img_1091-322_00.tif")
SPLITS = {"train", "validation", "test"}


def _csv(name: str) -> list[dict[str, str]]:
    with (LABELS / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _box(row: dict[str, str]) -> tuple[float, float, float, float]:
    return float(row["xmin"]), float(row["ymin"]), float(row["xmax"]), float(row["ymax"])


IMAGES = _csv("images.csv")


def test_class_list_is_the_model_contract() -> None:
    names = (LABELS / "classes.txt").read_text(encoding="utf-8").split()
    assert names == ["car", "truck", "bus"]
    assert [ClassMapping().map_name(n, "classes.txt") for n in names] == names


def test_every_label_file_is_listed_once_with_a_split() -> None:
    listed = {(r["labels"], Path(r["image"]).stem) for r in IMAGES}
    on_disk = {(p.parent.name, p.stem) for p in LABELS.glob("*/*.txt")}
    assert listed == on_disk
    assert len(IMAGES) == len({r["image"] for r in IMAGES})
    assert {r["split"] for r in IMAGES} <= SPLITS
    for place in {r["labels"] for r in IMAGES}:  # a place belongs to one split only
        assert len({r["split"] for r in IMAGES if r["labels"] == place}) == 1


@pytest.mark.parametrize("row", IMAGES, ids=[r["labels"] for r in IMAGES])
def test_yolo_lines_are_well_formed(row: dict[str, str]) -> None:
    txt = LABELS / row["labels"] / f"{Path(row['image']).stem}.txt"
    for lineno, line in enumerate(txt.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        assert len(parts) == 5, f"{txt}:{lineno}"
        cls, cx, cy, w, h = int(parts[0]), *(float(v) for v in parts[1:])
        assert cls in (0, 1, 2), f"{txt}:{lineno}"
        assert 0 < w <= 1 and 0 < h <= 1, f"{txt}:{lineno}"
        assert cx - w / 2 >= -1e-6 and cx + w / 2 <= 1 + 1e-6, f"{txt}:{lineno}"
        assert cy - h / 2 >= -1e-6 and cy + h / 2 <= 1 + 1e-6, f"{txt}:{lineno}"


def test_region_files_parse_and_areas_add_up() -> None:
    ignore = read_ignore_regions(LABELS / "ignore_regions.csv")
    assert ignore.count() == len(_csv("ignore_regions.csv"))
    names = {r["image"] for r in IMAGES}
    assert set(ignore.by_image) <= names
    split_of = {r["image"]: r["split"] for r in IMAGES}
    for row in _csv("negative_regions.csv"):
        x0, y0, x1, y1 = _box(row)
        assert x1 > x0 and y1 > y0
        assert row["kind"]
        assert row["split"] == split_of.get(row["image"], row["split"]) and row["split"] in SPLITS
        gsd = float(row["gsd_m"])
        assert float(row["area_ha"]) == pytest.approx(
            (x1 - x0) * (y1 - y0) * gsd * gsd / 1e4, rel=1e-3
        )
    for row in IMAGES:
        x0, y0, x1, y1 = _box(row)
        gsd = float(row["gsd_m"])
        assert float(row["area_ha"]) == pytest.approx(
            (x1 - x0) * (y1 - y0) * gsd * gsd / 1e4, rel=1e-3
        )


def test_no_reserved_image_is_named() -> None:
    for path in [
        LABELS / "images.csv",
        LABELS / "ignore_regions.csv",
        LABELS / "negative_regions.csv",
    ]:
        text = path.read_text(encoding="utf-8")
        for name in RESERVED:
            assert name not in text, f"{path} names the reserved {name}"


@pytest.fixture(scope="module")
def georef(shared_data: Path) -> Path:
    return shared_data / "georef"


@pytest.mark.parametrize("row", IMAGES, ids=[r["labels"] for r in IMAGES])
def test_labels_read_with_skyscan_and_lie_inside_the_image_and_window(
    georef: Path, row: dict[str, str]
) -> None:
    image = georef / row["path"]
    labels = read_labels(image, LABELS / row["labels"], "yolo", classes=LABELS / "classes.txt")
    assert not labels.issues.counts.get("clipped") and not labels.issues.counts.get("outside")
    (item,) = labels.images
    boxes = item.boxes
    x0, y0, x1, y1 = _box(row)
    assert x1 <= item.width and y1 <= item.height
    if len(boxes):
        assert (boxes[:, 0] >= x0 - 1).all() and (boxes[:, 1] >= y0 - 1).all()
        assert (boxes[:, 2] <= x1 + 1).all() and (boxes[:, 3] <= y1 + 1).all()
    negatives = [_box(r) for r in _csv("negative_regions.csv") if r["image"] == row["image"]]
    for nx0, ny0, nx1, ny1 in negatives:
        assert nx1 <= item.width and ny1 <= item.height
        for bx0, by0, bx1, by1 in boxes:  # a vehicle-free region holds no labelled vehicle
            assert bx1 <= nx0 or bx0 >= nx1 or by1 <= ny0 or by0 >= ny1, (
                row["image"],
                (nx0, ny0, nx1, ny1),
            )


def test_regions_lie_inside_their_images(georef: Path) -> None:
    from skyscan.labels.read import image_size

    paths = {Path(p).name: georef / p for p in (r["path"] for r in IMAGES)}
    for name in ("ignore_regions.csv", "negative_regions.csv"):
        for row in _csv(name):
            path = paths.get(row["image"]) or next(georef.rglob(row["image"]))
            width, height = image_size(path)
            x0, y0, x1, y1 = _box(row)
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, (name, row)


def test_geojson_copies_match_the_labels(georef: Path, tmp_path: Path) -> None:
    """data/labels/geojson is derived (scripts/labels_geojson.py): regenerated, it is unchanged."""
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location(
        "labels_geojson", LABELS.parents[1] / "scripts" / "labels_geojson.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fresh = {
        p.name: json.loads(p.read_text(encoding="utf-8"))
        for p in module.convert(georef, LABELS, tmp_path)
    }
    shipped = {
        p.name: json.loads(p.read_text(encoding="utf-8"))
        for p in (LABELS / "geojson").glob("*.geojson")
    }
    assert fresh.keys() == shipped.keys()
    for name, doc in fresh.items():
        assert doc == shipped[name], (
            f"{name}: run python scripts/labels_geojson.py ../shared/data/georef -o data/labels/geojson"
        )
