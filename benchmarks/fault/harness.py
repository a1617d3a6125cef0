"""Fault injection against ``skyscan detect``: a hostile user and a crashing machine.

    python benchmarks/fault/harness.py --seed 1 --budget-s 2400 [--attempts 2000]
        [--kinds corrupt,kill,concurrent,badargs,unwritable,diskfull]
        [--jsonl attempts.jsonl] [--summary benchmarks/results/faults.json] [--src OTHER/src]
    python benchmarks/fault/harness.py --combine a.json b.json --summary total.json

Each attempt runs the real command line (``python -m skyscan``, this checkout's sources)
in a fresh folder, injects one kind of fault, and checks the invariant:

- every input ends in exactly one place: the detections (its part) or the errors table;
- the good images' detections equal a clean run's, row for row, under a single run id;
- no duplicate detections, no temporary or lock file left behind;
- every exit is a documented code (0, 1, 2, 3) with at most one line on stderr (``-q``),
  never a traceback.

Kinds: ``corrupt`` (broken images and sidecars of every kind found so far), ``kill``
(SIGKILL at a random moment or once a random number of images are written, then
``--resume``, itself killed half of the time),
``concurrent`` (two or three runs on one folder, fresh, ``--overwrite`` or ``--resume``,
started 0-0.5 s apart), ``badargs`` (values the command must refuse with exit 2, or 1 for a
model that is not there, leaving the folder as it was), ``unwritable`` (an output path
under a file, in ``/proc``, on a read-only mount) and ``diskfull`` (a tmpfs of 16-400 KiB:
the run finishes or ends in one line, and ``--resume`` after the disk grows gives the clean
result). Mounts need root; without it those kinds are skipped and the summary says why.

One JSON line per attempt goes to ``--jsonl``; the summary (attempts and failures by kind,
the first failures) to ``--summary``. Exit status 1 when any attempt failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
FAST_KINDS = ("corrupt", "kill", "concurrent", "badargs", "unwritable", "diskfull", "remote")
SPARK_KINDS = ("spark_kill", "spark_executor")
KINDS = FAST_KINDS + SPARK_KINDS
# A Spark attempt costs 10-20 fast ones (a JVM per run): drawn rarely, so that a budget
# still goes mostly to fast kinds; --kinds spark_kill,spark_executor runs only those.
WEIGHTS = {
    "corrupt": 3,
    "kill": 3,
    "concurrent": 3,
    "badargs": 2,
    "unwritable": 1,
    "diskfull": 2,
    "remote": 2,
    "spark_kill": 0.25,
    "spark_executor": 0.15,
}
N_GOOD = 6
LOCK_FILE = ".skyscan.lock"
TIMEOUT_S = 600  # a hang guard: generous, for a machine busy with other work


@dataclass
class Outcome:
    """What one attempt did and what went wrong (``problems`` empty: it held)."""

    kind: str
    detail: dict[str, Any] = field(default_factory=dict)
    exits: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def check(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)


# ---------------------------------------------------------------------------- the command


def remote_servers() -> Any:
    """tests/remote_servers.py: the loopback Range server with its fault modes (one home,
    shared with the tests and benchmarks/bench_remote.py)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import remote_servers as module

    return module


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ, **(extra or {}))
    src = env.pop("SKYSCAN_FAULT_SRC", str(SRC))
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "skyscan", "-q", "detect", *map(str, args)]


