"""The Python API: the same runs as the CLI, returning tables instead of exit codes."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from skyscan.detectors import DetectorRecipe
from skyscan.pipeline import DetectOptions


def detect(
    inputs: str | Path | Sequence[str | Path],
    outdir: str | Path | None = None,
    *,
    model: str = "vehicles",
    gsd: float | None = None,
    crs: str | None = None,
    require_georef: bool = False,
    overlap: float = 0.2,
    chip_size: int | None = None,
    edge_pad: int | None = None,
    batch_size: int | None = None,
    score_threshold: float | None = None,
    class_aware_merge: bool = False,
    strict_range: bool = False,
    recursive: bool = True,
    sample_ratio: float | None = None,
    seed: int = 0,
    overwrite: bool = False,
    resume: bool = False,
    engine: str = "local",
    master: str | None = None,
    metadata_table: str | None = None,
) -> Any:
    """Detect objects in images and return the detections as a GeoDataFrame (EPSG:4326).

    ``inputs`` are files, directories or globs. With ``outdir`` the run also writes its
    outputs there (see :func:`skyscan.run.run_detect`); without, a temporary folder is
    used. ``class_aware_merge`` keeps overlapping boxes of different classes apart;
    ``strict_range`` refuses images outside the model's validated range. Rows of images without georeferencing have no geometry (``georeferenced`` is
    false). Inputs that failed are in ``result.attrs["errors"]`` (a list of dicts).
    """
    import geopandas as gpd
    import pyarrow.parquet as pq

    from skyscan.io.reader import ReadOptions
    from skyscan.run import run_detect

    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    options = DetectOptions(
        recipe=DetectorRecipe(model=model, score_threshold=score_threshold),
        read=ReadOptions(crs=crs, gsd=gsd, require_georef=require_georef, metadata_table=metadata_table),
        overlap=overlap,
        chip_size=chip_size,
        edge_pad=edge_pad,
        batch_size=batch_size,
        class_aware_merge=class_aware_merge,
        strict_range=strict_range,
    )
    with tempfile.TemporaryDirectory(prefix="skyscan-") as tmp:
        target = Path(outdir) if outdir is not None else Path(tmp) / "run"
        result = run_detect(
            list(inputs), target, options, recursive=recursive, sample_ratio=sample_ratio, seed=seed,
            overwrite=overwrite, resume=resume, engine=engine, master=master, geojson=outdir is not None,
        )
        gdf = gpd.read_parquet(target / "detections.parquet")
        errors = pq.read_table(target / "errors.parquet").to_pylist()
    # attrs hold plain Python objects: pandas copies attrs on every operation.
    gdf.attrs["errors"] = errors
    gdf.attrs["run"] = result.manifest
    return gdf


def inspect(paths: str | Path | Sequence[str | Path], **kwargs: Any) -> Any:
    """Describe images without reading their pixels (see :mod:`skyscan.api_inspect`)."""
    from skyscan.api_inspect import inspect as _inspect

    if isinstance(paths, (str, Path)):
        paths = [paths]
    return _inspect(list(paths), **kwargs)
