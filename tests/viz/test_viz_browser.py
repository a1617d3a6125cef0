"""The map in a real headless Chromium, with every network request aborted.

What a person would check: the page loads from disk with no console error and no request
at all; the offline basemap shows land, sea and names; the heatmap and the red / orange /
white markers are drawn where Leaflet projects their coordinates, and become box outlines
when zoomed in; clicking a marker opens its popup; the jump list moves the view; bad
inputs are reported in the page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from map_samples import (
    BUS,
    CAR,
    DENSE,
    TRUCK,
    container_point,
    open_map,
    screenshot,
    settle,
    with_footprints,
)

from rasters import utm_transform, write_geotiff
from skyscan.viz import make_map

pytestmark = pytest.mark.browser

BACKGROUND = np.array([0xD9, 0xDD, 0xE2])  # #map background (no basemap)
SEA, LAND = np.array([0xC6, 0xDB, 0xEA]), np.array([0xF4, 0xF1, 0xEA])  # the offline basemap
RED, ORANGE, WHITE = np.array([227, 26, 28]), np.array([255, 127, 0]), np.array([255, 255, 255])


def _pixel(img: np.ndarray, xy: tuple[float, float]) -> np.ndarray:
    x, y = round(xy[0]), round(xy[1])
    return img[y, x].astype(int)


def _close(a: np.ndarray, b: np.ndarray, tol: int = 40) -> bool:
    return bool(np.abs(a.astype(int) - b.astype(int)).max() <= tol)


def _show_only(page: Any, keep: str) -> None:
    page.evaluate(
        """(keep) => { for (const name of ['heat', 'points', 'basemap']) {
             const layer = skyscan.layers[name];
             if (!layer) continue;
             if (name === keep) skyscan.map.addLayer(layer); else skyscan.map.removeLayer(layer); } }""",
        keep,
    )
    settle(page)


def _centre_view(page: Any) -> None:
    # Fixed view: the four groups sit in the middle of the page, clear of the controls.
    page.evaluate("() => { skyscan.map.setView([51.92, 4.4701], 17, {animate: false}); }")
    settle(page)


@pytest.fixture
def map_file(tmp_path: Path, detections: pd.DataFrame) -> str:
    return str(make_map(detections, tmp_path / "map.html", title="browser test"))


def test_loads_offline_without_errors(browser: Any, map_file: str) -> None:
    page, log = open_map(browser, map_file)
    try:
        assert log.unexpected() == []
        # Nothing but the page itself is requested: Leaflet and the basemap are inlined.
        assert log.outside() == [] and log.aborted == [] and log.answered == []
        assert log.requests == [Path(map_file).resolve().as_uri()]
        assert page.evaluate("typeof L") == "object"
        # the same at every zoom the basemap changes its look at
        for zoom in (2, 5, 8, 12):
            page.evaluate(f"() => {{ skyscan.map.setZoom({zoom}, {{animate: false}}); }}")
            settle(page)
        assert log.requests == [Path(map_file).resolve().as_uri()] and log.unexpected() == []
    finally:
        page.close()


def test_open_map_waits_for_requests_made_after_ready(browser: Any, tmp_path: Path) -> None:
    """Tile requests that start after the page reports ready (as the basemap's do) are
    all refused and counted before a test looks at them."""
    page_file = tmp_path / "late.html"
    page_file.write_text(
        "<html><body><script>window.skyscan = {ready: true};"
        "setTimeout(() => { for (let i = 0; i < 11; i++) {"
        "  const img = new Image(); img.src = `https://tile.openstreetmap.org/1/0/${i}.png`; } }, 50);"
        "</script></body></html>"
    )
    page, log = open_map(browser, str(page_file))
    try:
        others = log.outside()
        assert len(others) == 11 and sorted(log.aborted) == sorted(others) == sorted(
            log.outside_failed()
        )
    finally:
        page.close()


def test_opens_on_the_densest_place_not_on_every_continent(
    browser: Any, tmp_path: Path, detections: pd.DataFrame
) -> None:
    far = detections.iloc[:2].assign(
        lon=[115.16, -104.77], lat=[-8.58, 38.95], image_id=["bali", "colorado"]
    )
    page_file = make_map(pd.concat([detections, far], ignore_index=True), tmp_path / "map.html")
    page, _ = open_map(browser, str(page_file))
    try:
        view = page.evaluate(
            "() => { const b = skyscan.map.getBounds(); "
            "return [b.getSouth(), b.getWest(), b.getNorth(), b.getEast(), skyscan.map.getZoom()]; }"
        )
        south, west, north, east, zoom = view
        assert zoom >= 15, view
        assert south <= DENSE[1] <= north and west <= DENSE[0] <= east
        assert not (west <= 115.16 <= east) and not (west <= -104.77 <= east)
        # the legend lists the images, most detections first, and jumps to one
        options = page.eval_on_selector_all(
            ".skyscan-places option", "os => os.map(o => o.textContent)"
        )
        assert options[1].startswith("scene_a") and any(o.startswith("bali") for o in options)
        index = next(i for i, o in enumerate(options) if o.startswith("bali")) - 1
        page.select_option(".skyscan-places", str(index))
        settle(page)
        centre = page.evaluate(
            "() => { const c = skyscan.map.getCenter(); return [c.lng, c.lat]; }"
        )
        assert centre == pytest.approx([115.16, -8.58], abs=1e-3)
        # each image is named by the town it lies near; "All detections" shows them all
        assert options[index + 1] == "bali — 1 · Denpasar" and options[1].endswith("· Rotterdam")
        page.select_option(".skyscan-places", "all")
        settle(page)
        south, west, north, east = page.evaluate(
            "() => { const b = skyscan.map.getBounds(); "
            "return [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()]; }"
        )
        for lon, lat in [(115.16, -8.58), (-104.77, 38.95), DENSE]:
            assert south <= lat <= north and west <= lon <= east
    finally:
        page.close()


def test_heatmap_is_drawn_where_the_detections_are(browser: Any, map_file: str) -> None:
    page, log = open_map(browser, map_file)
    try:
        _centre_view(page)
        _show_only(page, "heat")
        img = screenshot(page)
        dense = container_point(page, *DENSE)
        far = (dense[0] + 250, dense[1] - 150)  # ~130 m from every detection
        hot = _pixel(img, dense)
        assert not _close(hot, BACKGROUND, 20), f"no heat at the dense group: {hot}"
        assert hot[0] > 200 and hot[2] < 100, f"dense group should be hot (red/yellow): {hot}"
        assert _close(_pixel(img, far), BACKGROUND, 6), "heat drawn far from any detection"
        # A lone detection still shows, cooler than the hot spot.
        lone = _pixel(img, container_point(page, *TRUCK))
        assert not _close(lone, BACKGROUND, 20) and lone[2] > lone[0], f"lone truck heat: {lone}"
        assert log.unexpected() == []
    finally:
        page.close()


def test_markers_have_class_colours_at_their_coordinates(browser: Any, map_file: str) -> None:
    page, _ = open_map(browser, map_file)
    try:
        _centre_view(page)
        _show_only(page, "points")
        img = screenshot(page)
        for lonlat, colour, name in [
            (TRUCK, ORANGE, "truck"),
            (BUS, WHITE, "bus"),
            (CAR, RED, "car"),
        ]:
            got = _pixel(img, container_point(page, *lonlat))
            assert _close(got, colour), f"{name} marker: expected {colour}, got {got}"
        # The white bus marker has a dark outline so it shows on light imagery.
        bx, by = container_point(page, *BUS)
        radius = page.evaluate("skyscan.layers.points.radius")
        ring = [
            img[round(by), round(bx + d)].astype(int).sum()
            for d in np.arange(radius - 1, radius + 2, 0.5)
        ]
        assert min(ring) < 250, f"no dark outline around the bus marker: {ring}"
        # Away from the groups: background, no stray markers.
        assert _close(_pixel(img, (bx - 350, by)), BACKGROUND, 6)
    finally:
        page.close()


def test_clicking_a_marker_opens_its_popup(browser: Any, map_file: str) -> None:
    page, log = open_map(browser, map_file)
    try:
        _centre_view(page)
        x, y = container_point(page, *TRUCK)
        box = page.locator("#map").bounding_box()
        page.mouse.click(box["x"] + x, box["y"] + y)
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(timeout=5000)
        text = popup.inner_text()
        assert "truck" in text and "0.910" in text and "scene_b" in text, text
        assert f"{TRUCK[0]:.6f}"[:8] in text and f"{TRUCK[1]:.6f}"[:8] in text, text
        # A click on empty ground closes it and opens nothing new (closing fades for 200 ms).
        page.mouse.click(box["x"] + x - 300, box["y"] + y + 60)
        popup.wait_for(state="detached", timeout=2000)
        page.wait_for_timeout(300)
        assert page.locator(".leaflet-popup-content").count() == 0
        assert log.unexpected() == []
    finally:
        page.close()


def test_empty_table_renders_and_says_so(browser: Any, tmp_path: Path) -> None:
    empty = pd.DataFrame({"lon": [], "lat": [], "class_name": [], "score": []})
    path = make_map(empty, tmp_path / "empty.html", basemap=False)
    page, log = open_map(browser, str(path))
    try:
        assert "No detections to show" in page.inner_text(".skyscan-empty")
        assert "0 detections" in page.inner_text(".skyscan-legend")
        assert log.unexpected() == [] and log.requests == [Path(path).resolve().as_uri()]
    finally:
        page.close()


def test_bad_rows_and_imagery_are_reported_and_the_rest_is_shown(
    browser: Any, tmp_path: Path, detections: pd.DataFrame
) -> None:
    bad = pd.concat(
        [
            detections,
            pd.DataFrame(
                {
                    "image_id": ["x", "x", "y"],
                    "image_path": "/x",
                    "class_name": "car",
                    "score": 0.5,
                    "lon": [np.nan, 200.0, np.nan],
                    "lat": [1.0, 1.0, np.nan],
                    "georeferenced": [True, True, False],
                }
            ),
        ],
        ignore_index=True,
    )
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\x00 not really a tiff")
    path = make_map(bad, tmp_path / "bad.html", imagery=[str(broken)], basemap=False)
    page, log = open_map(browser, str(path))
    try:
        legend = page.inner_text(".skyscan-legend")
        assert "1 detection(s) skipped: their image has no georeferencing" in legend
        assert "1 detection(s) skipped: missing, NaN or infinite lon/lat" in legend
        assert "1 detection(s) skipped: lon/lat out of range" in legend
        assert "broken.tif" in legend
        assert f"{len(detections)} detections on the map ({len(bad)} in the input)" in legend
        assert page.evaluate("skyscan.layers.points.n") == len(detections)
        assert log.unexpected() == []
    finally:
        page.close()


def test_imagery_overlay_is_placed_on_its_footprint(browser: Any, tmp_path: Path) -> None:
    # A UTM image, left half magenta and right half green, 0.5 m pixels.
    data = np.zeros((3, 80, 120), np.uint8)
    data[0, :, :60], data[2, :, :60] = 255, 255
    data[1, :, 60:] = 255
    tif = write_geotiff(tmp_path / "scene.tif", 120, 80, data=data, transform=utm_transform(0.5))
    from pyproj import Transformer

    to_ll = Transformer.from_crs("EPSG:32631", "EPSG:4326", always_xy=True)
    t = utm_transform(0.5)
    left = to_ll.transform(t.c + 15, t.f - 20)  # 30 px in, magenta
    right = to_ll.transform(t.c + 45, t.f - 20)  # in the green half
    outside = to_ll.transform(t.c - 30, t.f + 30)
    dets = pd.DataFrame({"lon": [left[0]], "lat": [left[1]], "class_name": ["car"], "score": [0.9]})
    path = make_map(dets, tmp_path / "img.html", imagery=[str(tif)], max_markers=0, basemap=False)
    page, log = open_map(browser, str(path))
    try:
        _show_only(page, "none")
        img = screenshot(page)
        assert _close(_pixel(img, container_point(page, *left)), np.array([255, 0, 255]), 30)
        assert _close(_pixel(img, container_point(page, *right)), np.array([0, 255, 0]), 30)
        assert _close(_pixel(img, container_point(page, *outside)), BACKGROUND, 6)
        assert log.unexpected() == []
    finally:
        page.close()


def test_optional_layers_and_switcher(
    browser: Any, tmp_path: Path, detections: pd.DataFrame
) -> None:
    import geopandas as gpd
    from shapely.geometry import box

    zones = gpd.GeoDataFrame(
        {"name": ["lot"]}, geometry=[box(4.4685, 51.9200, 4.4695, 51.9210)], crs="EPSG:4326"
    )
    clustered = detections.assign(cluster_id=[0] * 200 + [-1, -1, -1])
    path = make_map(
        detections,
        tmp_path / "layers.html",
        zones=zones.to_crs("EPSG:32631"),
        h3_resolution=11,
        clusters=clustered,
        basemap=False,
    )
    page, log = open_map(browser, str(path))
    try:
        switcher = page.inner_text(".leaflet-control-layers")
        for label in [
            "Heatmap",
            "Detections (203)",
            "H3 cells (res 11)",
            "Zones",
            "Clusters",
            "No basemap",
        ]:
            assert label in switcher, switcher
        assert page.evaluate("skyscan.layers.zones.getLayers().length") == 1
        assert (
            page.evaluate("skyscan.layers.clusters.getLayers()[0].feature.properties.size") == 200
        )
        counts = page.evaluate("skyscan.layers.h3.getLayers().map(l => l.feature.properties.count)")
        assert sum(counts) == len(detections)
        assert log.unexpected() == []
    finally:
        page.close()


def test_many_markers_step_aside_then_draw_and_click(browser: Any, tmp_path: Path) -> None:
    # 60,000 detections as markers: too many in the full view (the heatmap carries it),
    # drawn as stamped discs once zoomed in, and still clickable.
    rng = np.random.default_rng(5)
    n = 60_000
    frame = pd.DataFrame(
        {
            "lon": 4.40 + rng.random(n) * 0.2,
            "lat": 51.90 + rng.random(n) * 0.1,
            "class_name": rng.choice(["car", "truck", "bus"], n),
            "score": rng.random(n),
            "image_id": "big",
        }
    )
    path = make_map(frame, tmp_path / "many.html", max_markers=n, basemap=False)
    page, log = open_map(browser, str(path))
    try:
        assert page.evaluate("skyscan.layers.points.suppressed")
        assert "Zoom in to see markers" in page.inner_text(".skyscan-legend")
        page.evaluate("() => { skyscan.map.setZoom(skyscan.map.getZoom() + 3, {animate: false}); }")
        settle(page)
        state = page.evaluate(
            "[skyscan.layers.points.suppressed, skyscan.layers.points.visible, skyscan.layers.points.radius]"
        )
        assert state[0] is False and 3000 < state[1] <= 30_000 and state[2] <= 3, state
        assert "Zoom in" not in page.inner_text(".skyscan-legend")
        _show_only(page, "points")
        img = screenshot(page)
        # Every marker Leaflet places in a central window shows its class colour there.
        colours = {"car": RED, "truck": ORANGE, "bus": WHITE}
        sample = page.evaluate("""() => { const P = skyscan.layers.points, out = [];
            for (let i = 0; i < P.n && out.length < 400; i++) { const ll = P.latLngOf(i);
              const p = skyscan.map.latLngToContainerPoint(ll);
              if (p.x > 100 && p.x < 600 && p.y > 150 && p.y < 450) out.push([p.x, p.y, P._classes[P._cls[i]].name]); }
            return out; }""")  # positions from Leaflet's own projection
        assert len(sample) > 50
        got = [(_pixel(img, (x, y)), colours[name]) for x, y, name in sample]
        assert all(
            not _close(px, BACKGROUND, 6) for px, _ in got
        )  # never background under a marker
        exact = sum(_close(px, want, 60) for px, want in got)
        assert exact > 0.6 * len(sample)  # mostly its own colour (others may overlap it)
        x, y, _ = sample[0]
        page.mouse.click(x, y)
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(timeout=5000)
        assert popup.locator(".skyscan-popup-class").inner_text() in {"car", "truck", "bus"}
        assert log.unexpected() == []
    finally:
        page.close()


def test_detections_outside_the_validated_range_are_hollow(browser: Any, tmp_path: Path) -> None:
    inside, outside = (4.4695, 51.92), (4.4707, 51.92)
    frame = pd.DataFrame(
        {
            "lon": [inside[0], outside[0]],
            "lat": [inside[1], outside[1]],
            "class_name": ["car", "car"],
            "score": [0.9, 0.9],
            "image_id": ["a", "b"],
            "in_validated_range": [True, False],
        }
    )
    page, log = open_map(browser, str(make_map(frame, tmp_path / "map.html")))
    try:
        _centre_view(page)
        _show_only(page, "points")
        img = screenshot(page)
        assert _close(_pixel(img, container_point(page, *inside)), RED)
        ox, oy = container_point(page, *outside)
        assert _close(_pixel(img, (ox, oy)), BACKGROUND, 10), (
            "an out-of-range marker must be hollow"
        )
        radius = page.evaluate("skyscan.layers.points.radius")
        ring = [_pixel(img, (ox + d, oy)) for d in np.arange(radius - 1.5, radius + 1.5, 0.5)]
        assert any(_close(p, RED, 60) for p in ring), f"no ring in the class colour: {ring}"
        assert "outside the model's validated range" in page.inner_text("body")
        box = page.locator("#map").bounding_box()
        page.mouse.click(box["x"] + ox + radius, box["y"] + oy)
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(timeout=5000)
        assert "outside the validated range" in popup.inner_text()
        assert log.unexpected() == []
    finally:
        page.close()


def test_offline_basemap_draws_land_sea_and_names(browser: Any, map_file: str) -> None:
    page, log = open_map(browser, map_file)
    try:
        _show_only(page, "basemap")
        page.evaluate("() => { skyscan.map.setView([52.0, 6.0], 6, {animate: false}); }")
        settle(page)
        labels = page.evaluate("skyscan.layers.labels.shown")
        assert {"Netherlands", "Germany", "Rotterdam"} <= set(labels), labels
        img = screenshot(page)
        # Rotterdam's dot is drawn where Leaflet puts Rotterdam (GeoNames: 4.47917, 51.9225)
        dot = _pixel(img, container_point(page, 4.47917, 51.9225))
        assert dot.max() < 90, f"no town dot at Rotterdam: {dot}"
        page.evaluate("() => skyscan.layers.basemap.removeLayer(skyscan.layers.labels)")
        settle(page)
        img = screenshot(page)
        assert _close(_pixel(img, container_point(page, 3.0, 54.5)), SEA, 6)  # the North Sea
        assert _close(_pixel(img, container_point(page, 10.0, 51.0)), LAND, 6)  # Thuringia
        # "No basemap" in the switcher takes it all away: the plain background again
        page.get_by_label("No basemap").check()
        settle(page)
        img = screenshot(page)
        assert _close(_pixel(img, container_point(page, 3.0, 54.5)), BACKGROUND, 6)
        assert _close(_pixel(img, container_point(page, 10.0, 51.0)), BACKGROUND, 6)
        # zoomed in on the detections, the towns of the region are named
        page.get_by_label("Basemap (offline)").check()
        page.evaluate("() => { skyscan.map.setView([51.92, 4.47], 10, {animate: false}); }")
        settle(page)
        # (towns under 2 million, like Rotterdam, are in the page only around detections)
        shown = page.evaluate("skyscan.layers.labels.shown")
        assert "Rotterdam" in shown and len(shown) >= 5, shown
        assert "Natural Earth" in page.inner_text(".leaflet-control-attribution")
        assert log.outside() == [] and log.unexpected() == []
    finally:
        page.close()


def test_markers_become_footprints_when_zoomed_in(browser: Any, tmp_path: Path) -> None:
    cars = pd.DataFrame(
        {
            "lon": [4.4690, 4.4694],
            "lat": [51.9200, 51.9200],
            "class_name": ["car", "car"],
            "score": [0.9, 0.8],
            "image_id": ["a", "b"],
            "in_validated_range": [True, False],
        }
    )
    boxed = with_footprints(cars, length_m=4.6, width_m=2.0)
    page, log = open_map(browser, str(make_map(boxed, tmp_path / "map.html")))
    try:
        _show_only(page, "points")
        page.evaluate("() => { skyscan.map.setView([51.92, 4.4692], 16, {animate: false}); }")
        settle(page)
        assert page.evaluate("skyscan.layers.points.footprints") == 0  # discs while small
        page.evaluate("() => { skyscan.map.setView([51.92, 4.4692], 21, {animate: false}); }")
        settle(page)
        assert page.evaluate("skyscan.layers.points.footprints") == 2
        img = screenshot(page)
        runs = []
        for i, (lon, lat) in enumerate(zip(cars.lon, cars.lat, strict=True)):
            west, _, east, north = boxed.geometry.iloc[i].bounds
            # the vehicle shows through: nothing is painted inside the box
            assert _close(_pixel(img, container_point(page, lon, lat)), BACKGROUND, 6)
            x0, y = container_point(page, west, north)
            x1, _ = container_point(page, east, north)
            assert x1 - x0 > 60  # a 4.6 m box at zoom 21 is ~95 px wide
            edge = [_close(_pixel(img, (x, y)), RED, 60) for x in np.arange(x0 + 6, x1 - 6)]
            runs.append(float(np.mean(edge)))
        solid, dashed = runs
        assert solid > 0.95, runs  # the top edge in the class colour, end to end
        assert 0.3 < dashed < 0.8, runs  # outside the validated range: dashed
        # a click inside the box opens its popup
        box = page.locator("#map").bounding_box()
        cx, cy = container_point(page, cars.lon[0] + 0.00001, cars.lat[0])
        page.mouse.click(box["x"] + cx, box["y"] + cy)
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(timeout=15_000)  # generous: other jobs may load the machine
        assert "car" in popup.inner_text() and "0.900" in popup.inner_text()
        assert log.unexpected() == []
    finally:
        page.close()
