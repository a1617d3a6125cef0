"""expand_inputs: files, directories, globs, sidecars, failures and deterministic sampling."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyscan.errors import InputError
from skyscan.io.sources import expand_inputs, is_sidecar, sample_key, unique_image_ids


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """root/{a.tif, a.tfw, a.tif.aux.xml, a.xml, b.PNG, b.pgw, b.prj, notes.txt,
    sub/c.jpg, sub/c.jgw, sub/deeper/d.tiff, sub/deeper/d.tif.ovr}"""
    files = [
        "a.tif",
        "a.tfw",
        "a.tif.aux.xml",
        "a.xml",
        "b.PNG",
        "b.pgw",
        "b.prj",
        "notes.txt",
        "sub/c.jpg",
        "sub/c.jgw",
        "sub/deeper/d.tiff",
        "sub/deeper/d.tif.ovr",
    ]
    for name in files:
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    return tmp_path


def names(paths: list[str], root: Path) -> list[str]:
    return [Path(p).relative_to(root).as_posix() for p in paths]


def test_directory_recursive_skips_sidecars_and_other_files(tree: Path) -> None:
    paths, failures = expand_inputs([tree])
    assert failures == []
    assert names(paths, tree) == ["a.tif", "b.PNG", "sub/c.jpg", "sub/deeper/d.tiff"]
    assert all(os.path.isabs(p) for p in paths)


def test_directory_not_recursive(tree: Path) -> None:
    paths, _ = expand_inputs([tree], recursive=False)
    assert names(paths, tree) == ["a.tif", "b.PNG"]


def test_globs_including_double_star(tree: Path) -> None:
    paths, _ = expand_inputs([str(tree / "**" / "*.ti*")])
    assert names(paths, tree) == ["a.tif", "sub/deeper/d.tiff"]
    paths, _ = expand_inputs([str(tree / "sub" / "*")])
    assert names(paths, tree) == ["sub/c.jpg"]  # the world file is not an image


def test_duplicates_are_removed_and_sorted(tree: Path) -> None:
    paths, _ = expand_inputs([tree / "sub/c.jpg", tree, str(tree / "*.tif"), tree / "a.tif"])
    assert names(paths, tree) == ["a.tif", "b.PNG", "sub/c.jpg", "sub/deeper/d.tiff"]
    assert paths == sorted(paths)


def test_explicit_file_any_extension_but_not_sidecar(tree: Path) -> None:
    paths, failures = expand_inputs([tree / "notes.txt", tree / "a.tfw", tree / "a.tif.aux.xml"])
    assert names(paths, tree) == ["notes.txt"]  # named explicitly: fails later as not-an-image
    assert failures == []


def test_missing_path_and_empty_glob_are_failures(tree: Path) -> None:
    paths, failures = expand_inputs([tree / "nope.tif", str(tree / "*.jp2"), tree / "a.tif"])
    assert names(paths, tree) == ["a.tif"]
    assert [f.stage for f in failures] == ["ingest", "ingest"]
    assert "no such file" in str(failures[0].error) and "nope.tif" in str(failures[0].error)
    assert "matched no image" in str(failures[1].error)
    assert failures[0].message.startswith("InputError: ")


def test_custom_extensions(tree: Path) -> None:
    paths, _ = expand_inputs([tree], extensions=["jpg", ".PNG"])
    assert names(paths, tree) == ["b.PNG", "sub/c.jpg"]


@pytest.mark.parametrize("ratio", [0.0, -0.1, 1.5])
def test_bad_sample_ratio(tree: Path, ratio: float) -> None:
    with pytest.raises(InputError, match="'sample_ratio' must be in"):
        expand_inputs([tree], sample_ratio=ratio)


def test_single_string_is_refused() -> None:
    with pytest.raises(InputError, match="sequence of paths"):
        expand_inputs("a.tif")  # type: ignore[arg-type]


def test_sampling_is_deterministic_and_order_independent(tmp_path: Path) -> None:
    for i in range(400):
        (tmp_path / f"img_{i:03d}.png").write_bytes(b"x")
    a, _ = expand_inputs([tmp_path], sample_ratio=0.25, seed=7)
    b, _ = expand_inputs(
        sorted(str(p) for p in tmp_path.iterdir())[::-1], sample_ratio=0.25, seed=7
    )
    c, _ = expand_inputs([tmp_path], sample_ratio=0.25, seed=8)
    assert a == b  # same files whatever the order the inputs came in
    assert a != c  # another seed, another sample
    assert 60 <= len(a) <= 140  # ~100 expected; binomial sd ~ 8.7
    # A bigger ratio keeps a superset (the hash threshold only moves up).
    bigger, _ = expand_inputs([tmp_path], sample_ratio=0.5, seed=7)
    assert set(a) <= set(bigger)
    # Splitting the inputs (as distributed workers do) samples the same files.
    half1, _ = expand_inputs([str(tmp_path / "img_0*.png")], sample_ratio=0.25, seed=7)
    half2, _ = expand_inputs([str(tmp_path / "img_[1-3]*.png")], sample_ratio=0.25, seed=7)
    assert sorted(half1 + half2) == a


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=30), st.integers(0, 2**31))
def test_sample_key_is_uniform_range(path: str, seed: int) -> None:
    k = sample_key(path, seed)
    assert 0.0 <= k < 1.0
    assert k == sample_key(path, seed)


def test_is_sidecar() -> None:
    assert is_sidecar("x.TFW") and is_sidecar("x.tif.aux.xml") and is_sidecar("x.tif.ovr")
    assert not is_sidecar("x.tif") and not is_sidecar("x.jpeg")


def test_unique_image_ids() -> None:
    ids = unique_image_ids(
        ["/d/a/scene.tif", "/d/b/scene.tif", "/d/other.png", "/d/a/x.tif", "/d/a/x.png"]
    )
    assert ids == {
        "/d/a/scene.tif": "a/scene",
        "/d/b/scene.tif": "b/scene",
        "/d/other.png": "other",
        "/d/a/x.tif": "a/x.tif",  # same stem, same folder: keep the extension
        "/d/a/x.png": "a/x.png",
    }
    assert len(set(ids.values())) == len(ids)
