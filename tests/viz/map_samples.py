"""Sample detections and page helpers shared by the map tests."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pandas as pd

# Rotterdam; the groups are ~100 m apart so each has its own spot on screen.
CENTRE = (4.4700, 51.9200)
DENSE = (4.4690, 51.9205)  # 200 cars: the heatmap's hot spot
TRUCK = (4.4712, 51.9206)
BUS = (4.4712, 51.9194)
CAR = (4.4690, 51.9194)


def sample_detections(n_dense: int = 200, seed: int = 0) -> pd.DataFrame:
    """A dense group of cars plus one truck, one bus and one lone car (contract columns)."""
    rng = np.random.default_rng(seed)
    lon = np.r_[DENSE[0] + rng.normal(0, 0.00006, n_dense), TRUCK[0], BUS[0], CAR[0]]
    lat = np.r_[DENSE[1] + rng.normal(0, 0.00004, n_dense), TRUCK[1], BUS[1], CAR[1]]
    cls = ["car"] * n_dense + ["truck", "bus", "car"]
    score = np.r_[rng.uniform(0.3, 0.9, n_dense), 0.91, 0.92, 0.93].astype("float32")
    image = ["scene_a"] * n_dense + ["scene_b"] * 3
    return pd.DataFrame(
        {
            "image_id": image,
            "image_path": [f"/data/{i}.tif" for i in image],
            "class_name": cls,
            "score": score,
            "lon": lon,
            "lat": lat,
            "georeferenced": True,
        }
    )


class PageLog:
    """Everything a page asked the network for, and every console error it printed."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.failed: list[str] = []
        self.console_errors: list[tuple[str, str]] = []  # (text, url of the source)
        self.page_errors: list[str] = []
        self.aborted: list[str] = []  # requests our route refused (everything not file://)
        self.answered: list[
            str
        ] = []  # responses to requests outside file:// and data: (none, offline)

    def unexpected(self, allowed_host: str | None = None) -> list[str]:
        """Failed requests and console errors (but those of ``allowed_host``, if given)."""
        bad = [
            f"failed request {u}" for u in self.failed if not allowed_host or allowed_host not in u
        ]
        bad += [
            f"console error {t} ({u})"
            for t, u in self.console_errors
            if not allowed_host or allowed_host not in u
        ]
        bad += [f"page error {e}" for e in self.page_errors]
        return bad

    def outside(self) -> list[str]:
        """Requests the page made beyond file:// and data: (the basemap's tiles)."""
        return [u for u in self.requests if not u.startswith(("file://", "data:"))]

    def outside_failed(self) -> list[str]:
        """Of those, the ones that ended: refused by our route, or cancelled by the page
        first (Leaflet drops the tiles of a view it left)."""
        return [u for u in self.failed if not u.startswith(("file://", "data:"))]


def open_map(
    browser: object, html_path: str, width: int = 1000, height: int = 700
) -> tuple[object, PageLog]:
    """Open a map file with every http(s) request aborted; wait until it is ready."""
    log = PageLog()
    page = browser.new_page(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
    page.on("request", lambda r: log.requests.append(r.url))
    page.on("requestfailed", lambda r: log.failed.append(r.url))
    page.on(
        "response",
        lambda r: not r.url.startswith(("file://", "data:")) and log.answered.append(r.url),
    )
    page.on("pageerror", lambda e: log.page_errors.append(str(e)))
    page.on(
        "console",
        lambda m: (
            m.type == "error" and log.console_errors.append((m.text, m.location.get("url", "")))
        ),
    )
    page.route("**/*", lambda route: _file_only(route, log))
    page.goto("file://" + os.path.abspath(html_path))
    page.wait_for_function("window.skyscan && window.skyscan.ready === true", timeout=60_000)
    wait_for_network_quiet(page, log)
    return page, log


def wait_for_network_quiet(
    page: Any, log: PageLog, quiet_ms: int = 500, timeout_ms: int = 20_000
) -> None:
    """Wait until the page has settled: every request it made outside file:// has ended
    (refused by our route, or cancelled by the page) and nothing new came for ``quiet_ms``.

    "Ready" means the map is drawn; the basemap's tile requests (refused, offline) and
    their events still arrive after it, so a test that compared them right away raced.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    last, still_since = None, time.monotonic()
    while time.monotonic() < deadline:
        page.wait_for_timeout(50)  # lets Playwright deliver the pending events
        now = (len(log.requests), len(log.aborted), len(log.failed))
        if now != last:
            last, still_since = now, time.monotonic()
            continue
        settled = sorted(log.outside_failed()) == sorted(log.outside())
        if settled and time.monotonic() - still_since >= quiet_ms / 1000:
            return
    raise AssertionError(
        f"the page did not settle in {timeout_ms} ms: {len(log.requests)} requests, "
        f"{len(log.aborted)} refused, {len(log.failed)} failed"
    )


def _file_only(route: Any, log: PageLog) -> None:
    # Every request passes here ("**/*"; a "https://**" glob does not match in Playwright 1.65).
    if route.request.url.startswith("file://"):
        route.continue_()
    else:
        log.aborted.append(route.request.url)
        route.abort()


def screenshot(page: object) -> np.ndarray:
    """The page as an (H, W, 3) uint8 array (PNG decoded by GDAL, no extra dependency)."""
    import warnings

    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile

    png = page.screenshot()  # type: ignore[attr-defined]
    keep = os.environ.get("SKYSCAN_TEST_SCREENSHOTS")  # a folder: keep them to look at
    if keep:
        name = os.environ.get("PYTEST_CURRENT_TEST", "page").split(" ")[0].split("::")[-1]
        os.makedirs(keep, exist_ok=True)
        with open(os.path.join(keep, f"{name}.png"), "wb") as handle:
            handle.write(png)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile(png) as mem, mem.open() as src:
            return np.moveaxis(src.read([1, 2, 3]), 0, -1)


def container_point(page: object, lon: float, lat: float) -> tuple[float, float]:
    """Where Leaflet itself puts (lon, lat) in the map container, in CSS pixels."""
    p = page.evaluate(  # type: ignore[attr-defined]
        "([lat, lon]) => { const p = skyscan.map.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
        [lat, lon],
    )
    return float(p[0]), float(p[1])


def settle(page: object) -> None:
    """Wait for two animation frames (canvas redraws after a view or layer change)."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")  # type: ignore[attr-defined]


def with_footprints(frame: pd.DataFrame, length_m: float = 4.6, width_m: float = 2.0) -> Any:
    """The detections as a GeoDataFrame whose geometry is each vehicle's footprint: an
    east-west box ``length_m`` by ``width_m`` around its lon/lat (the contract's geometry)."""
    import geopandas as gpd
    import shapely

    lon, lat = frame["lon"].to_numpy(), frame["lat"].to_numpy()
    dlon = length_m / 2 / (111_320 * np.cos(np.radians(lat)))
    dlat = width_m / 2 / 110_574
    boxes = shapely.box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)
    return gpd.GeoDataFrame(frame, geometry=boxes, crs="EPSG:4326")
