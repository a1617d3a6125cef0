"""The output directory's lock (``skyscan.run_lock``)."""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path

import pytest

from skyscan.errors import OutputError, OutputLockedError
from skyscan.run_lock import LOCK_FILE, output_lock


def test_a_held_lock_refuses_a_second_holder_naming_the_first(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with output_lock(out) as created:
        assert created and out.is_dir()
        holder = json.loads((out / LOCK_FILE).read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        # flock locks belong to an open file: a second open in this process conflicts too
        with pytest.raises(OutputLockedError, match=f"pid {os.getpid()} on host"), output_lock(out):
            pass
        assert (out / LOCK_FILE).exists()
    assert not (out / LOCK_FILE).exists()
    with output_lock(out) as created:  # released: free again
        assert not created


def test_the_lock_of_a_run_that_died_is_taken_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_FILE).write_text(
        json.dumps({"pid": 999_999_999, "host": "elsewhere", "started_utc": "then"})
    )
    with caplog.at_level(logging.INFO, logger="skyscan.run_lock"), output_lock(out):
        assert json.loads((out / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert "taking over the lock" in caplog.text and "pid 999999999" in caplog.text


def test_an_output_that_cannot_be_a_directory_is_an_output_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with (
        pytest.raises(OutputError, match="exists and is not a directory"),
        output_lock(tmp_path / "afile"),
    ):
        pass
    with (
        pytest.raises(OutputError, match="cannot create or write"),
        output_lock(tmp_path / "afile" / "sub"),
    ):
        pass
