"""Parts of the local engine's time, one measurement per subcommand .

    .venv/bin/python benchmarks/bench_parts.py PART [--runs N]

- ``gap``: how far apart the two lanes end the 100 MP scene, with and without the fine
  tail of quarter batches (``engines.local.lanes.with_fine_tail``), alternated in one process;
- ``open``: one GDAL open of a GeoTIFF beside 20,000 other files, with GDAL's directory
  listing on open and without it (``GDAL_DISABLE_READDIR_ON_OPEN``);
- ``finish``: a lane's finish stage (peaks, NMS, image coordinates) and the peak search
  alone, per batch of 16, on 40 real batches of the scene; run it with
  ``PYTHONPATH=<other tree>/src`` to time another commit's code;
- ``tile``: ``open_image`` and ``finalize_image`` per 1024 px tile (the main thread's
  share of each image);
- ``outputs``: writing the final outputs in turn, or with the GeoJSON in a side thread
  beside the Parquet files, on the 100 MP scene's detections;
- ``warm``: three runs of the 100 MP scene in one process (wall time, minor page faults);
- ``tiles``: ``skyscan -q detect`` on the folder of 100 tiles, this tree against
  ``--baseline COMMIT``, alternated;
- ``geojson``: ``write_geojson`` of the 100 MP scene's detections (``PYTHONPATH`` as for
  ``finish`` times another commit's writer);
- ``imports``: a fresh interpreter importing what ``skyscan detect`` imports;
- ``bytecode``: a fresh one-chip ``skyscan -q detect`` without and with skyscan's bytecode
  (this machine sets PYTHONDONTWRITEBYTECODE), alternated;
- ``chips``: fresh ``skyscan -q detect`` commands on the 100 MP scene with the default
  256 px chips, ``--chip-size 512 --overlap 0.1``, ``--chip-size 1024 --overlap 0.05`` (the
  same ~51 px overlap) and the int8 model, alternated: wall time, image megapixels per
  second, and how many of the default run's detections each finds again (same class,
  IoU >= 0.5);
- ``faults``: minor page faults and system CPU of a fresh command on the 100 MP scene and
  on a one-chip scene;
- ``budget``: where the CPU of the 100 MP scene goes: per stage, thread CPU
  seconds summed over the lanes (read, prepare, infer, finish) and on the main thread
  (open, plan, finalize, write), in-process runs; the CPU of decoding every tile of the
  scene once (GDAL, one thread), the floor of reading it; and fresh commands' wall time,
  CPU and fixed cost (wall minus the job's ``run_total``); and the least any pipeline
  must do, reading the chips and running the model on them in two lanes, against the
  model alone;
- ``calls``: the 100 MP scene in one process with the model run in one ONNX call per
  batch of 16 chips and in one call per chip, alternated: wall time and CPU.

Prints the figures and merges them into benchmarks/results/parts.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_detect import RESULTS, ROOT, TILE_PX, WORK, compile_sources, make_scene
from bench_startup import baseline_tree

GSD = 0.25
SCENE = WORK / f"scene_10000_{GSD}.tif"
TILES = WORK / f"tiles_100_{GSD}"


def _ms(seconds: list[float]) -> list[float]:
    return sorted(round(s * 1000, 2) for s in seconds)


def gap(runs: int) -> dict[str, Any]:
    import skyscan.engines.local.driver as local
    from skyscan.options import RunSettings
    from skyscan.run import run_detect

    ends: list[float] = []
    real_detect, real_tail = local.detect_batches, local.with_fine_tail

    def timed_detect(*args: Any, **kwargs: Any) -> Any:
        out = real_detect(*args, **kwargs)
        ends.append(time.perf_counter())
        return out

    local.detect_batches = timed_detect  # type: ignore[assignment]
    gaps: dict[str, list[float]] = {"fine_tail": [], "whole_batches": []}
    for _ in range(runs):
        for name in gaps:
            local.with_fine_tail = (
                real_tail if name == "fine_tail" else (lambda b, s, n: (list(b), 0))
            )  # type: ignore[assignment]
            ends.clear()
            run_detect(
                [str(make_scene(SCENE, 10000, GSD))],
                WORK / "out_parts_gap",
                run=RunSettings(overwrite=True),
            )
            gaps[name].append(max(ends) - min(ends))
    return {name: _ms(values) for name, values in gaps.items()}


def open_cost(runs: int) -> dict[str, Any]:
    import rasterio

    folder = WORK / "crowded_folder"
    if not folder.exists():
        folder.mkdir()
        for i in range(20000):
            (folder / f"other_{i:05d}.tif").touch()
    image = folder / "a_scene.tif"
    shutil.copy(make_scene(WORK / f"scene_256_{GSD}.tif", 256, GSD), image)
    out: dict[str, list[float]] = {"listing": [], "no_listing": []}
    for _ in range(runs):
        for name, value in (("listing", "NO"), ("no_listing", "YES")):
            with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN=value):
                t = time.perf_counter()
                for _ in range(20):
                    with rasterio.open(image):
                        pass
                out[name].append((time.perf_counter() - t) / 20)
    return {"files_beside": 20000, **{name: _ms(v) for name, v in out.items()}}


def _scene_batches(n: int) -> tuple[Any, Any, list[Any], list[Any]]:
    from skyscan.detectors import DetectorRecipe, get_detector
    from skyscan.io.reader import ImageReader, open_image
    from skyscan.pipeline import DetectOptions, chip_batches, plan_units

    detector = get_detector(DetectorRecipe(threads=1))
    options = DetectOptions()
    ref = open_image(str(make_scene(SCENE, 10000, GSD)), options.read, image_id="scene")
    batches = chip_batches(
        plan_units(ref, detector.card, options),
        options.chips_per_batch(detector.card.chip_size(None)),
    )[:n]
    with ImageReader(ref) as reader:
        outputs = [
            detector.infer(detector.prepare(reader.read_chips([w for _, w in b]))) for b in batches
        ]
    return detector, ref, batches, outputs


def finish(runs: int) -> dict[str, Any]:
    from skyscan.detectors.decode import _local_maxima
    from skyscan.pipeline import RAW_SCHEMA, _append_batch

    detector, ref, batches, outputs = _scene_batches(40)
    stage, peaks = [], []
    for _ in range(runs):
        cols: dict[str, list[Any]] = {name: [] for name in RAW_SCHEMA.names if name != "image_id"}
        t = time.perf_counter()
        for batch, out in zip(batches, outputs, strict=True):
            _append_batch(cols, ref, batch, detector.finish(out))
        stage.append((time.perf_counter() - t) / len(batches))
        t = time.perf_counter()
        for (
            out
        ) in outputs:  # one batch's ONNX calls (one dict from a tree that ran one call per batch)
            for call in [out] if isinstance(out, dict) else out:
                _local_maxima(call["heatmap"], detector.score_threshold)
        peaks.append((time.perf_counter() - t) / len(outputs))
    import skyscan

    return {
        "skyscan_from": str(Path(skyscan.__file__).parents[1]),
        "batches": len(batches),
        "finish_stage_ms_per_batch": _ms(stage),
        "peak_search_ms_per_batch": _ms(peaks),
    }


def tile(runs: int) -> dict[str, Any]:
    import pyarrow as pa

    from skyscan.detectors import DetectorRecipe, get_detector
    from skyscan.io.reader import open_image
    from skyscan.pipeline import (
        DetectOptions,
        chip_batches,
        detect_batches,
        finalize_image,
        plan_units,
    )

    paths = [make_scene(TILES / f"tile_{i:04d}.tif", TILE_PX, GSD, seed=i) for i in range(100)]
    options = DetectOptions()
    detector = get_detector(DetectorRecipe(threads=1))
    ref = open_image(str(paths[0]), options.read, image_id="t")
    raw = pa.concat_tables(
        [
            detect_batches(ref, [b], detector, options)
            for b in chip_batches(
                plan_units(ref, detector.card, options),
                options.chips_per_batch(detector.card.chip_size(None)),
            )
        ]
    )
    opens, finals = [], []
    for _ in range(runs):
        t = time.perf_counter()
        for p in paths:
            open_image(str(p), options.read)
        opens.append((time.perf_counter() - t) / len(paths))
        t = time.perf_counter()
        for _ in range(len(paths)):
            finalize_image(ref, raw, detector.card, "r", options)
        finals.append((time.perf_counter() - t) / len(paths))
    return {"raw_rows": raw.num_rows, "open_image_ms": _ms(opens), "finalize_image_ms": _ms(finals)}


def outputs(runs: int) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    from skyscan.arrow_arrays import read_parquet
    from skyscan.io.writers import write_geojson, write_geoparquet, write_parquet
    from skyscan.options import RunSettings
    from skyscan.run import run_detect

    out = WORK / "out_parts_outputs"
    run_detect([str(make_scene(SCENE, 10000, GSD))], out, run=RunSettings(overwrite=True))
    table, errors = read_parquet(out / "detections.parquet"), read_parquet(out / "errors.parquet")
    target = WORK / "out_parts_write"
    target.mkdir(exist_ok=True)

    def in_turn() -> None:
        write_geoparquet(table, target / "d.parquet")
        write_geojson(table, target / "d.geojson")
        write_parquet(errors, target / "e.parquet")

    def side_thread() -> None:
        with ThreadPoolExecutor(1) as side:
            done = side.submit(write_geojson, table, target / "d.geojson")
            write_geoparquet(table, target / "d.parquet")
            write_parquet(errors, target / "e.parquet")
            done.result()

    times: dict[str, list[float]] = {"in_turn": [], "geojson_in_side_thread": []}
    ways: dict[str, Callable[[], None]] = {
        "in_turn": in_turn,
        "geojson_in_side_thread": side_thread,
    }
    for _ in range(runs):
        for name, way in ways.items():
            t = time.perf_counter()
            way()
            times[name].append(time.perf_counter() - t)
    return {"rows": table.num_rows, **{name: _ms(v) for name, v in times.items()}}


def warm(runs: int) -> dict[str, Any]:
    from skyscan.options import RunSettings
    from skyscan.run import run_detect

    rows = []
    for _ in range(max(runs, 3)):
        before = resource.getrusage(resource.RUSAGE_SELF)
        t = time.perf_counter()
        run_detect(
            [str(make_scene(SCENE, 10000, GSD))],
            WORK / "out_parts_warm",
            run=RunSettings(overwrite=True),
        )
        after = resource.getrusage(resource.RUSAGE_SELF)
        rows.append(
            {
                "wall_s": round(time.perf_counter() - t, 2),
                "minor_faults": after.ru_minflt - before.ru_minflt,
            }
        )
    return {"runs_in_one_process": rows}


def tiles(runs: int, baseline: str) -> dict[str, Any]:
    for i in range(100):
        make_scene(TILES / f"tile_{i:04d}.tif", TILE_PX, GSD, seed=i)
    tree = baseline_tree(baseline)
    compile_sources(ROOT / "src")
    compile_sources(tree / "src")
    walls: dict[str, list[float]] = {"current": [], "baseline": []}
    for _ in range(runs):
        for name, src in (("current", ROOT / "src"), ("baseline", tree / "src")):
            env = {**os.environ, "PYTHONPATH": str(src)}
            t = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "skyscan",
                    "-q",
                    "detect",
                    str(TILES),
                    "-o",
                    str(WORK / f"out_parts_{name}"),
                    "--overwrite",
                ],
                env=env,
                check=True,
            )
            walls[name].append(round(time.perf_counter() - t, 2))
    return {
        "baseline_commit": baseline,
        "walls_s": walls,
        "mean_s": {name: round(statistics.mean(v), 2) for name, v in walls.items()},
    }


def geojson(runs: int) -> dict[str, Any]:
    from skyscan.arrow_arrays import read_parquet
    from skyscan.io.writers import write_geojson

    out = WORK / "out_parts_outputs"  # written by the 'outputs' part
    table = read_parquet(out / "detections.parquet")
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        write_geojson(table, WORK / "out_parts_write.geojson")
        times.append(time.perf_counter() - t)
    import skyscan

    return {
        "skyscan_from": str(Path(skyscan.__file__).parents[1]),
        "rows": table.num_rows,
        "write_geojson_ms": _ms(times),
    }


IMPORTS = (
    "import skyscan.cli.detect, skyscan.run, skyscan.engines.local.driver, onnxruntime, pyproj"
)


def imports(runs: int) -> dict[str, Any]:
    code = f"import time; t = time.perf_counter(); {IMPORTS}; print(time.perf_counter() - t)"
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return {"imports": IMPORTS, "seconds": sorted(round(t, 3) for t in times)}


def _one_chip(out: str) -> float:
    scene = make_scene(WORK / f"scene_256_{GSD}.tif", 256, GSD)
    t = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "skyscan",
            "-q",
            "detect",
            str(scene),
            "-o",
            str(WORK / out),
            "--overwrite",
        ],
        check=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return time.perf_counter() - t


def bytecode(runs: int) -> dict[str, Any]:
    src = ROOT / "src" / "skyscan"
    walls: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(runs):
        for cache in src.rglob("__pycache__"):
            shutil.rmtree(cache)
        walls["without"].append(_one_chip("out_parts_bytecode"))
        compile_sources(ROOT / "src")
        walls["with"].append(_one_chip("out_parts_bytecode"))
    return {name: sorted(round(v, 3) for v in values) for name, values in walls.items()}


CHIP_RUNS = {
    "default_256": [],
    "chip_512_overlap_0.1": ["--chip-size", "512", "--overlap", "0.1"],
    "chip_1024_overlap_0.05": ["--chip-size", "1024", "--overlap", "0.05"],
    "int8_256": ["--model", "vehicles-int8"],
}


def _agreement(reference: Any, other: Any) -> float:
    """Share of ``reference`` boxes that ``other`` has too: same class, IoU >= 0.5."""
    import numpy as np

    from skyscan.evaluate.metrics import box_iou

    found = 0
    for cls in set(reference["class_name"]):
        a = reference[reference["class_name"] == cls][
            ["px_xmin", "px_ymin", "px_xmax", "px_ymax"]
        ].to_numpy()
        b = other[other["class_name"] == cls][
            ["px_xmin", "px_ymin", "px_xmax", "px_ymax"]
        ].to_numpy()
        if len(a) and len(b):
            found += int((box_iou(a, b).max(axis=1) >= 0.5).sum())
    return round(found / max(1, len(reference)), 4) if len(reference) else float(np.nan)


def chips(runs: int) -> dict[str, Any]:
    import pandas as pd

    scene = make_scene(SCENE, 10000, GSD)
    compile_sources(ROOT / "src")
    walls: dict[str, list[float]] = {name: [] for name in CHIP_RUNS}
    for _ in range(runs):
        for name, extra in CHIP_RUNS.items():
            t = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "skyscan",
                    "-q",
                    "detect",
                    str(scene),
                    "-o",
                    str(WORK / f"out_chips_{name}"),
                    "--overwrite",
                    *extra,
                ],
                check=True,
            )
            walls[name].append(round(time.perf_counter() - t, 2))
    tables = {
        name: pd.read_parquet(WORK / f"out_chips_{name}" / "detections.parquet")
        for name in CHIP_RUNS
    }
    reference = tables["default_256"]
    median = {name: statistics.median(v) for name, v in walls.items()}
    return {
        "scene_mp": 100.0,
        "walls_s": walls,
        "median_wall_s": median,
        "image_mp_per_s": {name: round(100.0 / m, 2) for name, m in median.items()},
        "speed_vs_default": {
            name: round(median["default_256"] / m, 3) for name, m in median.items()
        },
        "detections": {name: len(t) for name, t in tables.items()},
        "default_found_again": {name: _agreement(reference, t) for name, t in tables.items()},
        "found_in_default": {name: _agreement(t, reference) for name, t in tables.items()},
    }


def faults(runs: int) -> dict[str, Any]:
    scenes = {
        "scene_100mp": make_scene(SCENE, 10000, GSD),
        "one_chip": make_scene(WORK / f"scene_256_{GSD}.tif", 256, GSD),
    }
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in scenes}
    for _ in range(runs):
        for name, scene in scenes.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "skyscan",
                    "-q",
                    "detect",
                    str(scene),
                    "-o",
                    str(WORK / "out_parts_faults"),
                    "--overwrite",
                ],
                check=True,
            )
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            rows[name].append(
                {
                    "minor_faults": after.ru_minflt - before.ru_minflt,
                    "system_cpu_s": round(after.ru_stime - before.ru_stime, 2),
                }
            )
    return rows


def calls(runs: int) -> dict[str, Any]:
    """The 100 MP scene in one process with the model run in one ONNX call per batch of
    16 chips and in one call per chip (``OnnxDetector.chips_per_run``), alternated."""
    from skyscan.detectors import DetectorRecipe, get_detector
    from skyscan.options import RunSettings
    from skyscan.pipeline import DetectOptions
    from skyscan.run import run_detect

    scene = make_scene(SCENE, 10000, GSD)
    recipe = DetectorRecipe(model="vehicles")
    lane_detector: Any = get_detector(
        DetectorRecipe(model="vehicles", threads=1)
    )  # the lanes' (cached)
    rows: dict[str, list[dict[str, float]]] = {"calls_of_16": [], "calls_of_1": []}
    own = lane_detector.chips_per_run
    try:
        for _ in range(runs):
            for name, per_run in (("calls_of_16", 16), ("calls_of_1", 1)):
                lane_detector.chips_per_run = per_run
                c0, w0 = time.process_time(), time.perf_counter()
                run_detect(
                    [str(scene)],
                    WORK / "out_parts_calls",
                    DetectOptions(recipe=recipe),
                    RunSettings(overwrite=True),
                )
                rows[name].append(
                    {
                        "wall_s": round(time.perf_counter() - w0, 2),
                        "cpu_s": round(time.process_time() - c0, 2),
                    }
                )
    finally:
        lane_detector.chips_per_run = own
    med = {
        name: {k: round(statistics.median(r[k] for r in rs), 2) for k in ("wall_s", "cpu_s")}
        for name, rs in rows.items()
    }
    return {
        "runs": rows,
        "medians": med,
        "cpu_saved": round(1 - med["calls_of_1"]["cpu_s"] / med["calls_of_16"]["cpu_s"], 3),
        "wall_saved": round(1 - med["calls_of_1"]["wall_s"] / med["calls_of_16"]["wall_s"], 3),
    }


def budget(runs: int) -> dict[str, Any]:
    import threading
    from collections import defaultdict

    import rasterio

    import skyscan.engines.local.driver as local
    import skyscan.io.reader as reader
    from skyscan.detectors import DetectorRecipe
    from skyscan.detectors.onnx_backend import OnnxDetector
    from skyscan.options import RunSettings
    from skyscan.pipeline import DetectOptions
    from skyscan.run import run_detect
    from skyscan.run_state import PartStore

    scene = make_scene(SCENE, 10000, GSD)
    bare = _read_and_model(scene, runs)  # before the stage timers below are installed
    cpu: dict[str, float] = defaultdict(float)
    lock = threading.Lock()

    def timed(owner: Any, name: str, stage: str) -> None:
        inner = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.thread_time()
            try:
                return inner(*args, **kwargs)
            finally:
                with lock:
                    cpu[stage] += time.thread_time() - t0

        setattr(owner, name, wrapper)

    for owner, name, stage in [
        (reader.ImageReader, "read_chips", "lanes.read"),
        (OnnxDetector, "prepare", "lanes.prepare"),
        (OnnxDetector, "infer", "lanes.infer"),
        (OnnxDetector, "finish", "lanes.finish"),
        (local, "open_image", "main.open"),
        (local, "plan_units", "main.plan"),
        (local, "finalize_image", "main.finalize"),
        (PartStore, "write_detections", "main.write_part"),
    ]:
        timed(owner, name, stage)
    in_process = []
    for _ in range(runs):
        cpu.clear()
        c0, w0 = time.process_time(), time.perf_counter()
        run_detect(
            [str(scene)],
            WORK / "out_parts_budget",
            DetectOptions(recipe=DetectorRecipe(model="vehicles")),
            RunSettings(overwrite=True),
        )
        wall, total = time.perf_counter() - w0, time.process_time() - c0
        model = cpu["lanes.prepare"] + cpu["lanes.infer"]
        in_process.append(
            {
                "wall_s": round(wall, 2),
                "process_cpu_s": round(total, 2),
                "stages_cpu_s": {k: round(v, 3) for k, v in sorted(cpu.items())},
                "model_share_of_cpu": round(model / total, 3),
            }
        )
    with rasterio.Env(GDAL_CACHEMAX=64 * 2**20), rasterio.open(scene) as ds:
        c0 = time.process_time()
        for _, window in ds.block_windows(1):
            ds.read(window=window)
        decode = time.process_time() - c0
    fresh = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        w0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "skyscan",
                "-q",
                "detect",
                str(scene),
                "-o",
                str(WORK / "out_parts_budget"),
                "--overwrite",
            ],
            check=True,
        )
        wall = time.perf_counter() - w0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        job = json.loads((WORK / "out_parts_budget" / "run.json").read_text())["timings_s"][
            "run_total"
        ]
        fresh.append(
            {
                "wall_s": round(wall, 2),
                "cpu_s": round(
                    after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2
                ),
                "fixed_s": round(wall - job, 2),
            }
        )
    return {
        "in_process": in_process,
        "decode_every_tile_once_cpu_s": round(decode, 2),
        "fresh_commands": fresh,
        "read_and_model_only": bare,
    }


def _read_and_model(scene: Path, runs: int) -> dict[str, Any]:
    """The least any pipeline must do: two lanes each reading its half of the chip plan
    with skyscan's reader and running the model on it (no peaks, NMS, merge, georeferencing
    or outputs), against the model alone on in-memory chips measured right before and after."""
    from concurrent.futures import ThreadPoolExecutor

    import rasterio
    from bench_detect import chip_plan, lanes_ceiling_mps

    from skyscan.detectors import DetectorRecipe, get_detector
    from skyscan.engines.local.driver import GDAL_CACHE_BYTES
    from skyscan.io.reader import ImageReader, open_image

    detector: Any = get_detector(DetectorRecipe(model="vehicles", threads=1))
    windows = chip_plan(scene, detector)
    ref = open_image(str(scene))
    h, w = detector.card.input_size

    def lane(part: list[Any]) -> None:
        with ImageReader(ref) as reader:
            for i in range(0, len(part), 16):
                detector.infer(detector.prepare(reader.read_chips(part[i : i + 16])))

    def ceiling() -> float:  # the faster of one call per batch of 16 and one per chip
        return max(lanes_ceiling_mps(detector, 2), lanes_ceiling_mps(detector, 2, stages=True))

    ratios, walls = [], []
    for _ in range(runs):
        before = ceiling()
        t0 = time.perf_counter()
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES), ThreadPoolExecutor(2) as pool:
            half = len(windows) // 2
            list(pool.map(lane, [windows[:half], windows[half:]]))
        wall = time.perf_counter() - t0
        after = ceiling()
        walls.append(round(wall, 2))
        ratios.append(round(len(windows) * h * w / 1e6 / wall / ((before + after) / 2), 3))
    return {
        "wall_s": walls,
        "over_ceiling": ratios,
        "median_over_ceiling": statistics.median(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "part",
        choices=[
            "gap",
            "open",
            "finish",
            "tile",
            "outputs",
            "warm",
            "tiles",
            "geojson",
            "imports",
            "bytecode",
            "faults",
            "chips",
            "budget",
            "calls",
        ],
    )
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument(
        "--baseline",
        default=None,
        help="commit for 'tiles' to compare with (e.g. the previous release)",
    )
    args = parser.parse_args()
    if args.part == "tiles" and not args.baseline:
        parser.error("'tiles' compares with another commit: give --baseline COMMIT")
    WORK.mkdir(parents=True, exist_ok=True)
    measure: dict[str, Callable[[], dict[str, Any]]] = {
        "gap": lambda: gap(args.runs),
        "open": lambda: open_cost(args.runs),
        "finish": lambda: finish(args.runs),
        "tile": lambda: tile(args.runs),
        "outputs": lambda: outputs(args.runs),
        "warm": lambda: warm(args.runs),
        "tiles": lambda: tiles(args.runs, args.baseline),
        "geojson": lambda: geojson(args.runs),
        "imports": lambda: imports(args.runs),
        "bytecode": lambda: bytecode(args.runs),
        "faults": lambda: faults(args.runs),
        "chips": lambda: chips(args.runs),
        "budget": lambda: budget(args.runs),
        "calls": lambda: calls(args.runs),
    }
    result = measure[args.part]()
    result["command"] = "python benchmarks/bench_parts.py " + " ".join(sys.argv[1:])
    print(json.dumps(result, indent=2))
    path = RESULTS / "parts.json"
    merged = json.loads(path.read_text()) if path.exists() else {}
    other_tree = "PYTHONPATH" in os.environ and args.part in ("finish", "geojson")
    key = f"{args.part}_other_tree" if other_tree else args.part
    merged[key] = result
    path.write_text(json.dumps(merged, indent=2) + "\n")


if __name__ == "__main__":
    main()