def run(
    args: list[str], env: dict[str, str] | None = None, timeout: float = TIMEOUT_S
) -> tuple[int, str]:
    proc = subprocess.run(args, env=_env(env), capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stderr


def start(
    args: list[str], env: dict[str, str] | None = None, *, new_session: bool = False
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        args,
        env=_env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,
    )


def finish(proc: subprocess.Popen[str], timeout: float = TIMEOUT_S) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def _end_group(pgid: int) -> int:
    """SIGKILL what is left of a killed driver's process group (its JVM, Python workers);
    return how many were still running a few seconds on."""
    time.sleep(3.0)
    left = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    left += 1
            except OSError:
                continue
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    return left


def check_exit(out: Outcome, code: int, stderr: str, allowed: tuple[int, ...]) -> None:
    """A documented code, and at most one line, never a traceback (``-q``)."""
    out.exits.append(code)
    out.check(code in allowed, f"exit {code} not in {allowed}: {stderr.strip()[-300:]}")
    out.check("Traceback" not in stderr, f"traceback: {stderr.strip()[-400:]}")
    # click's usage errors add its two fixed lines (Usage: ..., Try ... --help) around the message
    # and `skyscan detect` names every failed input on a line of its own ("FAILED path ...")
    lines = [
        line
        for line in stderr.splitlines()
        if line.strip() and not line.startswith(("Usage: ", "Try '", "FAILED "))
    ]
    out.check(len(lines) <= 1, f"{len(lines)} lines on stderr: {stderr.strip()[-300:]}")


# ---------------------------------------------------------------------------- the images


def make_images(folder: Path) -> None:
    """N_GOOD small georeferenced GeoTIFFs with blobs the synthetic model finds."""
    import numpy as np
    import rasterio
    from affine import Affine

    from skyscan.detectors.synthetic import draw_blobs

    folder.mkdir(parents=True)
    rng = np.random.default_rng(7)
    for i in range(N_GOOD):
        data = np.zeros((3, 160, 192), np.uint8)
        blobs = [
            (float(rng.integers(8, 184)), float(rng.integers(8, 152)), int(rng.integers(0, 3)))
            for _ in range(5)
        ]
        draw_blobs(data, blobs, sigma=3.0)
        t = Affine(0.5, 0.0, 594_000.0 + 200 * i, 0.0, -0.5, 5_758_000.0)
        with rasterio.open(
            folder / f"good_{i}.tif",
            "w",
            driver="GTiff",
            width=192,
            height=160,
            count=3,
            dtype="uint8",
            crs="EPSG:32631",
            transform=t,
            tiled=True,
            blockxsize=64,
            blockysize=64,
            compress="deflate",
        ) as dst:
            dst.write(data)


def _hostile_xml() -> str:
    return (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><PAMDataset>&b;</PAMDataset>'
    )


def _png(path: Path) -> None:
    import warnings

    import numpy as np
    import rasterio

    warnings.filterwarnings("ignore", message="Dataset has no geotransform")
    with (
        rasterio.Env(GDAL_PAM_ENABLED="NO"),
        rasterio.open(path, "w", driver="PNG", width=64, height=48, count=3, dtype="uint8") as dst,
    ):
        dst.write(np.zeros((3, 48, 64), np.uint8))


# name -> (makes a bad input in the folder from a good image path; must it be an error row?)
def _corruptions(rng: random.Random) -> dict[str, tuple[Callable[[Path, Path], Path], bool]]:
    def truncated(good: Path, d: Path) -> Path:
        data = good.read_bytes()
        bad = d / f"{d.name}_truncated.tif"
        bad.write_bytes(data[: rng.randrange(1, len(data) - 1)])
        return bad

    def flipped(good: Path, d: Path) -> Path:
        data = bytearray(good.read_bytes())
        for _ in range(rng.randrange(1, 64)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        bad = d / f"{d.name}_flipped.tif"
        bad.write_bytes(bytes(data))
        return bad

    def random_bytes(good: Path, d: Path) -> Path:
        bad = d / f"{d.name}_random.tif"
        bad.write_bytes(rng.randbytes(rng.randrange(1, 5000)))
        return bad

    def empty(good: Path, d: Path) -> Path:
        bad = d / f"{d.name}_empty.jpg"
        bad.write_bytes(b"")
        return bad

    def directory(good: Path, d: Path) -> Path:
        bad = d / f"{d.name}_dir.tif"
        bad.mkdir()
        (bad / "inner.txt").write_text("not an image")
        return bad

    def beside(suffix: str, text: str | bytes) -> Callable[[Path, Path], Path]:
        def make(good: Path, d: Path) -> Path:
            bad = d / f"{d.name}_sidecar.tif"
            shutil.copy(good, bad)
            side = d / (bad.name + suffix)
            side.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
            return bad

        return make

    def png_hostile_aux(good: Path, d: Path) -> Path:
        bad = d / f"{d.name}_plain.png"
        _png(bad)
        (d / f"{d.name}_plain.png.aux.xml").write_text(_hostile_xml())
        return bad

    def png_bad_world(good: Path, d: Path) -> Path:
        bad = d / f"{d.name}_world.png"
        _png(bad)
        (d / f"{d.name}_world.pgw").write_text("0.5\n0\n0\nnot-a-number\n594000\n5758000\n")
        return bad

    bogus = '<?xml version="1.0" encoding="bogus-enc"?><metadata/>'
    utf16 = '<?xml version="1.0" encoding="utf-16"?><metadata/>'.encode("utf-16")
    bounds = (
        "<metadata><idinfo><spdom><bounding><westbc>5</westbc><eastbc>4</eastbc>"
        "<northbc>45</northbc><southbc>44</southbc></bounding></spdom></idinfo></metadata>"
    )
    return {
        "truncated_tif": (truncated, False),  # may still be readable: either place is right
        "flipped_bytes_tif": (flipped, False),
        "random_bytes_tif": (random_bytes, True),
        "empty_jpg": (empty, True),
        "directory_named_tif": (directory, False),  # a folder is expanded: nothing in it matches
        "xml_bogus_encoding": (beside(".xml", bogus), True),
        "aux_xml_bogus_encoding": (beside(".aux.xml", bogus), True),
        "xml_utf16_declared": (beside(".xml", utf16), False),
        "xml_billion_laughs": (beside(".xml", _hostile_xml()), True),
        "aux_xml_billion_laughs": (beside(".aux.xml", _hostile_xml()), True),
        "xml_malformed": (beside(".xml", "<metadata><idinfo>"), True),
        "aux_xml_malformed": (beside(".aux.xml", "<PAMDataset><SRS>"), True),
        "xml_bad_bounds": (beside(".xml", bounds), True),
        "xml_binary": (beside(".xml", bytes(range(256))), True),
        "png_hostile_aux_xml": (png_hostile_aux, True),
        "png_bad_world_file": (png_bad_world, True),
    }


# ---------------------------------------------------------------------------- the checks


@dataclass
class Reference:
    """A clean run's detections per image file name (run id and folder left out)."""

    rows: dict[str, list[dict[str, Any]]]


def _name(path: str | Path) -> str:
    """A local path's or a URL's file name."""
    return str(path).split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def _normalised(table: Any) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for row in table.drop(["run_id"]).to_pylist():
        name = _name(row.pop("image_path"))
        rows.setdefault(name, []).append(row)
    return rows


def check_outputs(
    out: Outcome,
    outdir: Path,
    ref: Reference,
    inputs: list[Path] | list[str],
    must_fail: set[str],
    may_fail: frozenset[str] = frozenset(),
) -> None:
    """The invariant, on a finished OUTDIR (``may_fail``: good images a fault may cost)."""
    import pyarrow.parquet as pq

    try:
        dets = pq.read_table(outdir / "detections.parquet")
        errs = pq.read_table(outdir / "errors.parquet")
        manifest = json.loads((outdir / "run.json").read_text())
    except (OSError, ValueError) as exc:
        out.problems.append(f"outputs missing or unreadable: {exc}")
        return
    run_ids = set(dets.column("run_id").to_pylist()) | set(errs.column("run_id").to_pylist())
    out.check(
        run_ids <= {manifest["run_id"]}, f"run ids mixed: {sorted(run_ids)} vs {manifest['run_id']}"
    )
    ids = dets.column("detection_id").to_pylist()
    out.check(len(ids) == len(set(ids)), "duplicate detection ids")
    err_paths = errs.column("path").to_pylist()
    out.check(
        len(err_paths) == len(set(err_paths)), f"an input has several error rows: {err_paths}"
    )
    err_names = {_name(p) for p in err_paths}
    got = _normalised(dets)
    for name in sorted(must_fail):
        out.check(name in err_names, f"{name}: no error row")
    for name, rows in ref.rows.items():
        if name in may_fail and name in err_names:
            continue
        out.check(name not in err_names, f"{name}: a good image failed: {errs.to_pylist()}")
        out.check(got.get(name) == rows, f"{name}: detections differ from the clean run")
    # every input ends in exactly one part: its detections or its error
    from skyscan.run_state import part_key

    parts = outdir / "_parts"
    if parts.is_dir():  # a finished run may remove its checkpoints
        for path in manifest["images"]:
            det = (parts / f"{part_key(path)}.det.arrow").exists()
            # a transient error (a server that failed) has a retry part instead
            found = [(parts / f"{part_key(path)}.{k}.arrow").exists() for k in ("err", "retry")]
            out.check(int(det) + sum(found) == 1, f"{path}: {int(det) + sum(found)} parts")
            out.check(
                det == (_name(path) not in err_names), f"{path}: part and errors table disagree"
            )
    counts = manifest["counts"]
    failed_images = sum(1 for p in err_paths if p in set(manifest["images"]))
    out.check(
        counts["images_ok"] + failed_images + counts.get("images_skipped", 0)
        == len(manifest["images"]),
        f"counts do not add up: {counts} with {failed_images} failed of {len(manifest['images'])}",
    )
    names = {_name(p) for p in inputs}
    for name in got:
        out.check(name in names, f"detections of an image that is not an input: {name}")
    left = [p.name for p in outdir.rglob("*") if p.name.endswith(".tmp") or p.name == LOCK_FILE]
    out.check(not left, f"left behind: {left}")
    expected = 3 if err_paths else 0
    out.detail["expected_exit"] = expected


# ---------------------------------------------------------------------------- the attempts


@dataclass
class Harness:
    work: Path
    model: Path
    base: Path
    ref: Reference
    rng: random.Random
    can_mount: bool
    server: Any = None
    cluster: Any = None

    def folder(
        self, i: int, rng: random.Random, n_bad: int
    ) -> tuple[Path, list[Path], set[str], list[str]]:
        """Inputs for attempt ``i``: the good images and ``n_bad`` corrupted ones."""
        d = self.work / f"a{i}" / "in"
        shutil.copytree(self.base, d)
        inputs = sorted(d.iterdir())
        table = _corruptions(rng)
        kinds = rng.sample(sorted(table), n_bad)
        must_fail: set[str] = set()
        for k, name in enumerate(kinds):
            sub = d / f"bad{k}"
            sub.mkdir()
            make, fails = table[name]
            bad = make(self.base / "good_0.tif", sub)
            inputs.append(bad)
            if fails:
                must_fail.add(bad.name)
        return d, inputs, must_fail, kinds

    def opts(self) -> list[str]:
        return ["--model", str(self.model)]

    def corrupt(self, i: int, rng: random.Random, out: Outcome) -> None:
        d, inputs, must_fail, kinds = self.folder(i, rng, rng.randint(1, 3))
        out.detail["corruptions"] = kinds
        outdir = d.parent / "out"
        code, err = run(command(d, "-o", outdir, *self.opts()))
        check_exit(out, code, err, (0, 3))
        check_outputs(out, outdir, self.ref, inputs, must_fail)
        out.check(
            code == out.detail.get("expected_exit", code),
            f"exit {code}, expected {out.detail.get('expected_exit')}",
        )

    def kill(self, i: int, rng: random.Random, out: Outcome) -> None:
        n_bad = rng.choice([0, 0, 1, 2])
        d, inputs, must_fail, kinds = self.folder(i, rng, n_bad)
        outdir = d.parent / "out"
        out.detail.update(corruptions=kinds, kills=[])
        first = start(command(d, "-o", outdir, *self.opts()))
        self._kill_somewhere(first, rng, out, outdir, len(inputs))
        code = -1
        for round_ in range(5):
            extra = ["--batch-size", str(rng.choice([1, 3, 16]))] if rng.random() < 0.3 else []
            proc = start(command(d, "-o", outdir, *self.opts(), "--resume", *extra))
            if (
                round_ < 2
                and rng.random() < 0.5
                and self._kill_somewhere(proc, rng, out, outdir, len(inputs))
            ):
                continue
            code, err = finish(proc)
            check_exit(out, code, err, (0, 3))
            break
        check_outputs(out, outdir, self.ref, inputs, must_fail)
        out.check(
            code == out.detail.get("expected_exit", code),
            f"exit {code}, expected {out.detail.get('expected_exit')}",
        )

    @staticmethod
    def _kill_after(
        proc: subprocess.Popen[str],
        delay: float,
        out: Outcome,
        outdir: Path | None = None,
        parts: int | None = None,
        timeout: float = TIMEOUT_S,
        group: bool = False,
    ) -> bool:
        """SIGKILL ``proc`` after ``delay`` s, or (``parts``) once OUTDIR holds that many image
        parts and ``delay`` more; True when it was still running. The moment and the parts
        written by then go into the attempt's record."""
        t0 = time.monotonic()
        try:
            if parts is not None and outdir is not None:
                while _n_parts(outdir) < parts and proc.poll() is None:
                    time.sleep(0.005)
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            if group:  # a driver's JVM holds its stderr open: end what it left first
                out.detail["left_running"] = _end_group(proc.pid)
            proc.communicate()
            at = {"at_s": round(time.monotonic() - t0, 3)}
            if outdir is not None:
                at["parts"] = _n_parts(outdir)
            out.detail.setdefault("kills", []).append(at)
            return True
        code, err = finish(proc, timeout)
        check_exit(out, code, err, (0, 3))
        return False

    def _kill_somewhere(
        self,
        proc: subprocess.Popen[str],
        rng: random.Random,
        out: Outcome,
        outdir: Path,
        n_inputs: int,
    ) -> bool:
        """Kill at a random moment (half of the time) or after a random number of parts."""
        if rng.random() < 0.5:
            return self._kill_after(proc, rng.uniform(0.0, 2.0), out, outdir)
        return self._kill_after(
            proc, rng.uniform(0.0, 0.05), out, outdir, parts=rng.randrange(n_inputs)
        )

    def concurrent(self, i: int, rng: random.Random, out: Outcome) -> None:
        d, inputs, must_fail, kinds = self.folder(i, rng, rng.choice([0, 0, 1]))
        outdir = d.parent / "out"
        before = rng.choice(["none", "empty", "finished", "killed"])
        if before == "empty":
            outdir.mkdir()
        elif before == "finished":
            run(command(d, "-o", outdir, *self.opts()))
        elif before == "killed":
            out.detail["kills"] = []
            self._kill_somewhere(
                start(command(d, "-o", outdir, *self.opts())), rng, out, outdir, len(inputs)
            )
        modes = [rng.choice(["fresh", "overwrite", "resume"]) for _ in range(rng.choice([2, 2, 3]))]
        out.detail.update(corruptions=kinds, before=before, modes=modes)
        procs = []
        for mode in modes:
            flag = [] if mode == "fresh" else [f"--{mode}"]
            procs.append(start(command(d, "-o", outdir, *self.opts(), *flag)))
            time.sleep(rng.uniform(0.0, 0.5))
        results = [finish(p) for p in procs]
        for mode, (code, err) in zip(modes, results, strict=True):
            check_exit(out, code, err, (0, 1, 3))
            if code == 1:
                expected = (
                    "another skyscan run" in err
                    or "not empty" in err
                    or (mode == "fresh" and before != "none")
                )
                out.check(expected, f"{mode}: exit 1 for another reason: {err.strip()[-300:]}")
        done = any(code in (0, 3) for code, _ in results) or before == "finished"
        if not done and before in ("killed", "empty", "none"):
            code, err = run(command(d, "-o", outdir, *self.opts(), "--resume"))
            check_exit(out, code, err, (0, 3))
        check_outputs(out, outdir, self.ref, inputs, must_fail)

    def badargs(self, i: int, rng: random.Random, out: Outcome) -> None:
        cases: list[tuple[list[str], int]] = (
            [
                (["--chip-size", v], 2)
                for v in ("0", "-1", "4", "7", "12", "1000001", "1000000", "x")
            ]
            + [(["--edge-pad", v], 2) for v in ("1000000000", "-1", "64", "nan")]
            + [(["--score-threshold", v], 2) for v in ("nan", "inf", "-inf", "-0.1", "1.5", "NaN")]
            + [(["--gsd", v], 2) for v in ("1e-300", "nan", "inf", "-1", "0", "1e9", "1e-4")]
            + [(["--overlap", v], 2) for v in ("nan", "0.6", "-inf", "-0.1")]
            + [
                (["--batch-size", "0"], 2),
                (["--sample-ratio", "nan"], 2),
                (["--sample-ratio", "0"], 2),
                (["--crs", "EPSG:0"], 2),
                (["--crs", "not a crs"], 2),
                (["--metadata", "/nonexistent.csv"], 2),
                (["--overwrite", "--resume"], 2),
                (["--engine", "dask"], 2),
                (["--model", "vehicels"], 1),
                (["--model", "/nonexistent/model.onnx"], 1),
            ]
        )
        args, expected = rng.choice(cases)
        d = self.work / f"a{i}"
        d.mkdir(parents=True)
        outdir = d / "out"
        before = rng.choice(["none", "empty"])
        if before == "empty":
            outdir.mkdir()
        model = [] if "--model" in args else self.opts()
        out.detail.update(args=args, before=before)
        code, err = run(command(self.base, "-o", outdir, *model, *args))
        check_exit(out, code, err, (expected,))
        state = (
            "none" if not outdir.exists() else ("empty" if not any(outdir.iterdir()) else "written")
        )
        out.check(state == before, f"output folder was {before}, is {state}")

    def remote(self, i: int, rng: random.Random, out: Outcome) -> None:
        """URLs on a loopback Range server that fails some of them; a kill now and then;
        then the server is well again and ``--resume`` finishes what was cut."""
        server = self.range_server()
        d = self.work / f"a{i}" / "www"
        shutil.copytree(self.base, d)
        rel = {p.name: f"a{i}/www/{p.name}" for p in sorted(d.iterdir())}
        table = _remote_faults(rng, (d / "good_0.tif").stat().st_size)
        chosen = dict(
            zip(
                rng.sample(sorted(rel), rng.randint(1, 3)),
                rng.choices(sorted(table), k=3),
                strict=False,
            )
        )
        urls = [server.url(r) for r in rel.values()]
        must_fail: set[str] = set()
        lasting: set[str] = set()
        for name, fault in chosen.items():
            spec, fails, lasts = table[fault]
            if spec is None:  # a URL with nothing behind it, beside the good ones
                name = f"missing_{name}"
                urls.append(server.url(f"a{i}/www/{name}"))
            else:
                server.fault(rel[name], remote_servers().Fault(**spec))
            if fails:
                must_fail.add(name)
            if lasts:
                lasting.add(name)
        rng.shuffle(urls)
        outdir = d.parent / "out"
        killed = rng.random() < 0.3
        out.detail.update(faults=chosen, killed=killed, kills=[])
        try:
            cmd = command(*urls, "-o", outdir, *self.opts())
            if killed:  # then --resume finishes the cut run (or finds it finished)
                self._kill_after(start(cmd, REMOTE_ENV), rng.uniform(0.5, 4.0), out, outdir)
                cmd = [*cmd, "--resume"]
            code, err = run(cmd, REMOTE_ENV)
            check_exit(out, code, err, (0, 3))
            self._check_failed_named(out, outdir, err)
            faulted = set(chosen) | {n for n in must_fail if n.startswith("missing_")}
            check_outputs(out, outdir, self.ref, urls, must_fail, may_fail=frozenset(faulted))
        finally:
            for name in chosen:
                server.fault(rel[name], None)
        # the server is well again: --resume redoes what failed for a passing reason
        code, err = run(command(*urls, "-o", outdir, *self.opts(), "--resume"), REMOTE_ENV)
        check_exit(out, code, err, (0, 3))
        self._check_failed_named(out, outdir, err)
        check_outputs(
            out,
            outdir,
            self.ref,
            urls,
            {n for n in must_fail if n in lasting},
            may_fail=frozenset(lasting),
        )

    @staticmethod
    def _check_failed_named(out: Outcome, outdir: Path, stderr: str) -> None:
        """Every error row names its URL, with a reason, on stderr too."""
        import pyarrow.parquet as pq

        try:
            errs = pq.read_table(outdir / "errors.parquet").to_pylist()
        except (OSError, ValueError):
            return  # check_outputs says so
        for row in errs:
            out.check(
                row["path"].startswith("http://127.0.0.1:") and bool(row["message"].strip()),
                f"error row without its URL or reason: {row}",
            )
            out.check(
                f"FAILED {row['path']}" in stderr,
                f"{row['path']}: not named on stderr: {stderr[-300:]}",
            )

    def range_server(self) -> Any:
        """The loopback Range server (tests/remote_servers.py) serving ``work``, started once."""
        if self.server is None:
            self.server = remote_servers().RangeServer(self.work).__enter__()
        return self.server

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None
        if self.server is not None:
            self.server.__exit__(None, None, None)
            self.server = None

    def spark_kill(self, i: int, rng: random.Random, out: Outcome) -> None:
        """``--engine spark`` (local[2]) SIGKILLed at a random point, then ``--resume``:
        the clean run's result."""
        d, inputs, must_fail, kinds = self.folder(i, rng, rng.choice([0, 0, 1]))
        outdir = d.parent / "out"
        spark = ["--engine", "spark", "--master", "local[2]"]
        out.detail.update(corruptions=kinds, kills=[])
        driver = start(command(d, "-o", outdir, *self.opts(), *spark), SPARK_ENV, new_session=True)
        if rng.random() < 0.5:
            self._kill_after(
                driver, rng.uniform(2.0, 40.0), out, outdir, timeout=SPARK_TIMEOUT_S, group=True
            )
        else:
            self._kill_after(
                driver,
                rng.uniform(0.0, 0.5),
                out,
                outdir,
                parts=rng.randrange(len(inputs)),
                timeout=SPARK_TIMEOUT_S,
                group=True,
            )
        resume = spark if rng.random() < 0.8 else []  # now and then the local engine finishes it
        code, err = run(
            command(d, "-o", outdir, *self.opts(), "--resume", *resume),
            SPARK_ENV,
            timeout=SPARK_TIMEOUT_S,
        )
        check_exit(out, code, err, (0, 3))
        check_outputs(out, outdir, self.ref, inputs, must_fail)
        out.check(
            code == out.detail.get("expected_exit", code),
            f"exit {code}, expected {out.detail.get('expected_exit')}",
        )

    def spark_executor(self, i: int, rng: random.Random, out: Outcome) -> None:
        """``--engine spark`` on a standalone master + worker on loopback whose executor JVM
        is SIGKILLed mid-job (once a random number of images are done): Spark reruns the
        lost tasks; the run ends as a clean one, without duplicates."""
        cluster = self.spark_cluster()
        d, inputs, must_fail, kinds = self.folder(i, rng, rng.choice([0, 0, 1]))
        outdir = d.parent / "out"
        out.detail.update(corruptions=kinds, executor_kills=[])
        driver = start(
            command(d, "-o", outdir, *self.opts(), "--engine", "spark", "--master", cluster.url),
            SPARK_ENV,
            new_session=True,
        )
        target = rng.randrange(len(inputs))
        t0 = time.monotonic()
        while driver.poll() is None and time.monotonic() - t0 < SPARK_TIMEOUT_S:
            pids = cluster.executor_pids()
            if pids and _n_parts(outdir) >= target:
                time.sleep(rng.uniform(0.0, 0.3))
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                out.detail["executor_kills"].append(
                    {
                        "at_s": round(time.monotonic() - t0, 3),
                        "parts": _n_parts(outdir),
                        "running": driver.poll() is None,
                    }
                )
                break
            time.sleep(0.05)
        try:
            code, err = finish(driver, SPARK_TIMEOUT_S)
        finally:
            _end_group(driver.pid)
        check_exit(out, code, err, (0, 3))
        check_outputs(out, outdir, self.ref, inputs, must_fail)
        out.check(
            code == out.detail.get("expected_exit", code),
            f"exit {code}, expected {out.detail.get('expected_exit')}",
        )

    def spark_cluster(self) -> Any:
        """A standalone master + worker on 127.0.0.1 (tests/spark/spark_cluster.py), started once."""
        if self.cluster is None:
            sys.path.insert(0, str(ROOT / "tests" / "spark"))
            from spark_cluster import StandaloneCluster

            os.environ.update(SPARK_ENV)
            (self.work / "cluster").mkdir(exist_ok=True)
            self.cluster = StandaloneCluster(self.work / "cluster")
            self.cluster.start(timeout=SPARK_TIMEOUT_S)
        return self.cluster

    def unwritable(self, i: int, rng: random.Random, out: Outcome) -> None:
        d = self.work / f"a{i}"
        d.mkdir(parents=True)
        how = rng.choice(
            ["under_a_file", "proc", "read_only_mount"]
            if self.can_mount
            else ["under_a_file", "proc"]
        )
        out.detail["how"] = how
        mount = None
        if how == "under_a_file":
            (d / "afile").write_text("x")
            outdir = d / "afile" / "sub"
        elif how == "proc":
            outdir = Path("/proc/skyscan-fault") / str(i)
        else:
            mount = d / "ro"
            mount.mkdir()
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount)], check=True
            )
            outdir = mount / "out"
        try:
            code, err = run(command(self.base, "-o", outdir, *self.opts()))
            check_exit(out, code, err, (1,))
            out.check("cannot create or write" in err, f"message: {err.strip()[-300:]}")
        finally:
            if mount is not None:
                subprocess.run(["umount", "-l", str(mount)], check=False)

    def diskfull(self, i: int, rng: random.Random, out: Outcome) -> None:
        d, inputs, must_fail, kinds = self.folder(i, rng, rng.choice([0, 1]))
        mount = d.parent / "mnt"
        mount.mkdir()
        size_k = rng.randint(16, 400)
        out.detail.update(corruptions=kinds, size_kib=size_k)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_k}k", "tmpfs", str(mount)], check=True
        )
        try:
            outdir = mount / "out"
            code, err = run(command(d, "-o", outdir, *self.opts()))
            check_exit(out, code, err, (0, 1, 3))
            if code == 1:
                out.check(
                    "No space left" in err or "cannot create or write" in err,
                    f"message: {err.strip()[-300:]}",
                )
                subprocess.run(["mount", "-o", "remount,size=64m", str(mount)], check=True)
                code, err = run(command(d, "-o", outdir, *self.opts(), "--resume"))
                check_exit(out, code, err, (0, 3))
            out.detail["filled"] = len(out.exits) > 1
            check_outputs(out, outdir, self.ref, inputs, must_fail)
        finally:
            subprocess.run(["umount", "-l", str(mount)], check=False)


