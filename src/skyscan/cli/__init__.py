"""The ``skyscan`` command line: each command lives in its own module and only parses
arguments, calls the library and reports. Commands are imported lazily so that
``skyscan --help`` stays fast."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import threading
from typing import NoReturn

import click

# command name -> module under skyscan.cli that defines a click command named ``command``
COMMANDS: dict[str, str] = {
    "detect": "detect",
    "inspect": "inspect_cmd",
    "plan": "plan_cmd",
    "train": "train",
    "evaluate": "evaluate",
    "convert": "convert",
    "models": "models",
    "within": "analytics",
    "join": "analytics",
    "aggregate": "analytics",
    "cluster": "analytics",
    "map": "map_cmd",
    "review": "review",
    "render": "render",
    "quantize": "quantize",
    "set-threshold": "threshold",
    "set-box-scale": "threshold",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            import difflib

            close = difflib.get_close_matches(name, list(COMMANDS), n=3, cutoff=0.6)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            ctx.fail(f"No such command {name!r}.{hint} (skyscan --help lists them)")
        return super().resolve_command(ctx, args)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        module_name = COMMANDS.get(name)
        if module_name is None:
            return None
        module = importlib.import_module(f"skyscan.cli.{module_name}")
        attr = name.replace("-", "_") + "_command"
        cmd = getattr(module, attr, None)
        return cmd if isinstance(cmd, click.Command) else None


def setup_logging(verbose: int, quiet: int) -> None:
    level = max(logging.DEBUG, min(logging.CRITICAL, logging.WARNING - 10 * verbose + 10 * quiet))
    logging.basicConfig(
        level=level,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Python warnings go through logging, so -q silences them too
    logging.captureWarnings(True)
    from skyscan.errors import ignore_missing_georef_warning

    ignore_missing_georef_warning()
    for handler in logging.getLogger().handlers:
        handler.addFilter(_redact_record)
        if verbose == 0:
            handler.addFilter(_FirstFew("outside_validated_range", 3))
    if level > logging.WARNING:
        # -q prints nothing but errors: GDAL writes its warnings straight to stderr
        # ("Warning 1: TIFFFetchNormalTag: ...") from threads where no rasterio handler is
        # installed; its default handler writes to CPL_LOG instead when that is set
        os.environ.setdefault("CPL_LOG", os.devnull)
    if verbose < 3:
        # GDAL/rasterio and friends are chatty at DEBUG; -vvv lets them through
        for name in ("rasterio", "fiona", "pyogrio", "matplotlib", "PIL", "py4j", "numba"):
            logging.getLogger(name).setLevel(max(logging.WARNING, level))  # -q silences them too


class _FirstFew(logging.Filter):
    """Let through the first ``n`` records of one ``skyscan_kind`` (a warning repeated per
    image, say), then one line saying the rest are not shown; ``-v`` shows them all."""

    def __init__(self, kind: str, n: int) -> None:
        super().__init__()
        self.kind, self.n, self.seen = kind, n, 0

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "skyscan_kind", None) != self.kind:
            return True
        self.seen += 1
        if self.seen == self.n + 1:
            record.msg, record.args = (
                "more images outside the model's validated range (not listed; -v lists them, run.json names them)",
                None,
            )
        return self.seen <= self.n + 1


def _redact_record(record: logging.LogRecord) -> bool:
    """Take query strings, credentials and secret variables' values out of a log line
    (a remote path's pre-signed signature, say, in a message from any library)."""
    from skyscan.io.remote import redact

    message = record.getMessage()
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, None
    return True


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="skyscan")
@click.option("-v", "--verbose", count=True, help="More log output (repeatable).")
@click.option("-q", "--quiet", count=True, help="Less log output (repeatable).")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: int) -> None:
    """skyscan: find vehicles in overhead imagery and answer geospatial questions about them."""
    setup_logging(verbose, quiet)
    ctx.ensure_object(dict)
    ctx.obj["quiet"] = quiet > 0


class Finished(SystemExit):
    """A command's end once every output is written (renamed into place, fsynced): unlike a
    plain ``sys.exit``, :func:`main` may then end the process without the interpreter's
    teardown (see :func:`finish`)."""


def finish(code: int) -> NoReturn:
    """End the command with exit ``code``, allowing :func:`main` to skip the interpreter's
    teardown: call it only when every output is in place and nothing runs at exit that
    matters (the local engine's detect; not a Spark session, which is stopped at exit)."""
    raise Finished(code)


def main() -> None:
    try:
        try:
            cli(prog_name="skyscan")
        except Exception as exc:
            _unexpected(exc)
    except Finished as done:
        # Freeing hundreds of modules, ONNX Runtime sessions and GDAL's state at exit adds
        # to every command after its last output is written. Skip it where the command
        # finished that way and nobody observes the process (a profiler, a tracer, a
        # coverage tool) or still has work in a thread.
        if isinstance(done.code, int | None) and _nothing_left_to_run():
            _exit_now(done.code or 0)
        raise


def _exit_now(code: int) -> NoReturn:
    """``os._exit`` after flushing what the process wrote: logs, stdout, stderr."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to lose
            stream.flush()
    os._exit(code)


def _nothing_left_to_run() -> bool:
    if sys.gettrace() is not None or sys.getprofile() is not None:
        return False
    others = [t for t in threading.enumerate() if t is not threading.current_thread()]
    return not any(t.is_alive() and not t.daemon for t in others)


def _unexpected(exc: Exception) -> None:
    """An error no command anticipated: one line and exit code 1, the traceback only
    with ``-v`` (every exit path of a command ends in a message and a documented code)."""
    if logging.getLogger().getEffectiveLevel() <= logging.INFO:
        raise exc
    message = " ".join(str(exc).split()) or "no message"
    click.echo(
        f"skyscan: error: {type(exc).__name__}: {message} (-v shows the traceback)", err=True
    )
    sys.exit(1)
