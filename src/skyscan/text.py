"""Wording shared by the messages skyscan prints: counts with their noun."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """``1 image``, ``2 images``.

    >>> plural(1, "image"), plural(0, "input")
    ('1 image', '0 inputs')
    """
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"
