"""Reading the JSON files users hand to skyscan (cards, dataset specs, labels, reports)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from skyscan.errors import SkyscanError


def load_json_file(path: str | Path, what: str, error: type[SkyscanError]) -> Any:
    """The parsed JSON of ``path``, or ``error`` naming the file and ``what`` it should be.

    A missing, unreadable, non-UTF-8 (a binary file) or malformed file is the user's
    input error, never a traceback."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: JSONDecodeError, UnicodeDecodeError
        raise error(f"{path}: cannot read {what} ({type(exc).__name__}: {exc})") from exc
