"""How skyscan's pages are opened in a headless browser: Debian's ``chromium`` driven by
Playwright, offline (Playwright's own browser downloads are never used).

One home for the browser's path and flags, shared by the page tests, the map benchmark and
the README's screenshot.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CHROMIUM = os.environ.get("SKYSCAN_CHROMIUM", "/usr/bin/chromium")
# No sandbox (containers), no GPU, and nothing that phones home while a page is measured.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


def launch_chromium(playwright: Playwright) -> Browser:
    """A headless Chromium browser from a started ``sync_playwright()`` context."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
