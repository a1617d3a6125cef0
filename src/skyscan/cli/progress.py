"""A progress line on stderr for long commands: count, percentage, rate and time left.

On a terminal the line is redrawn in place, at most every ``REDRAW_S``; in a log (stderr
not a terminal) a new line is written at most every ``LOG_EVERY_S`` and once at the end,
so a batch job's log gets a heartbeat without a line per image. Written here rather than
taken from tqdm, whose import and first bar slow every command's start (its version
lookup scans the installed distributions).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

REDRAW_S = 0.2
LOG_EVERY_S = 30.0


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class Progress:
    """``done`` of ``total`` items, drawn as ``desc: 40% 2/5 img [00:12<00:18, 0.17 img/s]``."""

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._tty = self._stream.isatty()
        self._started = self._clock()
        self._drawn_at: float | None = None
        self._drawn_done = -1
        self._closed = False
        if self._tty:
            self._draw()

    def update(self, n: int = 1) -> None:
        self.done += n
        now = self._clock()
        every = REDRAW_S if self._tty else LOG_EVERY_S
        if self._drawn_at is None or now - self._drawn_at >= every:
            self._draw(now)

    def close(self) -> None:
        """Draw the final state (also in a log, unless its last line shows it) and end the line."""
        if self._closed:
            return
        self._closed = True
        if self._tty or self._drawn_done != self.done:
            self._draw()
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()

    def line(self, now: float | None = None) -> str:
        """The progress line as drawn at ``now``."""
        now = self._clock() if now is None else now
        elapsed = max(now - self._started, 0.0)
        rate = self.done / elapsed if elapsed > 0 else 0.0
        percent = f"{100 * self.done // self.total:3d}% " if self.total else ""
        left = (
            _clock((self.total - self.done) / rate) if rate > 0 and self.total >= self.done else "?"
        )
        return (
            f"{self.desc}: {percent}{self.done}/{self.total} {self.unit} "
            f"[{_clock(elapsed)}<{left}, {rate:.2f} {self.unit}/s]"
        )

    def _draw(self, now: float | None = None) -> None:
        now = self._clock() if now is None else now
        self._drawn_at, self._drawn_done = now, self.done
        text = self.line(now)
        self._stream.write(f"\r{text}\x1b[K" if self._tty else f"{text}\n")
        self._stream.flush()
