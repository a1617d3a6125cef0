"""The Python API: the same runs as the CLI, returning tables instead of exit codes.

:func:`detect` takes one keyword argument per option declared in :mod:`skyscan.options`
(``tests/test_options.py`` checks that they agree), so ``help(skyscan.detect)`` lists
every option with its type and default.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from skyscan.options import DetectSettings, RunSettings, StacSettings

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

__all__ = ["detect", "detect_table"]


def detect(
    inputs: str | Path | Sequence[str | Path],
    outdir: str | Path | None = None,
    *,
    model: str = "vehicles",
    gsd: float | None = None,
    crs: str | None = None,
    require_georef: bool = False,
    overlap: float | None = None,
    chip_size: int | None = None,
    edge_pad: int | None = None,
    border_band: int | None = None,
    batch_size: int | None = None,
    score_threshold: float | None = None,
    tta: int = 1,
    class_aware_merge: bool = False,
    strict_range: bool = False,
    metadata_table: str | None = None,
    xml_mapping: str | None = None,
    aoi: str | None = None,
    engine: str = "local",
    master: str | None = None,
    recursive: bool = True,
    mosaic: bool = False,
    sample_ratio: float | None = None,
    seed: int = 0,
    overwrite: bool = False,
    resume: bool = False,
    geojson: bool = True,
    stac: tuple[str, ...] = (),
    collections: tuple[str, ...] = (),
    bbox: tuple[float, float, float, float] | None = None,
    datetime: str | None = None,
    stac_asset: str | None = None,
    stac_properties: tuple[str, ...] = (),
    stac_max_items: int | None = None,
) -> gpd.GeoDataFrame:
    """Detect objects in images and return the detections as a GeoDataFrame (EPSG:4326).

    ``inputs`` are files, directories or globs; ``stac`` adds the items of STAC sources
    (API URLs, catalogs, collections, items, stac-geoparquet files), and ``inputs`` may
    then be empty. With ``outdir`` the run also writes its outputs there, as ``skyscan
    detect -o OUTDIR`` (``geojson``: also ``detections.geojson``); without, a temporary
    folder is used. The other arguments are the options of ``skyscan detect`` (see
    :class:`skyscan.options.DetectSettings`, :class:`skyscan.options.RunSettings` and
    :class:`skyscan.options.StacSettings`): e.g. ``class_aware_merge`` keeps overlapping
    boxes of different classes apart, ``strict_range`` refuses images outside the model's
    validated range, ``aoi`` is a vector file or WKT, ``mosaic`` detects the images as one
    seamless mosaic (its VRT is kept in ``outdir`` only). Rows of images without
    georeferencing have no geometry (``georeferenced`` is false). Inputs that failed are in
    ``result.attrs["errors"]`` (a list of dicts), the run's manifest in
    ``result.attrs["run"]``.
    """
    values = locals()
    run = RunSettings.pick(values)
    if outdir is None and run.geojson:
        run = RunSettings.pick({**values, "geojson": False})  # nobody reads a temporary GeoJSON
    return detect_table(inputs, DetectSettings.pick(values), run, outdir, StacSettings.pick(values))


def detect_table(
    inputs: str | Path | Sequence[str | Path],
    settings: DetectSettings | None = None,
    run: RunSettings | None = None,
    outdir: str | Path | None = None,
    stac: StacSettings | None = None,
) -> gpd.GeoDataFrame:
    """:func:`detect` with its options as objects (what ``skyscan evaluate`` and
    ``skyscan render`` call)."""
    import geopandas as gpd
    import pyarrow.parquet as pq

    from skyscan.run import run_detect

    if isinstance(inputs, str | Path):
        inputs = [inputs]
    options = (settings or DetectSettings()).detect_options()
    queries = stac.queries() if stac is not None else ()
    with tempfile.TemporaryDirectory(prefix="skyscan-") as tmp:
        target = Path(outdir) if outdir is not None else Path(tmp) / "run"
        result = run_detect(list(inputs), target, options, run, stac=queries)
        gdf = gpd.read_parquet(target / "detections.parquet")
        errors = pq.read_table(target / "errors.parquet").to_pylist()
    # attrs hold plain Python objects: pandas copies attrs on every operation.
    gdf.attrs["errors"] = errors
    gdf.attrs["run"] = result.manifest
    return gdf
