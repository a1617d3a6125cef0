"""Benchmark the offline map: HTML size per detection and time-to-interactive in Chromium.

For 1,000 to 1,000,000 synthetic detections (parking-lot clusters over a 20 km city, car
/ truck / bus), build the page twice: with the default marker cap (5,000 markers, heatmap
of everything) and with every detection as a marker. Each page is opened from disk in
headless Chromium (Debian's, all network aborted) and timed:

- ``build_s``: Python time to build the page (load, aggregate, encode, template);
- ``ready_ms``: from navigation start until the map is built and has drawn once
  (``window.skyscan.readyMs``): time-to-interactive;
- ``redraw_ms``: heatmap + markers redraw after zooming in two levels (the cost of each
  pan/zoom);
- ``click_ms``: from the click event on a marker until its popup is in the DOM.

Writes ``benchmarks/results/map.json``. Run:
    nice -n 15 .venv/bin/python benchmarks/bench_map.py [--sizes 1000,10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def synthetic(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` detections: 80 % in parking-lot clusters (30 m spread), 20 % along a city."""
    rng = np.random.default_rng(seed)
    lon0, lat0, span = 4.40, 51.88, 0.28  # ~20 km around Rotterdam
    n_lots = max(1, n // 500)
    lots = np.c_[lon0 + rng.random(n_lots) * span, lat0 + rng.random(n_lots) * span * 0.6]
    k = int(n * 0.8)
    pick = rng.integers(0, n_lots, k)
    lon = np.r_[lots[pick, 0] + rng.normal(0, 0.0004, k), lon0 + rng.random(n - k) * span]
    lat = np.r_[lots[pick, 1] + rng.normal(0, 0.00027, k), lat0 + rng.random(n - k) * span * 0.6]
    return pd.DataFrame(
        {
            "image_id": [f"tile_{i:04d}" for i in rng.integers(0, 400, n)],
            "class_name": rng.choice(np.array(["car", "truck", "bus"]), n, p=[0.85, 0.1, 0.05]),
            "score": rng.uniform(0.25, 0.99, n).astype("float32"),
            "lon": lon,
            "lat": lat,
        }
    )


def measure(browser: Any, path: Path) -> dict[str, float]:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    # Only file:// gets through (a "https://**" glob does not match in Playwright 1.65).
    page.route(
        "**/*", lambda r: r.continue_() if r.request.url.startswith("file://") else r.abort()
    )
    page.goto(path.as_uri(), timeout=120_000)
    page.wait_for_function("window.skyscan && window.skyscan.ready === true", timeout=120_000)
    ready = page.evaluate("skyscan.readyMs")
    first = page.evaluate("[skyscan.layers.heat.lastDrawMs, skyscan.layers.points.lastDrawMs]")
    page.evaluate("() => { skyscan.map.setZoom(skyscan.map.getZoom() + 2, {animate: false}); }")
    redraw = page.evaluate("skyscan.layers.heat.lastDrawMs + skyscan.layers.points.lastDrawMs")
    for _ in range(3):  # markers are left to the heatmap while > 30,000 are in view
        if not page.evaluate("skyscan.layers.points.suppressed"):
            break
        page.evaluate("() => { skyscan.map.setZoom(skyscan.map.getZoom() + 2, {animate: false}); }")
    # Click the first drawn marker and time until its popup exists.
    target = page.evaluate("""() => { const P = skyscan.layers.points, H = P._hit;
        for (let g = 0; g < H.head.length; g++) if (H.head[g] >= 0) {
          const i = H.head[g], x = H.sx[i] - P._offset.x, y = H.sy[i] - P._offset.y;
          if (x > 60 && x < 800 && y > 60 && y < 500) return [x, y]; }
        return null; }""")  # in view, clear of the controls
    click_ms = None
    if target:
        page.mouse.click(target[0], target[1])
        page.locator(".leaflet-popup-content").wait_for(timeout=10_000)
        click_ms = round(page.evaluate("skyscan.layers.points.lastClickMs"), 1)
    page.close()
    return {
        "ready_ms": round(ready, 1),
        "first_draw_heat_ms": round(first[0], 1),
        "first_draw_points_ms": round(first[1], 1),
        "redraw_ms": round(redraw, 1),
        "click_ms": click_ms,
        "console_errors": len(errors),
    }


def median_of(browser: Any, path: Path, repeats: int) -> dict[str, Any]:
    """Median of each timing over ``repeats`` page loads (the machine is shared: noisy)."""
    runs = [measure(browser, path) for _ in range(repeats)]
    out: dict[str, Any] = {}
    for key in runs[0]:
        values = [r[key] for r in runs if r[key] is not None]
        out[key] = round(float(np.median(values)), 1) if values else None
    out["console_errors"] = max(r["console_errors"] for r in runs)
    # The spread shows how much of the time is other work on the shared machine.
    out["ready_ms_min"] = round(min(r["ready_ms"] for r in runs), 1)
    out["ready_ms_max"] = round(max(r["ready_ms"] for r in runs), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--repeats", type=int, default=3, help="page loads per row (median)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "map.json"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from skyscan.viz import build_map
    from skyscan.viz.headless import launch_chromium

    rows: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = launch_chromium(p)
        for n in [int(s) for s in args.sizes.split(",")]:
            frame = synthetic(n)
            for label, cap in [("default (5,000 markers)", 5000), ("all markers", n)]:
                if label == "all markers" and n <= 5000:
                    continue
                started = time.perf_counter()
                result = build_map(frame, max_markers=cap, basemap=False, title=f"bench {n}")
                build_s = time.perf_counter() - started
                path = Path(tmp) / f"map_{n}_{cap}.html"
                path.write_text(result.html, encoding="utf-8")
                size = path.stat().st_size
                row = {
                    "detections": n,
                    "markers": result.n_markers,
                    "mode": label,
                    "heat_cells": result.n_heat_cells,
                    "html_bytes": size,
                    "bytes_per_detection": round(size / n, 2),
                    "build_s": round(build_s, 2),
                    **median_of(browser, path, args.repeats),
                }
                print(json.dumps(row), flush=True)
                rows.append(row)
        version = browser.version
        browser.close()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "benchmark": "offline map: HTML size and time-to-interactive in headless Chromium",
                "chromium": version,
                "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)",
                "viewport": "1280x800",
                "network": "all http(s) aborted, basemap off",
                "repeats": args.repeats,
                "timings": "median over repeats",
                "load_average_before_after": [
                    round(load_before[0], 1),
                    round(os.getloadavg()[0], 1),
                ],
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