# name -> (the server's fault for one file, or None: a URL with nothing behind it; must the
# faulted run fail it; does it last, so that --resume keeps its error once the server is well)
def _remote_faults(
    rng: random.Random, size: int
) -> dict[str, tuple[dict[str, Any] | None, bool, bool]]:
    return {
        "http_404": ({"status": 404}, True, True),
        "http_403": ({"status": 403}, True, True),
        "http_500": ({"status": 500}, True, False),
        "http_503_once": (
            {"status": 503, "fail_first": 1},
            False,
            False,
        ),  # GDAL's retry may get it
        "stall": ({"latency": STALL_S}, True, False),  # longer than GDAL_HTTP_TIMEOUT
        "slow": ({"latency": 0.2}, False, False),  # slower, within the timeout: must not fail
        "disconnect": ({"disconnect_after": rng.randrange(0, size)}, False, False),
        "truncated": (
            {"truncate_to": rng.randrange(1, size)},
            False,
            True,
        ),  # may read as a corrupt file
        "missing": (None, True, True),
    }


# GDAL's retries and time-out for the remote kind (the defaults would make a stall last minutes)
REMOTE_ENV = {"GDAL_HTTP_MAX_RETRY": "1", "GDAL_HTTP_RETRY_DELAY": "0.05", "GDAL_HTTP_TIMEOUT": "1"}
STALL_S = 2.5
# Spark on loopback, executors on this interpreter; a JVM's start is slow on a busy machine
SPARK_ENV = {"SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
SPARK_TIMEOUT_S = 1800.0


def _n_parts(outdir: Path) -> int:
    """Image parts written so far (a part file is complete once it has its name)."""
    try:
        return sum(1 for p in (outdir / "_parts").iterdir() if p.name.endswith(".arrow"))
    except OSError:
        return 0


def setup(work: Path, seed: int) -> Harness:
    """Images, the synthetic model and a clean run's reference, in ``work``."""
    sys.path.insert(0, str(SRC))
    import pyarrow.parquet as pq

    from skyscan.detectors.synthetic import build_blob_model

    base = work / "base"
    make_images(base)
    model = build_blob_model(work / "model" / "blobs.onnx", input_size=64, gsd=0.5)
    code, err = run(command(base, "-o", work / "clean", "--model", model))
    if code != 0:
        raise SystemExit(f"the clean run failed (exit {code}): {err}")
    ref = Reference(_normalised(pq.read_table(work / "clean" / "detections.parquet")))
    if sum(len(r) for r in ref.rows.values()) == 0:
        raise SystemExit("the clean run found nothing: the reference would check nothing")
    can_mount = os.geteuid() == 0 and shutil.which("mount") is not None
    if can_mount:
        probe = work / "probe"
        probe.mkdir()
        can_mount = (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(probe)], capture_output=True
            ).returncode
            == 0
        )
        if can_mount:
            subprocess.run(["umount", str(probe)], check=False)
    return Harness(work, model, base, ref, random.Random(seed), can_mount)


