"""Run a command and write its peak resident memory (KiB) to a file.

    python benchmarks/peak_rss.py OUT_FILE COMMAND [ARGS...]

On Linux a process's ``ru_maxrss`` also counts the memory of the process it was forked
from, up to its exec: a command started straight from a benchmark that has just built a
20,000 px scene in memory "peaked" at 1.6 GiB while using 0.5. Started from this small
process instead, the figure is the command's own (within this process's ~10 MiB).
Standard output and the exit code pass through. Benchmarks call :func:`run_measured`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def run_measured(cmd: list[str], **kwargs: Any) -> tuple[subprocess.CompletedProcess[str], float]:
    """``subprocess.run(cmd, **kwargs)`` started through this script: the result and the
    command's own peak RSS in MiB."""
    with tempfile.TemporaryDirectory(prefix="peak-rss-") as tmp:
        out = Path(tmp) / "kib"
        proc = subprocess.run([sys.executable, __file__, str(out), *cmd], text=True, **kwargs)
        kib = int(out.read_text(encoding="utf-8")) if out.exists() else 0
    return proc, kib / 1024


def main() -> int:
    out, cmd = Path(sys.argv[1]), sys.argv[2:]
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    out.write_text(f"{usage.ru_maxrss}\n", encoding="utf-8")
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
