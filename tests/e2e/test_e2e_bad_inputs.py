"""Nothing lost: every kind of bad input in ONE `skyscan detect --require-georef`
run. Each bad file gets exactly one row in errors.parquet naming the file and what is
wrong, the good images are in the detections, the exit code is 3, and every input is in
exactly one of the two tables."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from affine import Affine
from e2e_support import blank, read_outputs, skyscan, write_raster, write_world_file
from pyproj import CRS

from rasters import truncate, write_geotiff, write_huge_sparse_tiff

UTM = Affine(0.5, 0.0, 594_000.0, 0.0, -0.5, 5_758_000.0)
SECRET = "s3cr3t-token-e2e-4242"
LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    + "]>\n<metadata>&lol9;</metadata>\n"
)

# file name -> (error type, what the message must say)
EXPECTED: dict[str, tuple[str, str]] = {
    "zero.tif": ("ImageReadError", r"empty \(0 bytes\)"),
    "truncated.tif": ("ImageReadError", r"cannot (open|read)"),
    "truncated.jpg": ("ImageReadError", r"cannot read .*JPEG"),
    "truncated.png": ("ImageReadError", r"cannot read .*libpng"),
    "corrupt.tif": ("ImageReadError", r"cannot read .*(Decod|Inflate|TIFF|IReadBlock)"),
    "corrupt.png": ("ImageReadError", r"cannot read .*CRC"),
    "notimage.tif": ("ImageReadError", r"not recognized as .*supported file format"),
    "badheader.tif": ("ImageReadError", r"cannot open as an image: .*TIFF"),
    "nogeo.png": ("GeoreferenceError", r"no georeferencing .*required"),
    "localcrs.tif": ("CRSError", r"must be projected or geographic"),
    "badprj.png": ("CRSError", r"badprj\.prj: not a CRS"),
    "badworld.png": ("GeoreferenceError", r"badworld\.pgw: not a world file"),
    "huge.tif": ("ImageTooLargeError", r"100000 x 100000 .*exceeds"),
    "laughs.png": ("MetadataError", r"laughs\.xml: refused hostile XML"),
    "xxe.png": ("MetadataError", r"xxe\.xml: refused hostile XML"),
}
GOOD = ["good1.tif", "good2.png", "good3.jpg"]


def _noise(width: int, height: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (3, height, width), dtype=np.uint8)


def _with_world(path: Path, data: np.ndarray, driver: str, world_suffix: str, **kw: Any) -> Path:
    write_raster(path, data, driver, **kw)
    write_world_file(path.with_suffix(world_suffix), UTM)
    path.with_suffix(".prj").write_text(CRS.from_epsg(32631).to_wkt("WKT1_ESRI"))
    return path


def _flip_bytes(path: Path, start: int) -> None:
    b = bytearray(path.read_bytes())
    for i in range(start, len(b) - 64, 7):
        b[i] ^= 0x5A
    path.write_bytes(bytes(b))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, blob_model: Path) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("bad")
    d = base / "in"
    d.mkdir()
    good = blank(96, 64, [(30, 30, 0), (70, 40, 2)])
    write_geotiff(d / "good1.tif", 96, 64, data=good, transform=UTM)
    _with_world(d / "good2.png", good, "PNG", ".pgw")
    _with_world(d / "good3.jpg", good, "JPEG", ".jgw", quality=95)

    (d / "zero.tif").write_bytes(b"")
    write_geotiff(
        d / "truncated.tif", 256, 256, data=_noise(256, 256, 1), transform=UTM, compress="deflate"
    )
    truncate(d / "truncated.tif", 0.5)
    truncate(_with_world(d / "truncated.jpg", _noise(256, 256, 2), "JPEG", ".jgw"), 0.5)
    truncate(_with_world(d / "truncated.png", _noise(256, 256, 3), "PNG", ".pgw"), 0.6)
    write_geotiff(
        d / "corrupt.tif",
        256,
        256,
        data=_noise(256, 256, 4),
        transform=UTM,
        compress="deflate",
        tiled=True,
        blockxsize=64,
        blockysize=64,
    )
    _flip_bytes(d / "corrupt.tif", 2000)
    _with_world(d / "corrupt.png", _noise(64, 64, 5), "PNG", ".pgw")
    b = bytearray((d / "corrupt.png").read_bytes())
    b[100:140] = bytes(40)  # inside the first IDAT chunk: its CRC no longer matches
    (d / "corrupt.png").write_bytes(bytes(b))
    (d / "notimage.tif").write_text("just some text, not pixels\n" * 20)
    (d / "badheader.tif").write_bytes(b"II*\0" + b"garbage after a TIFF magic number " * 20)
    write_raster(d / "nogeo.png", good, "PNG")
    write_geotiff(d / "localcrs.tif", 32, 32, crs='LOCAL_CS["site grid"]', transform=UTM)
    _with_world(d / "badprj.png", good, "PNG", ".pgw")
    (d / "badprj.prj").write_text('PROJCS["nonsense",GEOGCS["x"]]')
    write_raster(d / "badworld.png", good, "PNG")
    (d / "badworld.pgw").write_text("0.5\n0\nzero\n-0.5\n")
    write_huge_sparse_tiff(d / "huge.tif", 100_000, 100_000)
    write_raster(d / "laughs.png", good, "PNG")
    (d / "laughs.xml").write_text(LAUGHS)
    secret = base / "secret.txt"
    secret.write_text(SECRET)
    write_raster(d / "xxe.png", good, "PNG")
    (d / "xxe.xml").write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE m [<!ENTITY x SYSTEM "file://{secret}">]>\n'
        "<metadata><idinfo><descript>&x;</descript></idinfo></metadata>\n"
    )
    out = base / "out"
    res = skyscan("detect", d, "-o", out, "--model", blob_model, "--require-georef")
    det, err, manifest = read_outputs(out)
    return {"res": res, "det": det, "err": err, "manifest": manifest, "out": out, "dir": d}


def test_exit_code_3_and_the_good_images_are_processed(run: dict[str, Any]) -> None:
    assert run["res"].returncode == 3, run["res"].stderr
    det: pa.Table = run["det"]
    names = [Path(p).name for p in det.column("image_path").to_pylist()]
    assert sorted(set(names)) == GOOD
    assert all(names.count(g) == 2 for g in GOOD)  # both painted objects in each good image
    assert "failed" in run["res"].stderr  # the summary says some inputs failed


def test_each_bad_input_has_exactly_one_clear_error_row(run: dict[str, Any]) -> None:
    rows = run["err"].to_pylist()
    names = [Path(r["path"]).name for r in rows]
    assert sorted(names) == sorted(EXPECTED), "one row per bad input, no more"
    for r in rows:
        name = Path(r["path"]).name
        error_type, pattern = EXPECTED[name]
        assert r["path"] == str(run["dir"] / name)
        assert r["error_type"] == error_type, (name, r["message"])
        assert re.search(pattern, r["message"]), (name, r["message"])
        assert Path(name).stem in r["message"], (name, r["message"])  # the message names the file
        assert r["stage"] in ("read", "detect"), (name, r["stage"])
        assert "See previous exception" not in r["message"], (name, r["message"])
        assert r["run_id"] == run["manifest"]["run_id"]


def test_every_input_is_in_exactly_one_table(run: dict[str, Any]) -> None:
    inputs = {str(p) for p in run["dir"].iterdir() if p.suffix in (".tif", ".png", ".jpg")}
    failed = set(run["err"].column("path").to_pylist())
    ok = set(run["det"].column("image_path").to_pylist())
    assert failed.isdisjoint(ok) and failed | ok == inputs
    assert set(run["manifest"]["images"]) == inputs
    counts = run["manifest"]["counts"]
    assert (counts["images"], counts["images_ok"], counts["failed"]) == (
        len(inputs),
        len(GOOD),
        len(EXPECTED),
    )


def test_hostile_xml_is_never_expanded_or_resolved(run: dict[str, Any]) -> None:
    for f in run["out"].rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert SECRET.encode() not in data, f
            assert b"lollollol" not in data, f
