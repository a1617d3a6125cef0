"""Remote rasters read through a real HTTP server on loopback (``tests/remote_servers.py``):
range requests, sidecars probed by name, faults as error messages, redaction."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio

from rasters import lv95_transform, write_fgdc_xml, write_geotiff, write_plain_png
from remote_servers import Fault, RangeServer
from skyscan.errors import ImageReadError, MetadataError, RemoteReadError
from skyscan.io import remote
from skyscan.io.reader import ImageReader, ReadOptions, open_image
from skyscan.io.sources import expand_inputs, unique_image_ids
from skyscan.types import ChipWindow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RangeServer, Path]]:
    root = tmp_path_factory.mktemp("www")
    rng = np.random.default_rng(1)
    data = rng.integers(0, 255, (3, 1024, 1024)).astype("uint8")
    write_geotiff(
        root / "cog.tif",
        1024,
        1024,
        data=data,
        driver="COG",
        compress="deflate",
        blocksize=256,
        crs="EPSG:2056",
        transform=lv95_transform(),
    )
    write_geotiff(root / "strips.tif", 2048, 64, crs="EPSG:2056", transform=lv95_transform())
    for name in ("a404", "a403", "a500", "cut", "short", "fresh", "slow"):
        (root / f"{name}.tif").write_bytes((root / "cog.tif").read_bytes())
    # a plain TIFF with a world file and a .prj beside it, no tags
    write_geotiff(root / "world.tif", 256, 256, crs=None)
    (root / "world.tfw").write_text("0.5\n0\n0\n-0.5\n2683000.25\n1248000.0\n")
    (root / "world.prj").write_text(rasterio.crs.CRS.from_epsg(2056).to_wkt())
    # a plain PNG with an FGDC XML sidecar (bounds in degrees), and one with a hostile one
    write_plain_png(root / "fgdc.png", 40, 30)
    write_fgdc_xml(root / "fgdc.xml", 8.50, 47.30, 8.51, 47.31)
    write_plain_png(root / "hostile.png", 40, 30)
    (root / "hostile.xml").write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<m>&x;</m>\n'
    )
    # a PNG georeferenced by GDAL's .aux.xml beside it
    with rasterio.Env(GDAL_PAM_ENABLED="YES"):
        write_geotiff(
            root / "aux.png", 64, 48, driver="PNG", crs="EPSG:2056", transform=lv95_transform()
        )
    assert (root / "aux.png.aux.xml").exists()
    with RangeServer(root) as srv:
        yield srv, root


def test_paths_urls_and_redaction() -> None:
    assert remote.gdal_path("s3://b/k/a.tif") == "/vsis3/b/k/a.tif"
    assert remote.gdal_path("http://h/a.tif") == "/vsicurl/http://h/a.tif"
    assert remote.gdal_path("/vsis3/b/a.tif") == "/vsis3/b/a.tif"
    text = "https://user:pw@h/a.tif?X-Amz-Signature=SECRET failed; b.tif?sig=2, band 1"
    out = remote.redact(text)
    assert "SECRET" not in out and "pw" not in out and "sig=2" not in out
    assert out.startswith("https://h/a.tif?<redacted>")


def test_secret_environment_values_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret-value")
    assert "very-secret" not in remote.redact("signed with very-secret-value")


def test_remote_inputs_pass_through_unlisted_and_get_ids() -> None:
    urls = ["https://h/x/scene.tif?sig=1", "s3://b/y/scene.tif", "https://h/x/scene.tfw"]
    paths, failures = expand_inputs(urls)
    assert not failures
    assert sorted(paths) == sorted(urls[:2])  # the world file is a sidecar, not an image
    ids = unique_image_ids(paths)
    assert len(set(ids.values())) == 2 and all("sig" not in v for v in ids.values())


def test_cog_opens_and_reads_in_windows_with_range_requests(
    served: tuple[RangeServer, Path],
) -> None:
    srv, root = served
    srv.reset()
    ref = open_image(srv.url("cog.tif"))
    assert (ref.width, ref.height, ref.crs, ref.georef_source) == (
        1024,
        1024,
        "EPSG:2056",
        "geotiff",
    )
    opened = srv.stats()
    assert opened["bytes_sent"] <= 64 * 1024  # the header only
    # the XML sidecars are probed by name; nothing else (no listing, no ~40 GDAL probes)
    assert opened["requests"] <= 6, opened["paths"]
    srv.reset()
    with ImageReader(ref) as reader:
        chip = reader.read_chip(ChipWindow(300, 300, 200, 200, 200, 200), resampling="nearest")
    stats = srv.stats()
    with rasterio.open(root / "cog.tif") as ds:
        expected = ds.read(window=rasterio.windows.Window(300, 300, 200, 200))
        tile = max(ds.block_size(1, 1, 1), 1)
    assert np.array_equal(chip.transpose(2, 0, 1), expected)
    # the window touches tiles (1, 1) and (1, 2)... of 256 px: at most 4 tiles' bytes
    assert stats["bytes_sent"] <= 4 * tile * 1.05 + 16384, stats


def test_world_file_and_prj_are_probed_by_name(served: tuple[RangeServer, Path]) -> None:
    srv, _ = served
    ref = open_image(srv.url("world.tif"))
    assert ref.georef_source == "worldfile" and ref.crs == "EPSG:2056"
    assert ref.transform is not None and ref.transform[2] == pytest.approx(2683000.0)


def test_aux_xml_beside_a_remote_image_is_found_by_name(served: tuple[RangeServer, Path]) -> None:
    srv, _ = served
    ref = open_image(srv.url("aux.png"))
    assert ref.georef_source == "aux.xml" and ref.crs == "EPSG:2056"


def test_xml_sidecars_beside_remote_images_are_read_safely(
    served: tuple[RangeServer, Path],
) -> None:
    srv, _ = served
    ref = open_image(srv.url("fgdc.png"))
    assert ref.georef_source == "sidecar" and ref.crs == "EPSG:4326"
    with pytest.raises(MetadataError, match="hostile"):
        open_image(srv.url("hostile.png"))


def test_untiled_remote_tiff_warns_about_the_cost(
    served: tuple[RangeServer, Path], caplog: pytest.LogCaptureFixture
) -> None:
    srv, _ = served
    with caplog.at_level(logging.WARNING, logger="skyscan"):
        open_image(srv.url("strips.tif"))
    assert any("not tiled" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("name", "fault", "words", "transient"),
    [
        ("a404", Fault(status=404), "not found (HTTP 404)", False),
        ("a403", Fault(status=403), "access denied (HTTP 403)", False),
        ("a500", Fault(status=500), "server error (HTTP 500)", True),
    ],
)
def test_http_errors_on_open_are_clear_and_redacted(
    served: tuple[RangeServer, Path],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    fault: Fault,
    words: str,
    transient: bool,
) -> None:
    srv, _ = served
    monkeypatch.setenv("GDAL_HTTP_RETRY_DELAY", "0.05")
    srv.fault(f"{name}.tif", fault)
    with pytest.raises(RemoteReadError) as info:
        open_image(srv.url(f"{name}.tif?X-Amz-Signature=SECRET"))
    assert words in str(info.value) and "SECRET" not in str(info.value)
    assert info.value.transient is transient
    assert isinstance(info.value, ImageReadError) and isinstance(info.value, OSError)


def test_retries_with_backoff_get_past_passing_server_errors(
    served: tuple[RangeServer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    srv, _ = served
    monkeypatch.setenv("GDAL_HTTP_RETRY_DELAY", "0.05")
    srv.fault("cog.tif", Fault(status=503, fail_first=2))
    try:
        # a fresh URL (GDAL caches what it learnt of a URL for the process)
        assert open_image(srv.url("cog.tif?attempt=retry")).width == 1024
    finally:
        srv.fault("cog.tif", None)


@pytest.mark.parametrize(
    "name, fault", [("cut", Fault(disconnect_after=20_000)), ("short", Fault(truncate_to=200_000))]
)
def test_a_server_dying_mid_read_or_a_truncated_file_fails_the_read(
    served: tuple[RangeServer, Path], monkeypatch: pytest.MonkeyPatch, name: str, fault: Fault
) -> None:
    srv, _ = served
    monkeypatch.setenv("GDAL_HTTP_RETRY_DELAY", "0.05")
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "1")
    ref = open_image(srv.url(f"{name}.tif"))  # the header is intact
    srv.fault(f"{name}.tif", fault)
    try:
        with pytest.raises(RemoteReadError) as info, ImageReader(ref) as reader:
            reader.read_chips([ChipWindow(768, 768, 256, 256, 256, 256)])
        assert info.value.transient
    finally:
        srv.fault(f"{name}.tif", None)


def test_sidecars_probe_by_name_without_listing(served: tuple[RangeServer, Path]) -> None:
    srv, _ = served
    srv.reset()
    open_image(srv.url("fresh.tif"), ReadOptions())  # a name GDAL has not cached yet
    paths = srv.stats()["paths"]
    assert all(not p.endswith("/") for p in paths)  # never a directory
    assert any(p.endswith(".xml") for p in paths)  # XML sidecars asked for by name


def test_read_ahead_fetches_the_next_tiles_so_the_read_waits_for_nothing(
    served: tuple[RangeServer, Path],
) -> None:
    srv, root = served
    ref = open_image(srv.url("fresh.tif"))
    window = ChipWindow(512, 512, 300, 300, 300, 300)
    with ImageReader(ref) as reader:
        srv.reset()
        reader.prefetch([window])
        reader._prefetcher._pool.submit(lambda: None).result()  # type: ignore[union-attr]
        fetched = srv.stats()
        srv.reset()
        chip = reader.read_chips([window], resampling="nearest")[0]
        assert srv.stats()["requests"] == 0, (fetched, srv.stats())  # every byte was there already
        reader.prefetch([window])  # tiles fetched once are not fetched again
        reader._prefetcher._pool.submit(lambda: None).result()  # type: ignore[union-attr]
        assert srv.stats()["requests"] == 0
    assert fetched["requests"] >= 1
    with rasterio.open(root / "fresh.tif") as ds:
        expected = ds.read(window=rasterio.windows.Window(512, 512, 300, 300))
    assert np.array_equal(chip.transpose(2, 0, 1), expected)


def test_a_server_slower_than_the_timeout_is_a_transient_error(
    served: tuple[RangeServer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    srv, _ = served
    monkeypatch.setenv("GDAL_HTTP_TIMEOUT", "1")
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "0")
    srv.fault("slow.tif", Fault(latency=3.0))
    try:
        with pytest.raises(RemoteReadError) as info:
            open_image(srv.url("slow.tif"))
    finally:
        srv.fault("slow.tif", None)
    assert info.value.transient, str(info.value)


def test_a_connection_cut_inside_the_header_is_transient_never_a_lost_georeference(
    served: tuple[RangeServer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """GDAL takes a cut inside a GeoTIFF's header for its end: the open failed as "not
    recognized" or lost the CRS or transform tags, a lasting error (or an image read in
    pixel space) for a file that is fine (found by the fault harness's remote kind)."""
    srv, root = served
    monkeypatch.setenv("GDAL_HTTP_RETRY_DELAY", "0.05")
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "1")
    small = root / "header_cut.tif"
    write_geotiff(small, 192, 160, crs="EPSG:2056", transform=lv95_transform(), compress="deflate")
    whole = open_image(str(small))
    outcomes = set()
    for cut in range(0, min(small.stat().st_size, 1200), 41):
        srv.fault(small.name, Fault(disconnect_after=cut))
        try:  # a fresh URL each time: GDAL caches what it learnt of one for the process
            ref = open_image(srv.url(f"{small.name}?cut={cut}"))
        except RemoteReadError as exc:
            assert exc.transient, (cut, str(exc))
            outcomes.add("transient")
        else:
            assert (ref.crs, ref.transform) == (whole.crs, whole.transform), cut
            outcomes.add("whole")
        finally:
            srv.fault(small.name, None)
    assert "transient" in outcomes
