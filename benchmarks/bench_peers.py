"""skyscan against what users would run instead, around the same ONNX model and decoder.

    python benchmarks/bench_peers.py [--size 10000] [--tiles 100] [--rounds 3] [--load-rounds 2]
                                     [--big 20000] [--sweep legacy,default,512,1024]

On a 100 MP GeoTIFF at 0.25 m and a folder of 100 tiles of 1024 px, both built from real
imagery (benchmarks/scenes.py), every contender is a fresh process (interpreter start,
imports, model load, outputs and exit included), measured once per round, the contenders'
order turned by one every round; figures are medians of the rounds:

- ``skyscan``: ``skyscan detect`` with its defaults (chips from the model card);
- ``skyscan_legacy``: ``skyscan detect --chip-size 256 --overlap 0.2``, the defaults before;
- ``sahi_defaults`` / ``sahi_same``: SAHI with a DetectionModel that runs skyscan's
  detector on each slice (benchmarks/peers_contenders.py): with what a SAHI user sets
  (256 px slices, SAHI's own defaults otherwise), and with skyscan's default chip plan;
- ``loop_defaults`` / ``loop_same``: a plain rasterio window loop, the same two ways.

Also: the model alone on in-memory chips (one one-thread session per core side by side, as
skyscan's lanes run it), measured before every round, for skyscan's older ratio and for
SAHI's time over it (the most any pipeline running skyscan's plan could gain on SAHI); the
same contenders with a CPU-bound process beside them (``--load-rounds``); peak memory of
``skyscan detect`` on a 400 MP scene (``--big``); and ``skyscan detect`` at several chip
sizes, each with the overlap its card derives (``--sweep``), the measurement behind the
default chip size. Writes benchmarks/results/peers.json (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work"
RESULTS = ROOT / "benchmarks" / "results"
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_detect import compile_sources, lanes_ceiling_mps, run_total  # noqa: E402
from peak_rss import run_measured  # noqa: E402
from scenes import make_real_scene, make_real_tiles  # noqa: E402

PY = sys.executable
CONTENDERS = (
    "skyscan",
    "skyscan_legacy",
    "sahi_defaults",
    "sahi_same",
    "loop_defaults",
    "loop_same",
)


def command(name: str, source: Path, out: Path, chip: int | None = None) -> list[str]:
    """The command line of contender ``name`` on ``source`` (a GeoTIFF or a folder)."""
    if name.startswith("skyscan"):
        extra = ["--chip-size", "256", "--overlap", "0.2"] if name == "skyscan_legacy" else []
        extra += ["--chip-size", str(chip)] if chip else []
        return [
            PY,
            "-m",
            "skyscan",
            "-q",
            "detect",
            str(source),
            "-o",
            str(out),
            "--overwrite",
            *extra,
        ]
    tool, plan = name.split("_")
    return [
        PY,
        str(HERE / "peers_contenders.py"),
        tool,
        str(source),
        str(out / "detections.json"),
        "--plan",
        plan,
    ]


def measure(cmd: list[str], out: Path) -> dict[str, Any]:
    """Run ``cmd`` as a fresh process: wall seconds, its own peak RSS (MiB), detections.

    The peak comes from ``peak_rss.run_measured``: this process's own memory (a scene
    built in it) would otherwise count in the child's ``ru_maxrss``."""
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    proc, peak_mib = run_measured(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")
    r: dict[str, Any] = {"wall_s": round(wall, 3), "peak_rss_mib": round(peak_mib, 1)}
    stdout = proc.stdout
    if (out / "run.json").exists() and "skyscan" in cmd:
        manifest = json.loads((out / "run.json").read_text())
        r.update(
            job_s=round(run_total(out), 3),
            detections=manifest["counts"]["detections"],
            chips=manifest["chips"],
        )
    else:
        r.update(json.loads(stdout.strip().splitlines()[-1]))
    return r


def ceiling(size: int) -> float:
    """The model alone on in-memory chips of ``size`` px, MP/s of model input: one one-thread
    session per core side by side, one call per chip (as skyscan's lanes run it)."""
    from skyscan.detectors import DetectorRecipe, get_detector

    single = get_detector(DetectorRecipe(threads=1))
    return lanes_ceiling_mps(single, os.cpu_count() or 1, n_chips=512, stages=True, size=size)


def model_pixels(source: Path, chip: int | None = None, legacy: bool = False) -> int:
    """Model-input pixels of skyscan's chip plan for ``source`` (every image of a folder)."""
    from skyscan.detectors import DetectorRecipe, recipe_card
    from skyscan.io.reader import open_image
    from skyscan.pipeline import DetectOptions, plan_units
    from skyscan.pipeline import model_pixels as of_windows

    card = recipe_card(DetectorRecipe())
    options = DetectOptions(chip_size=256, overlap=0.2) if legacy else DetectOptions(chip_size=chip)
    paths = sorted(source.glob("*.tif")) if source.is_dir() else [source]
    return sum(
        of_windows(u.windows) for p in paths for u in plan_units(open_image(str(p)), card, options)
    )


def rounds(
    source: Path, names: tuple[str, ...], n: int, tag: str, with_ceiling: bool = False
) -> list[dict[str, Any]]:
    """``n`` rounds of fresh processes, the order turned by one each round."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        r: dict[str, Any] = {}
        if with_ceiling:
            from skyscan.detectors import DetectorRecipe, recipe_card

            r["ceiling_default_chip_mps"] = round(
                ceiling(recipe_card(DetectorRecipe()).chip_size(None)), 2
            )
            r["ceiling_256_mps"] = round(ceiling(256), 2)
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            r[name] = measure(
                command(name, source, WORK / f"peers_{tag}_{name}"), WORK / f"peers_{tag}_{name}"
            )
            print(f"{tag} round {i + 1}: {name} {r[name]['wall_s']} s", flush=True)
        r["order"] = list(order)
        out.append(r)
    return out


def med(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def ratios(runs: list[dict[str, Any]], base: str, others: tuple[str, ...]) -> dict[str, Any]:
    """How many times longer each of ``others`` took than ``base``: median and per round."""
    res: dict[str, Any] = {}
    for o in others:
        per = [r[o]["wall_s"] / r[base]["wall_s"] for r in runs if o in r]
        if per:
            res[f"{o}_over_{base}"] = {"median": med(per), "rounds": [round(v, 3) for v in per]}
    return res


def bound_over_sahi(runs: list[dict[str, Any]], model_px: int) -> dict[str, Any]:
    """SAHI's time over the model alone on skyscan's default plan (its pixels at the round's
    model-alone rate on 1,024 px chips): the most a pipeline that runs that plan could be
    faster than SAHI, with no start-up, reading or writing."""
    per = [
        r["sahi_defaults"]["wall_s"] / (model_px / 1e6 / r["ceiling_default_chip_mps"])
        for r in runs
    ]
    return {"median": med(per), "rounds": [round(v, 3) for v in per]}


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    names = [k for k in runs[0] if isinstance(runs[0][k], dict)]
    return {
        n: {
            "wall_s_median": med([r[n]["wall_s"] for r in runs]),
            "detections": runs[-1][n].get("detections"),
        }
        for n in names
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=10000, help="side of the scene (px, 0.25 m)")
    parser.add_argument("--tiles", type=int, default=100, help="tiles in the folder (0 skips)")
    parser.add_argument("--tile-px", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tile-rounds", type=int, default=None, help="[default: --rounds]")
    parser.add_argument(
        "--load-rounds", type=int, default=2, help="rounds beside a CPU-bound process (0 skips)"
    )
    parser.add_argument("--big", type=int, default=20000, help="side of the memory scene (0 skips)")
    parser.add_argument(
        "--sweep",
        default="",
        help="chip sizes to time skyscan at, comma-separated (legacy: 256 px at overlap 0.2; default: its chips fitted to the scene)",
    )
    parser.add_argument("--sweep-rounds", type=int, default=2)
    parser.add_argument(
        "--only", default="", help="comma-separated parts: sweep,scene,tiles,load,big"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "peers.json")
    args = parser.parse_args()
    parts = set(args.only.split(",")) if args.only else {"sweep", "scene", "tiles", "load", "big"}

    from skyscan.detectors import DetectorRecipe, recipe_card
    from skyscan.io.reader import open_image
    from skyscan.pipeline import DetectOptions, chip_plan

    card = recipe_card(DetectorRecipe())
    WORK.mkdir(parents=True, exist_ok=True)
    compile_sources(ROOT / "src")
    scene = make_real_scene(WORK / f"real_{args.size}.tif", args.size)
    image_px = args.size * args.size
    chip = card.chip_size(None)
    result: dict[str, Any] = (
        json.loads(args.out.read_text()) if args.out.exists() and args.only else {}
    )
    result.update(
        {
            "command": "python benchmarks/bench_peers.py " + " ".join(sys.argv[1:]),
            "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "cpu_count": os.cpu_count(),
            "model": card.model_id,
            "model_gsd": card.gsd,
            "scene": {
                "px": args.size,
                "gsd_m": 0.25,
                "built_by": "benchmarks/scenes.py (Gorinchem orthophoto mosaicked "
                "with KIT seqB frames resampled to 0.25 m; deflate, 512 px tiles)",
            },
            "skyscan_default_plan": {
                "chip_px": chip,  # the largest side; each image's chips are fitted under it
                "scene_chip_px": chip_plan(open_image(str(scene)), card, DetectOptions())[0],
                "overlap": round(DetectOptions().overlap_for(card), 4),
                "overlap_px": card.overlap_px,
                "max_object_m": card.max_object_m,
            },
            "legacy_plan": {"chip_px": 256, "overlap": 0.2},
            "sahi_defaults_plan": {
                "slice_px": 256,
                "overlap": 0.2,
                "perform_standard_pred": True,
                "postprocess": "GREEDYNMM, IOS 0.5 (SAHI's defaults)",
            },
        }
    )
    import sahi

    result["versions"] = {"sahi": sahi.__version__, "python": sys.version.split()[0]}

    def save() -> None:
        result["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")

    if "sweep" in parts and args.sweep:
        # chip sizes at the card's overlap; "legacy" is the earlier default (256 px, 0.2),
        # "default" today's (each image's chips fitted under the card's chip size)
        sizes = args.sweep.split(",")
        plans = {
            s: (None, s == "legacy") if s in ("legacy", "default") else (int(s), False)
            for s in sizes
        }
        runs: dict[str, list[dict[str, Any]]] = {s: [] for s in sizes}
        for i in range(args.sweep_rounds):
            for s in sizes if i % 2 == 0 else sizes[::-1]:
                out = WORK / f"peers_sweep_{s}"
                chip, legacy = plans[s]
                name = "skyscan_legacy" if legacy else "skyscan"
                runs[s].append(measure(command(name, scene, out, chip=chip), out))
                print(f"sweep {s}: {runs[s][-1]['wall_s']} s", flush=True)
        result["chip_size_sweep"] = {
            s: {
                "wall_s_median": med([r["wall_s"] for r in runs[s]]),
                "walls_s": [r["wall_s"] for r in runs[s]],
                "image_mps": round(
                    image_px / 1e6 / statistics.median([r["wall_s"] for r in runs[s]]), 2
                ),
                "overlap": runs[s][0]["chips"]["overlap"],
                "detections": runs[s][0]["detections"],
                "model_px_over_image_px": round(
                    model_pixels(scene, chip=plans[s][0], legacy=plans[s][1]) / image_px, 3
                ),
            }
            for s in sizes
        }
        save()

    if "scene" in parts:
        runs_scene = rounds(scene, CONTENDERS, args.rounds, "scene", with_ceiling=True)
        model_px, legacy_px = model_pixels(scene), model_pixels(scene, legacy=True)
        e2e = [
            model_px / 1e6 / r["skyscan"]["wall_s"] / r["ceiling_default_chip_mps"]
            for r in runs_scene
        ]
        e2e_job = [
            model_px / 1e6 / r["skyscan"]["job_s"] / r["ceiling_default_chip_mps"]
            for r in runs_scene
        ]
        legacy = [
            legacy_px / 1e6 / r["skyscan_legacy"]["wall_s"] / r["ceiling_256_mps"]
            for r in runs_scene
        ]
        wall = statistics.median([r["skyscan"]["wall_s"] for r in runs_scene])
        job = statistics.median([r["skyscan"]["job_s"] for r in runs_scene])
        result["scene_100mp"] = {
            "rounds": runs_scene,
            "summary": summary(runs_scene),
            "defaults": ratios(
                runs_scene, "skyscan", ("sahi_defaults", "loop_defaults", "skyscan_legacy")
            ),
            "same_chip_plan": ratios(runs_scene, "skyscan", ("sahi_same", "loop_same")),
            "sahi_defaults_over_model_alone": bound_over_sahi(runs_scene, model_px),
            "skyscan_image_mps": round(image_px / 1e6 / wall, 2),
            "skyscan_image_mps_per_core": round(image_px / 1e6 / wall / (os.cpu_count() or 1), 2),
            "skyscan_job_image_mps_per_core": round(
                image_px / 1e6 / job / (os.cpu_count() or 1), 2
            ),
            "model_px_over_image_px": {
                "default": round(model_px / image_px, 3),
                "legacy": round(legacy_px / image_px, 3),
            },
            "skyscan_over_model_alone": {"median": med(e2e), "rounds": [round(v, 3) for v in e2e]},
            "skyscan_job_over_model_alone": {
                "median": med(e2e_job),
                "rounds": [round(v, 3) for v in e2e_job],
            },
            "legacy_over_model_alone_256": {
                "median": med(legacy),
                "rounds": [round(v, 3) for v in legacy],
            },
        }
        save()

    if "tiles" in parts and args.tiles:
        folder = WORK / f"real_tiles_{args.tiles}"
        make_real_tiles(folder, args.tiles, args.tile_px, scene)
        runs_tiles = rounds(
            folder, CONTENDERS, args.tile_rounds or args.rounds, "tiles", with_ceiling=True
        )
        tiles_model_px = model_pixels(folder)
        result["tiles"] = {
            "n": args.tiles,
            "tile_px": args.tile_px,
            # what the model runs on: one chip fitted to each tile, and the 256 px default before
            "model_px_over_image_px": round(tiles_model_px / (args.tiles * args.tile_px**2), 3),
            "legacy_model_px_over_image_px": round(
                model_pixels(folder, legacy=True) / (args.tiles * args.tile_px**2), 3
            ),
            "rounds": runs_tiles,
            "summary": summary(runs_tiles),
            "defaults": ratios(
                runs_tiles, "skyscan", ("sahi_defaults", "loop_defaults", "skyscan_legacy")
            ),
            "same_chip_plan": ratios(runs_tiles, "skyscan", ("sahi_same", "loop_same")),
            "sahi_defaults_over_model_alone": bound_over_sahi(runs_tiles, tiles_model_px),
        }
        save()

    if "load" in parts and args.load_rounds:
        # one CPU-bound process beside every contender: what a shared machine or a busy
        # Spark executor gives a job
        busy = subprocess.Popen([PY, "-c", "while True: pass"])
        try:
            runs_load = rounds(scene, ("skyscan", "sahi_defaults"), args.load_rounds, "load")
        finally:
            busy.kill()
            busy.wait()
        result["under_load"] = {
            "beside": "one CPU-bound Python process (while True: pass)",
            "rounds": runs_load,
            "summary": summary(runs_load),
            "ratios": ratios(runs_load, "skyscan", ("sahi_defaults",)),
        }
        save()

    if "big" in parts and args.big:
        big = make_real_scene(WORK / f"real_{args.big}.tif", args.big)
        out = WORK / "peers_big"
        r = measure([*command("skyscan", big, out), "--no-geojson"], out)
        result["big"] = {
            "px": args.big,
            **r,
            "image_mps": round(args.big**2 / 1e6 / r["wall_s"], 2),
            "target_peak_rss_mib": 1536,
        }
        save()

    save()
    print(
        json.dumps(
            {k: v for k, v in result.items() if k not in ("scene_100mp", "tiles", "under_load")},
            indent=2,
        )
    )
    for key in ("scene_100mp", "tiles"):
        if key in result:
            print(
                key,
                json.dumps(
                    {"defaults": result[key]["defaults"], "same": result[key]["same_chip_plan"]}
                ),
            )
    if "under_load" in result:
        print("under_load", json.dumps(result["under_load"]["ratios"]))


if __name__ == "__main__":
    main()
