"""The local engine's lanes: how many, and how they share an image's batches."""

from __future__ import annotations

import itertools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from skyscan.detectors import DetectorRecipe
from skyscan.engines.local.lanes import SharedBatches, lanes_for, with_fine_tail
from skyscan.pipeline import DetectOptions, detect_batches
from skyscan.types import ImageRef


@pytest.mark.parametrize(
    ("threads", "cpus", "lanes", "lane_threads"),
    [(0, 2, 2, 1), (0, 8, 8, 1), (1, 4, 4, 1), (2, 2, 1, 2), (2, 8, 4, 2), (16, 2, 1, 16)],
)
def test_lanes_follow_cores_and_threads(
    threads: int, cpus: int, lanes: int, lane_threads: int
) -> None:
    options = DetectOptions(recipe=DetectorRecipe(threads=threads))
    n, lane_options = lanes_for(options, cpus=cpus)
    assert (n, lane_options.recipe.threads) == (lanes, lane_threads)


@pytest.mark.parametrize(
    ("n", "lanes"), [(0, 2), (1, 2), (2, 2), (7, 2), (150, 2), (5, 8), (100, 3)]
)
def test_shared_batches_give_every_item_once_in_contiguous_stretches(n: int, lanes: int) -> None:
    shared = SharedBatches(list(range(n)), lanes)
    taken: list[list[int]] = [[] for _ in range(lanes)]
    # lanes advance at different speeds: lane k takes k + 1 items per round
    while True:
        progressed = False
        for k in range(lanes):
            for _ in range(k + 1):
                i = shared.take(k)
                if i is not None:
                    taken[k].append(i)
                    progressed = True
        if not progressed:
            break
    assert sorted(i for t in taken for i in t) == list(range(n))  # every item exactly once
    for t in taken:
        jumps = sum(1 for a, b in itertools.pairwise(t) if b != a + 1)
        assert jumps <= 2 * math.ceil(math.log2(n + 1))  # long contiguous stretches, few steals
    # the lanes end together: the fastest lane took the most (it stole from the slow ones)
    if n >= 10 * lanes:
        assert len(taken[-1]) > len(taken[0])


def test_shared_batches_from_threads_lose_nothing() -> None:
    shared = SharedBatches(list(range(5000)), 4)
    with ThreadPoolExecutor(4) as pool:
        lanes = list(pool.map(lambda k: list(shared.lane(k)), range(4)))
    assert sorted(i for lane in lanes for i in lane) == list(range(5000))


def test_a_lane_that_starts_late_finds_nothing_and_opens_nothing(tmp_path: Path) -> None:
    ref = ImageRef(
        image_id="i",
        path=str(tmp_path / "missing.tif"),
        width=10,
        height=10,
        count=3,
        dtype="uint8",
    )
    shared = SharedBatches([["batch"]], 2)
    assert list(shared.lane(0)) == [["batch"]]
    # nothing left: the image (which does not exist) is never opened
    table = detect_batches(ref, shared.lane(1), object(), DetectOptions())  # type: ignore[arg-type]
    assert table.num_rows == 0


def test_a_local_run_builds_one_onnx_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lanes share one session; run.json's model facts come from the card, not from
    a second session built for the recipe's other thread count."""
    import onnxruntime as ort

    from rasters import utm_transform, write_geotiff
    from skyscan.detectors import get_detector
    from skyscan.detectors.synthetic import build_blob_model
    from skyscan.run import run_detect

    model = build_blob_model(tmp_path / "blobs.onnx", input_size=64)
    write_geotiff(tmp_path / "a.tif", 96, 96, transform=utm_transform(0.5))
    built: list[str] = []
    real_session = ort.InferenceSession

    def counting_session(path: str, *args: object, **kwargs: object) -> object:
        built.append(str(path))
        return real_session(path, *args, **kwargs)

    monkeypatch.setattr(ort, "InferenceSession", counting_session)
    get_detector.cache_clear()  # sessions built by earlier tests must not hide this run's
    try:
        options = DetectOptions(recipe=DetectorRecipe(model=str(model)))
        result = run_detect([str(tmp_path / "a.tif")], tmp_path / "out", options)
    finally:
        get_detector.cache_clear()
    assert result.n_images_ok == 1
    assert built == [str(model)]
    assert result.manifest["model"]["input_size"] == [64, 64]


