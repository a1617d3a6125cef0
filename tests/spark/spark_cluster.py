"""A Spark standalone master and worker on 127.0.0.1, started with the installed PySpark's
``bin/spark-class`` in process groups of their own (killed afterwards): the spark tests'
cluster and the fault harness's (``benchmarks/fault/harness.py``, kind ``spark_executor``)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=15)
            return
        except subprocess.TimeoutExpired:
            continue


class StandaloneCluster:
    """A Spark standalone master + one worker on 127.0.0.1 (process groups of their own)."""

    def __init__(self, workdir: Path, cores: int = 2, memory: str = "2g") -> None:
        self.workdir = workdir
        self.port = free_port()
        self.ui_port = free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.cores = cores
        self.memory = memory
        self.procs: list[subprocess.Popen[bytes]] = []

    def _launch(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "SPARK_LOCAL_IP": "127.0.0.1",
            "PYSPARK_PYTHON": sys.executable,
            "SPARK_HOME": str(spark_home()),
            "SPARK_WORKER_DIR": str(self.workdir / "work"),
        }
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [str(spark_home() / "bin" / "spark-class"), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def master_state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as resp:
            state: dict[str, Any] = json.load(resp)
        return state

    def start(self, timeout: float = 180.0) -> None:
        self.master = self._launch(
            "master",
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--webui-port",
            str(self.ui_port),
        )
        self._wait(lambda: self.master_state().get("status") == "ALIVE", timeout, "master")
        self.worker = self._launch(
            "worker",
            "org.apache.spark.deploy.worker.Worker",
            self.url,
            "--host",
            "127.0.0.1",
            "--cores",
            str(self.cores),
            "--memory",
            self.memory,
            "--webui-port",
            str(free_port()),
            "--work-dir",
            str(self.workdir / "work"),
        )
        self._wait(
            lambda: any(w.get("state") == "ALIVE" for w in self.master_state().get("workers", [])),
            timeout,
            "worker",
        )

    def _wait(self, ready: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                break
            with contextlib.suppress(OSError, ValueError):
                if ready():
                    return
            time.sleep(0.5)
        logs = {p.name: p.read_text(errors="replace")[-2000:] for p in self.workdir.glob("*.log")}
        self.stop()
        raise RuntimeError(f"standalone {what} did not start within {timeout}s: {logs}")

    def executor_pids(self) -> list[int]:
        """JVMs of this worker's executors (children of the worker process)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmd = (entry / "cmdline").read_bytes()
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if b"CoarseGrainedExecutorBackend" in cmd and ppid == self.worker.pid:
                pids.append(int(entry.name))
        return pids

    def stop(self) -> None:
        for proc in reversed(self.procs):
            _kill_group(proc)
        self.procs.clear()
