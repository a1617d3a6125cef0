"""An exclusive lock on an output directory, so that two runs never write into one.

The lock is ``OUTDIR/.skyscan.lock``, held with ``flock`` for the whole run and holding
the holder's pid, host and start time (for the message a second run prints). The kernel
drops a ``flock`` when its process dies, however it dies, so the lock of a killed run is
stale by construction: the next run takes it over (and says so in the log). Releasing
removes the file while still holding it; a run that opened the old file in the meantime
sees that the path no longer names what it locked, and tries again.

Shared filesystems: on NFS (v4, or v3 with lockd) Linux maps ``flock`` onto the server's
byte-range locks, so runs on different hosts exclude each other as well. Where the
filesystem has no locks at all (``flock`` fails with ``ENOLCK`` or ``EOPNOTSUPP``), the
file's contents are the lock: a holder on this host whose pid is alive keeps it, a dead
one is taken over, and a holder on another host is refused, with the file to delete named,
since its liveness cannot be checked from here.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from skyscan.errors import OutputError, OutputLockedError
from skyscan.types import JsonObject

logger = logging.getLogger(__name__)

LOCK_FILE = ".skyscan.lock"
_NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS)


def _holder_text(info: JsonObject) -> str:
    since = info.get("started_utc", "an unknown time")
    return f"pid {info.get('pid', '?')} on host {info.get('host', '?')} (since {since})"


def _read_holder(fd: int) -> JsonObject:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 4096)
    try:
        info = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def _write_holder(fd: int) -> None:
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(info).encode("utf-8"))
    os.fsync(fd)


def _pid_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, someone else's
    return True


def _refuse(outdir: Path, info: JsonObject) -> OutputLockedError:
    return OutputLockedError(
        f"{outdir}: another skyscan run is writing here ({_holder_text(info)}); wait for it "
        "to end or choose another output directory"
    )


def _check_without_flock(outdir: Path, info: JsonObject) -> None:
    """The contents-only lock of a filesystem without ``flock``: refuse a live holder."""
    if not info or info.get("pid") == os.getpid():
        return
    if info.get("host") != socket.gethostname():
        raise OutputLockedError(
            f"{outdir}: locked by a run on another host ({_holder_text(info)}) and this "
            f"filesystem has no file locks to tell whether it still runs; if it does not, "
            f"delete {outdir / LOCK_FILE}"
        )
    if _pid_alive(info.get("pid")):
        raise _refuse(outdir, info)


def _open_locked(outdir: Path) -> int:
    """Open the lock file and hold it; raise :class:`OutputLockedError` when held."""
    path = outdir / LOCK_FILE
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info = _read_holder(fd)
            for _ in range(20):  # the holder may be between taking the lock and writing itself in
                if info:
                    break
                time.sleep(0.01)
                info = _read_holder(fd)
            os.close(fd)
            raise _refuse(outdir, info) from None
        except OSError as exc:
            if exc.errno not in _NO_LOCKS:
                os.close(fd)
                raise
            try:
                _check_without_flock(outdir, _read_holder(fd))
            except OutputLockedError:
                os.close(fd)
                raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # released (removed) by its holder after we opened it: open it anew


@contextlib.contextmanager
def output_lock(outdir: str | Path) -> Iterator[bool]:
    """Hold OUTDIR's lock for the ``with`` block, creating OUTDIR if needed.

    Yields whether this call created OUTDIR. Raises :class:`OutputLockedError` (another
    run holds it) or :class:`OutputError` (OUTDIR cannot be created or written).
    """
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir}: exists and is not a directory")
    created = not outdir.exists()
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        fd = _open_locked(outdir)
    except OSError as exc:
        if isinstance(exc, OutputLockedError):
            raise
        reason = exc.strerror or str(exc)
        raise OutputError(
            f"{outdir}: cannot create or write the output directory ({reason})"
        ) from exc
    try:
        previous = _read_holder(fd)
        if previous and previous.get("pid") != os.getpid():
            logger.info(
                "%s: taking over the lock of a run that ended without releasing it (%s)",
                outdir,
                _holder_text(previous),
            )
        _write_holder(fd)
    except OSError as exc:
        os.close(fd)
        raise OutputError(
            f"{outdir}: cannot write the output directory ({exc.strerror or exc})"
        ) from exc
    try:
        yield created
    finally:
        with contextlib.suppress(OSError):
            (outdir / LOCK_FILE).unlink()
        os.close(fd)
