"""The labels of data/labels as GeoJSON in each image's own CRS (one file per image).

    python scripts/labels_geojson.py ../shared/data/georef -o OUTDIR [--labels data/labels]

Each image of images.csv and of the region CSVs is opened with skyscan's reader (so world
files and .aux.xml count as they do in ``skyscan detect``); every labelled box, ignore
region and vehicle-free region becomes a polygon with the properties ``kind`` (``vehicle``,
``ignore`` or ``negative``), ``class`` (vehicles), ``note``, ``area_ha`` (negatives) and
its pixel box ``px`` (xmin, ymin, xmax, ymax). The CRS is written as the ``crs`` member
(its WKT or EPSG code), as GeoJSON before RFC 7946 did; the YOLO files and CSVs stay the
source of truth.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _polygon(box: tuple[float, float, float, float], transform: Any) -> dict[str, Any]:
    from skyscan.geo.footprints import pixel_to_crs

    x0, y0, x1, y1 = box
    xs, ys = pixel_to_crs([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0], transform)
    return {
        "type": "Polygon",
        "coordinates": [[[float(x), float(y)] for x, y in zip(xs, ys, strict=True)]],
    }


def convert(imagery: Path, labels: Path, out: Path) -> list[Path]:
    from skyscan.io.reader import open_image

    classes = (labels / "classes.txt").read_text(encoding="utf-8").split()
    images = {r["image"]: r for r in _rows(labels / "images.csv")}
    ignore = _rows(labels / "ignore_regions.csv")
    negative = _rows(labels / "negative_regions.csv")
    names = sorted(set(images) | {r["image"] for r in ignore + negative})
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        path = imagery / images[name]["path"] if name in images else next(imagery.rglob(name))
        ref = open_image(path)
        if ref.transform is None:
            raise SystemExit(f"{path}: not georeferenced")
        feats: list[dict[str, Any]] = []
        if name in images:
            row = images[name]
            txt = labels / row["labels"] / f"{Path(name).stem}.txt"
            for line in txt.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                c, cx, cy, w, h = line.split()
                fx, fy, fw, fh = (
                    float(cx) * ref.width,
                    float(cy) * ref.height,
                    float(w) * ref.width,
                    float(h) * ref.height,
                )
                box = (fx - fw / 2, fy - fh / 2, fx + fw / 2, fy + fh / 2)
                feats.append(
                    {
                        "type": "Feature",
                        "geometry": _polygon(box, ref.transform),
                        "properties": {
                            "kind": "vehicle",
                            "class": classes[int(c)],
                            "px": [round(v, 2) for v in box],
                        },
                    }
                )
        for kind, rows in (("ignore", ignore), ("negative", negative)):
            for r in rows:
                if r["image"] != name:
                    continue
                box = (float(r["xmin"]), float(r["ymin"]), float(r["xmax"]), float(r["ymax"]))
                props: dict[str, Any] = {"kind": kind, "note": r.get("note", ""), "px": list(box)}
                if kind == "negative":
                    props.update(
                        ground=r["kind"], area_ha=float(r["area_ha"]), split=r.get("split")
                    )
                feats.append(
                    {
                        "type": "Feature",
                        "geometry": _polygon(box, ref.transform),
                        "properties": props,
                    }
                )
        target = out / f"{Path(name).stem}.geojson"
        doc = {
            "type": "FeatureCollection",
            "name": name,
            "crs": ref.crs,
            "split": images[name]["split"] if name in images else None,
            "features": feats,
        }
        target.write_text(json.dumps(doc) + "\n", encoding="utf-8")
        written.append(target)
    return written


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("imagery", type=Path, help="the georef folder of the shared data")
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--labels", type=Path, default=ROOT / "data" / "labels")
    args = ap.parse_args()
    for path in convert(args.imagery, args.labels, args.output):
        print(path)


if __name__ == "__main__":
    main()