def run_harness(
    seed: int,
    budget_s: float,
    attempts: int,
    kinds: tuple[str, ...],
    jsonl: Path | None,
    work: Path | None = None,
    *,
    in_turn: bool = False,
) -> dict[str, Any]:
    """Run attempts until the budget or the count is spent; return the summary.

    Kinds are drawn at random with :data:`WEIGHTS`, or taken in turn (``in_turn``: a short
    slice then tries every kind however slow the machine is)."""
    t0 = time.monotonic()
    own = work is None
    work = Path(tempfile.mkdtemp(prefix="skyscan-faults-")) if work is None else work
    h = setup(work, seed)
    skipped: dict[str, str] = {}
    if not h.can_mount:
        for kind in ("diskfull",):
            skipped[kind] = "needs root and tmpfs mounts (mount -t tmpfs) to make a small disk"
    usable = [k for k in kinds if k not in skipped]
    weights = [WEIGHTS[k] for k in usable]
    by_kind: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    first_failures: list[dict[str, Any]] = []
    n = 0
    sink = jsonl.open("a") if jsonl else None
    try:
        while n < attempts and time.monotonic() - t0 < budget_s:
            kind = usable[n % len(usable)] if in_turn else h.rng.choices(usable, weights)[0]
            rng = random.Random(f"{seed}:{n}")
            out = Outcome(kind)
            a0 = time.monotonic()
            try:
                getattr(h, kind)(n, rng, out)
            except Exception as exc:  # the harness's own failure is an attempt's failure too
                out.problems.append(f"harness: {type(exc).__name__}: {exc}")
            record = {
                "attempt": n,
                "seed": seed,
                "kind": kind,
                "ok": not out.problems,
                "exits": out.exits,
                "seconds": round(time.monotonic() - a0, 3),
                "detail": out.detail,
                "problems": out.problems,
            }
            if sink:
                sink.write(json.dumps(record) + "\n")
                sink.flush()
            by_kind[kind] += 1
            if out.problems:
                failed[kind] += 1
                if len(first_failures) < 20:
                    first_failures.append(record)
            else:
                shutil.rmtree(work / f"a{n}", ignore_errors=True)
            n += 1
    finally:
        h.close()
        if sink:
            sink.close()
        if own and not failed:
            shutil.rmtree(work, ignore_errors=True)
    return {
        "command": f"python benchmarks/fault/harness.py --seed {seed} --budget-s {budget_s:g} --attempts {attempts}"
        f" --kinds {','.join(kinds)}",
        "kinds": list(kinds),
        "seed": seed,
        "budget_s": budget_s,
        "elapsed_s": round(time.monotonic() - t0, 1),
        "attempts": n,
        "failures": sum(failed.values()),
        "attempts_by_kind": dict(sorted(by_kind.items())),
        "failures_by_kind": {k: failed.get(k, 0) for k in sorted(by_kind)},
        "skipped_kinds": skipped,
        "first_failures": first_failures,
        "work": str(work) if failed else None,
    }


