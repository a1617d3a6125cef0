"""Real servers on loopback for remote-input tests and benchmarks (started by the tests).

- :class:`RangeServer`: a threaded HTTP/1.1 file server in a child process that honours ``Range`` requests
  (single and multiple ranges), counts the bytes it sends, and injects faults per file:
  latency per request, an HTTP status (404, 403, 500...), a disconnect after N bytes of a
  response, or a file served shorter than it is (truncated).
- :func:`moto_s3`: moto's standalone S3 server in a subprocess, with a bucket, for GDAL's
  ``/vsis3/`` (path-style, plain HTTP, credentials from the environment).
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Fault:
    """What goes wrong when one file is requested (``None``: nothing)."""

    status: int | None = None  # answer every request with this status
    fail_first: int = 0  # answer the first N requests with ``status`` (then serve normally)
    disconnect_after: int | None = None  # close the connection after this many body bytes
    truncate_to: int | None = None  # serve the file as if it had this many bytes
    latency: float = 0.0  # seconds added to each request


@dataclass
class Stats:
    """What the server did (under a lock: handlers run in threads)."""

    requests: int = 0
    bytes_sent: int = 0
    ranges: list[tuple[str, int, int]] = field(default_factory=list)  # (path, start, end incl.)
    paths: list[str] = field(default_factory=list)  # every request's path with its query
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


_RANGE = re.compile(r"(\d*)-(\d*)")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_POST(self) -> None:
        import json

        srv = self.server
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        action = self.path.rsplit("/", 1)[-1]
        out: Any = None
        with srv.stats.lock:
            if action == "stats":
                st = srv.stats
                out = {
                    "requests": st.requests,
                    "bytes_sent": st.bytes_sent,
                    "ranges": st.ranges,
                    "paths": st.paths,
                }
            elif action == "reset":
                srv.stats.requests, srv.stats.bytes_sent = 0, 0
                srv.stats.ranges.clear()
                srv.stats.paths.clear()
            elif action == "latency":
                srv.latency = float(body["seconds"])
            elif action == "fault":
                if body["fault"] is None:
                    srv.faults.pop(body["path"], None)
                else:
                    srv.faults[body["path"]] = Fault(**body["fault"])
                srv.counts.pop(body["path"], None)
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _serve(self, *, head: bool) -> None:
        srv = self.server
        rel = self.path.split("?", 1)[0].lstrip("/")
        with srv.stats.lock:
            srv.stats.requests += 1
            srv.stats.paths.append(self.path)
            fault = srv.faults.get(rel)
            count = srv.counts.get(rel, 0) + 1
            srv.counts[rel] = count
        delay = srv.latency + (fault.latency if fault else 0.0)
        if delay:
            time.sleep(delay)
        if fault and fault.status and (fault.fail_first == 0 or count <= fault.fail_first):
            return self._status(fault.status)
        file = (srv.root / rel).resolve()
        if not file.is_relative_to(srv.root) or not file.is_file():
            return self._status(404)
        data_len = file.stat().st_size
        if fault and fault.truncate_to is not None:
            data_len = min(data_len, fault.truncate_to)
        header = self.headers.get("Range")
        if header is None:
            spans = [(0, data_len - 1)]
            status = 200
        else:
            spans = self._spans(header, data_len)
            if not spans:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{data_len}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        with file.open("rb") as fh:
            parts = []
            for start, end in spans:
                fh.seek(start)
                parts.append(fh.read(end - start + 1))
        self.send_response(status)
        self.send_header("Accept-Ranges", "bytes")
        if len(spans) == 1:
            body = parts[0]
            if status == 206:
                self.send_header("Content-Range", f"bytes {spans[0][0]}-{spans[0][1]}/{data_len}")
            self.send_header("Content-Type", "application/octet-stream")
        else:
            boundary = "skyscanboundary"
            chunks = []
            for (start, end), part in zip(spans, parts, strict=True):
                chunks.append(
                    f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n"
                    f"Content-Range: bytes {start}-{end}/{data_len}\r\n\r\n".encode()
                    + part
                )
            chunks.append(f"\r\n--{boundary}--\r\n".encode())
            body = b"".join(chunks)
            self.send_header("Content-Type", f"multipart/byteranges; boundary={boundary}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head:
            return
        if fault and fault.disconnect_after is not None:
            body = body[: fault.disconnect_after]
            self._write(body, spans, rel)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._write(body, spans, rel)

    def _write(self, body: bytes, spans: list[tuple[int, int]], rel: str) -> None:
        try:
            self.wfile.write(body)
        except OSError:
            return
        with self.server.stats.lock:
            self.server.stats.bytes_sent += len(body)
            self.server.stats.ranges.extend((rel, s, e) for s, e in spans)

    def _spans(self, header: str, size: int) -> list[tuple[int, int]]:
        if not header.startswith("bytes="):
            return []
        spans = []
        for item in header[len("bytes=") :].split(","):
            m = _RANGE.fullmatch(item.strip())
            if not m:
                return []
            a, b = m.groups()
            if a == "":  # suffix: the last b bytes
                start, end = max(0, size - int(b)), size - 1
            else:
                start, end = int(a), (int(b) if b else size - 1)
            end = min(end, size - 1)
            if start <= end:
                spans.append((start, end))
        return spans

    def _status(self, code: int) -> None:
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root.resolve()
        self.faults: dict[str, Fault] = {}
        self.counts: dict[str, int] = {}
        self.latency = 0.0
        self.stats = Stats()


class RangeServer:
    """Serve ``root`` on ``http://127.0.0.1:PORT/`` from a child process (a context manager).

    A child process, not a thread: GDAL holds the GIL while it opens a dataset, so a
    server thread in the reading process would never answer. Faults and counters are set
    and read through ``/_control/...`` requests, which are never counted.
    """

    def __init__(self, root: str | Path, latency: float = 0.0) -> None:
        self._root = Path(root)
        self._latency = latency
        self._proc: subprocess.Popen[str] | None = None
        self.base = ""

    def __enter__(self) -> RangeServer:
        self._proc = subprocess.Popen(
            [sys.executable, __file__, str(self._root), str(self._latency)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line.startswith("http://"):
            raise RuntimeError(f"range server did not start: {line!r}")
        self.base = line
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)

    def url(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def _control(self, action: str, body: dict[str, Any] | None = None) -> Any:
        import json
        import urllib.request

        req = urllib.request.Request(
            f"{self.base}/_control/{action}", data=json.dumps(body or {}).encode(), method="POST"
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def stats(self) -> dict[str, Any]:
        """``{"requests", "bytes_sent", "ranges": [[path, start, end], ...], "paths"}``."""
        return dict(self._control("stats"))

    def reset(self) -> None:
        self._control("reset")

    def set_latency(self, seconds: float) -> None:
        self._control("latency", {"seconds": seconds})

    def fault(self, rel: str, fault: Fault | None) -> None:
        """Inject ``fault`` for the file ``rel`` (``None`` clears it)."""
        self._control("fault", {"path": rel, "fault": None if fault is None else fault.__dict__})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing-key-id",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
    "AWS_REGION": "us-east-1",
    "AWS_HTTPS": "NO",
    "AWS_VIRTUAL_HOSTING": "FALSE",
}


@contextlib.contextmanager
def moto_s3(bucket: str) -> Iterator[dict[str, str]]:
    """moto's standalone S3 server on loopback with ``bucket`` created; yields the
    environment GDAL (``/vsis3/``) and boto3 need (``AWS_S3_ENDPOINT`` = host:port)."""
    import pytest

    pytest.importorskip(
        "moto.server", reason="moto[server] is not installed (pip install -e '.[dev]')"
    )
    boto3 = pytest.importorskip("boto3")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        env = dict(S3_ENV, AWS_S3_ENDPOINT=endpoint)
        client = boto3.client(
            "s3",
            endpoint_url=f"http://{endpoint}",
            region_name=env["AWS_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )
        client.create_bucket(Bucket=bucket)
        env["_client"] = client  # type: ignore[assignment]
        yield env
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def set_env(monkeypatch: Any, env: dict[str, Any]) -> None:
    """Put the string entries of ``env`` into ``os.environ`` for one test."""
    for key, value in env.items():
        if isinstance(value, str) and not key.startswith("_"):
            monkeypatch.setenv(key, value)


__all__ = ["Fault", "RangeServer", "moto_s3", "set_env"]


if __name__ == "__main__":
    _srv = _Server(Path(sys.argv[1]))
    _srv.latency = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    host, port = _srv.server_address[:2]
    print(f"http://{host}:{port}", flush=True)
    _srv.serve_forever()