@pytest.mark.parametrize(
    ("n_items", "lanes", "sizes", "tail"),
    [
        (
            2401,
            2,
            [16] * 147 + [4] * 12 + [1],
            13,
        ),  # the 100 MP benchmark scene: its last 4 batches in quarters
        (300, 3, [16] * 13 + [4] * 23, 23),
        (
            128,
            2,
            [16] * 8,
            0,
        ),  # at most 4 * lanes batches: as they are (other images fill the lanes)
        (2401, 1, [16] * 150 + [1], 0),  # one lane has nobody to wait for
    ],
)
def test_with_fine_tail_recuts_the_last_batches(
    n_items: int, lanes: int, sizes: list[int], tail: int
) -> None:
    batches = [list(range(i, min(i + 16, n_items))) for i in range(0, n_items, 16)]
    recut, n_fine = with_fine_tail(batches, 16, lanes)
    assert [len(b) for b in recut] == sizes and n_fine == tail
    assert [i for b in recut for i in b] == list(range(n_items))  # every item, in order


def test_the_tail_is_drawn_only_once_every_run_is_done() -> None:
    shared = SharedBatches(list(range(10)), 2, tail=4)  # runs [0, 3) and [3, 6), tail 6..9
    assert [shared.take(0) for _ in range(3)] == [0, 1, 2]
    assert shared.take(0) == 4  # lane 0 steals from lane 1's run before touching the tail
    assert [shared.take(1) for _ in range(2)] == [
        3,
        5,
    ]  # lane 1's run: 3, then the stolen 4 is gone
    assert [shared.take(0), shared.take(1), shared.take(0), shared.take(1)] == [6, 7, 8, 9]
    assert shared.take(0) is None and shared.take(1) is None
    with pytest.raises(ValueError, match="tail"):
        SharedBatches([1, 2], 2, tail=3)


def test_small_images_are_read_by_one_lane_and_large_ones_shared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An image of at most one batch per lane is opened by one lane (not by every lane for
    a batch each); a larger image is shared by all lanes; every image is detected."""
    from rasters import utm_transform, write_geotiff
    from skyscan.detectors.synthetic import build_blob_model
    from skyscan.io import reader
    from skyscan.run import run_detect

    model = build_blob_model(tmp_path / "blobs.onnx", input_size=64)
    images = tmp_path / "images"
    images.mkdir()
    for i in range(4):  # 96 px at 64 px chips: 4 chips, two batches of 2 (one per lane)
        write_geotiff(
            images / f"small_{i}.tif", 96, 96, transform=utm_transform(0.5, x0=594_000.0 + 100 * i)
        )
    write_geotiff(images / "large.tif", 400, 400, transform=utm_transform(0.5))  # dozens of batches
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # two lanes, whatever the machine
    opened: list[str] = []
    real_init = reader.ImageReader.__init__

    def counting_init(self: reader.ImageReader, ref: ImageRef) -> None:
        opened.append(Path(ref.path).name)
        real_init(self, ref)

    monkeypatch.setattr(reader.ImageReader, "__init__", counting_init)
    options = DetectOptions(recipe=DetectorRecipe(model=str(model)), batch_size=2)
    result = run_detect([str(images)], tmp_path / "out", options)
    assert result.n_images_ok == 5
    assert sorted(n for n in opened if n.startswith("small")) == [
        f"small_{i}.tif" for i in range(4)
    ]
    assert opened.count("large.tif") == 2  # both lanes