def combine(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """One summary of runs made side by side (other seeds, the same sources)."""
    by_kind: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for s in summaries:
        by_kind.update(s["attempts_by_kind"])
        failed.update(s["failures_by_kind"])
    return {
        "attempts": sum(s["attempts"] for s in summaries),
        "failures": sum(s["failures"] for s in summaries),
        "attempts_by_kind": dict(sorted(by_kind.items())),
        "failures_by_kind": {k: failed.get(k, 0) for k in sorted(by_kind)},
        "runs": summaries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--budget-s",
        type=float,
        default=60.0,
        help="stop starting attempts after this many seconds",
    )
    parser.add_argument("--attempts", type=int, default=10**9, help="at most this many attempts")
    parser.add_argument(
        "--kinds", default=",".join(KINDS), help=f"comma-separated, of {','.join(KINDS)}"
    )
    parser.add_argument(
        "--jsonl", type=Path, default=None, help="one JSON line per attempt (appended)"
    )
    parser.add_argument("--summary", type=Path, default=None, help="write the summary JSON here")
    parser.add_argument(
        "--work", type=Path, default=None, help="folder for the attempts (default: a temp dir)"
    )
    parser.add_argument(
        "--src",
        type=Path,
        default=SRC,
        help="skyscan sources to test (default: this checkout's; another commit's shows what it finds there)",
    )
    parser.add_argument(
        "--combine",
        type=Path,
        nargs="+",
        default=None,
        help="summaries of runs made side by side: write their sum to --summary and exit",
    )
    args = parser.parse_args()
    if args.combine:
        total = combine([json.loads(p.read_text()) for p in args.combine])
        if args.summary:
            args.summary.write_text(json.dumps(total, indent=2) + "\n")
        print(json.dumps({k: v for k, v in total.items() if k != "runs"}, indent=2))
        sys.exit(1 if total["failures"] else 0)
    os.environ["SKYSCAN_FAULT_SRC"] = str(args.src.resolve())
    kinds = tuple(k for k in args.kinds.split(",") if k)
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown kinds {unknown} (known: {', '.join(KINDS)})")
    summary = run_harness(args.seed, args.budget_s, args.attempts, kinds, args.jsonl, args.work)
    text = json.dumps(summary, indent=2)
    if args.summary:
        args.summary.parent.mkdir(parents=True, exist_ok=True)
        args.summary.write_text(text + "\n")
    print(text)
    sys.exit(1 if summary["failures"] else 0)


if __name__ == "__main__":
    main()
