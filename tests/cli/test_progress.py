"""The progress line of ``skyscan detect`` (``skyscan.cli.progress``)."""

from __future__ import annotations

import io

from skyscan.cli.progress import LOG_EVERY_S, Progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_line_shows_count_percentage_rate_and_time_left() -> None:
    clock = FakeClock()
    bar = Progress(total=5, desc="detect", unit="img", stream=io.StringIO(), clock=clock)
    clock.now += 10.0
    bar.done = 2
    assert bar.line() == "detect:  40% 2/5 img [00:10<00:15, 0.20 img/s]"
    clock.now += 3590.0
    bar.done = 3
    assert bar.line().endswith("[1:00:00<40:00, 0.00 img/s]")


def test_a_log_gets_a_line_at_most_every_interval_and_the_final_state() -> None:
    clock, log = FakeClock(), io.StringIO()
    bar = Progress(total=100, desc="detect", unit="img", stream=log, clock=clock)
    assert log.getvalue() == ""  # nothing before the first image ends
    for _ in range(99):
        clock.now += 1.0
        bar.update()
    bar.close()
    bar.close()  # closing twice draws once
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert len(lines) == 1 + 99 // int(LOG_EVERY_S) + 1  # first image, every 30 s, the end
    assert lines[-1].startswith("detect:  99% 99/100 img")


def test_a_terminal_redraws_one_line_in_place() -> None:
    clock, tty = FakeClock(), Terminal()
    bar = Progress(total=3, desc="detect", unit="img", stream=tty, clock=clock)
    for _ in range(3):
        clock.now += 1.0
        bar.update()
    bar.close()
    out = tty.getvalue()
    assert out.count("\n") == 1 and out.endswith("\n")
    assert out.count("\r") == 5  # drawn at the start, after each image, and at the end
    assert out.rstrip("\n").split("\r")[-1].startswith("detect: 100% 3/3 img")


def test_zero_items_draws_without_dividing_by_zero() -> None:
    bar = Progress(total=0, desc="detect", unit="img", stream=io.StringIO(), clock=FakeClock())
    bar.close()
    assert bar.line().startswith("detect: 0/0 img")


def test_a_log_does_not_repeat_a_final_state_already_written() -> None:
    log = io.StringIO()
    bar = Progress(total=1, desc="detect", unit="img", stream=log, clock=FakeClock())
    bar.update()
    bar.close()
    assert log.getvalue().count("\n") == 1 and "100% 1/1 img" in log.getvalue()


def test_quiet_silences_the_libraries_warnings_too() -> None:
    """``-q`` prints nothing but errors: GDAL's warnings through rasterio included (a
    truncated GeoTIFF's "TIFFFetchNormalTag: IO error" lines came through before)."""
    import logging

    from skyscan.cli import setup_logging

    root = logging.getLogger()
    saved = root.level, logging.getLogger("rasterio").level
    try:
        setup_logging(verbose=0, quiet=1)
        assert not logging.getLogger("rasterio").isEnabledFor(logging.WARNING)
        assert logging.getLogger("rasterio").isEnabledFor(logging.ERROR)
        setup_logging(verbose=1, quiet=0)
        assert logging.getLogger("rasterio").isEnabledFor(logging.WARNING)
    finally:
        root.setLevel(saved[0])
        logging.getLogger("rasterio").setLevel(saved[1])
