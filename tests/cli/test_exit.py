"""skyscan.cli.main's exit path: a command that ends with ``finish`` (every output written)
skips the interpreter's teardown with ``os._exit``, after flushing what it printed; a
plain ``sys.exit``, or a thread still running, goes through the normal teardown."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, os, sys, threading, time
import click
import skyscan.cli

def report(how, code):
    with open(REPORT, "w") as f:
        f.write(json.dumps({"how": how, "code": code}))

real_exit = os._exit
os._exit = lambda code: (report("os._exit", code), real_exit(code))

@click.command()
def probe():
    print("written", end="")  # unflushed: the fast exit must flush it
    if MODE == "thread":
        threading.Thread(target=time.sleep, args=(0.2,)).start()
    if MODE == "plain":
        sys.exit(3)
    skyscan.cli.finish(3)

MODE, REPORT = sys.argv[1:3]
sys.argv[1:] = []  # the probe command takes no arguments
skyscan.cli.cli = probe  # main runs this command instead of the group
try:
    skyscan.cli.main()
except SystemExit as exc:
    report("SystemExit", exc.code)
    raise
"""


@pytest.mark.parametrize(
    ("mode", "how"), [("finish", "os._exit"), ("thread", "SystemExit"), ("plain", "SystemExit")]
)
def test_finish_skips_teardown_only_when_nothing_else_runs(
    mode: str, how: str, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, mode, str(report)], capture_output=True, text=True
    )
    result = json.loads(report.read_text())
    assert result == {"how": how, "code": 3}, proc.stderr
    assert proc.returncode == 3 and proc.stdout == "written"
