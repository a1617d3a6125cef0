"""Which files a run takes: directories (recursive or not), globs expanded by skyscan
itself (quoted, as from a script), explicit files, missing inputs, and a deterministic
sample (`--sample-ratio` + `--seed`), all through `skyscan detect`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from e2e_support import blank, read_outputs, skyscan, write_raster

from rasters import write_geotiff


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inputs") / "tree"
    (root / "sub" / "deeper").mkdir(parents=True)
    data = blank(48, 40, [(20, 20, 0)])
    write_geotiff(root / "top1.tif", 48, 40, data=data)
    write_raster(root / "top2.png", data, "PNG")
    write_geotiff(root / "sub" / "mid.tif", 48, 40, data=data)
    write_geotiff(root / "sub" / "MID2.TIF", 48, 40, data=data)
    write_geotiff(root / "sub" / "deeper" / "deep.tiff", 48, 40, data=data)
    (root / "notes.txt").write_text("not an image")
    (root / "sub" / "other.xml").write_text("<metadata/>")
    (root / "sub" / "deeper" / "deep.tfw").write_text("0.5\n0\n0\n-0.5\n594000\n5758000\n")
    many = root.parent / "many"
    many.mkdir()
    empty = blank(32, 32, [])
    for i in range(24):
        write_raster(many / f"img_{i:02d}.png", empty, "PNG")
    return root


def _images(out: Path) -> list[str]:
    return read_outputs(out)[2]["images"]


def _rel(tree: Path, paths: list[str]) -> list[str]:
    return sorted(Path(p).relative_to(tree).as_posix() for p in paths)


ALL = ["sub/MID2.TIF", "sub/deeper/deep.tiff", "sub/mid.tif", "top1.tif", "top2.png"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], ALL),  # directories are recursive by default; sidecars and text files are no images
        (["--no-recursive"], ["top1.tif", "top2.png"]),
    ],
)
def test_directory_inputs(
    tree: Path, blob_model: Path, tmp_path: Path, args: list[str], expected: list[str]
) -> None:
    res = skyscan("-q", "detect", tree, *args, "-o", tmp_path / "out", "--model", blob_model)
    assert res.returncode == 0, res.stderr
    assert _rel(tree, _images(tmp_path / "out")) == expected
    det, err, _ = read_outputs(tmp_path / "out")
    assert err.num_rows == 0 and det.num_rows == len(expected)  # one object per image


def test_quoted_globs_are_expanded_by_skyscan(tree: Path, blob_model: Path, tmp_path: Path) -> None:
    res = skyscan("-q", "detect", f"{tree}/**/*.tif", "-o", tmp_path / "out", "--model", blob_model)
    assert res.returncode == 0, res.stderr
    # ``**`` crosses directories (zero or more); the pattern's case is honoured like a shell's
    assert _rel(tree, _images(tmp_path / "out")) == ["sub/mid.tif", "top1.tif"]


def test_missing_inputs_are_errors_and_duplicates_count_once(
    tree: Path, blob_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    empty = tmp_path / "no_images"
    empty.mkdir()
    (empty / "readme.txt").write_text("images come later")
    res = skyscan(
        "-q",
        "detect",
        tree / "top1.tif",
        tree,
        f"{tree}/nothing*.tif",
        tree / "gone.tif",
        empty,
        "-o",
        out,
        "--model",
        blob_model,
    )
    assert res.returncode == 3, res.stderr
    det, err, manifest = read_outputs(out)
    assert _rel(tree, manifest["images"]) == ALL  # top1.tif named twice, processed once
    assert det.num_rows == len(ALL) and len(set(det.column("image_path").to_pylist())) == len(ALL)
    errors = {Path(r["path"]).name: r for r in err.to_pylist()}
    assert set(errors) == {"nothing*.tif", "gone.tif", "no_images"}
    assert all(r["stage"] == "ingest" for r in errors.values())
    assert "matched no image files" in errors["nothing*.tif"]["message"]
    assert "no such file" in errors["gone.tif"]["message"]
    assert "directory holds no image files" in errors["no_images"]["message"]
    assert manifest["counts"]["failed"] == 3 and manifest["counts"]["images_ok"] == len(ALL)


@pytest.fixture(scope="module")
def samples(
    tree: Path, blob_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    many = tree.parent / "many"
    base = tmp_path_factory.mktemp("samples")
    files = sorted(many.glob("*.png"), reverse=True)
    runs = {
        "seed7": ["--sample-ratio", "0.5", "--seed", "7", many],
        "seed7_again_as_files": ["--sample-ratio", "0.5", "--seed", "7", *files],
        "seed8": ["--sample-ratio", "0.5", "--seed", "8", many],
    }
    result = {"all": [str(f) for f in sorted(many.glob("*.png"))]}
    for name, args in runs.items():
        res = skyscan("-q", "detect", *args, "-o", base / name, "--model", blob_model)
        assert res.returncode == 0, (name, res.stderr)
        result[name] = _images(base / name)
    return result


def test_sample_is_deterministic_whatever_the_input_spelling(samples: dict[str, list[str]]) -> None:
    assert samples["seed7"] == samples["seed7_again_as_files"]
    assert 1 <= len(samples["seed7"]) < 24


def test_sample_depends_on_the_seed_and_is_a_subset(samples: dict[str, list[str]]) -> None:
    assert len(samples["all"]) == 24
    assert set(samples["seed7"]) < set(samples["all"]) and set(samples["seed8"]) < set(
        samples["all"]
    )
    assert samples["seed7"] != samples["seed8"]
