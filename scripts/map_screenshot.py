"""A screenshot of a skyscan map as it opens, in headless Chromium (Debian's ``chromium``,
driven by Playwright; no browser is downloaded). Used for the README's picture:

    bash scripts/demo.sh && python scripts/map_screenshot.py out/demo/map.html docs/images/map_orthophoto.png
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("map", type=Path, help="a map.html written by skyscan")
    ap.add_argument("output", type=Path, help="the PNG to write")
    ap.add_argument("--size", default="1200x760", help="viewport WIDTHxHEIGHT [1200x760]")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from skyscan.viz.headless import launch_chromium

    width, height = (int(v) for v in args.size.split("x"))
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": width, "height": height})
        # the map is offline: any request that is not a local file is refused
        page.route(
            "**/*", lambda r: r.continue_() if r.request.url.startswith("file://") else r.abort()
        )
        page.goto(args.map.resolve().as_uri())
        page.wait_for_function("() => window.skyscan && window.skyscan.ready", timeout=60_000)
        page.wait_for_timeout(500)  # the imagery overlay and the canvas settle
        page.screenshot(path=str(args.output))
        browser.close()
    print(f"{args.output}: {width} x {height}")


if __name__ == "__main__":
    main()
