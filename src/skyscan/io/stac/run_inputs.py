"""STAC images into a run: added to the plain inputs, and their attributes written as the
metadata table every engine reads."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import shapely

from skyscan.io.sources import InputFailure, sample_key
from skyscan.io.stac.assets import RasterGrid
from skyscan.io.stac.images import StacInputs, resolve
from skyscan.io.stac.query import StacQuery

if TYPE_CHECKING:
    from skyscan.geo.aoi import AreaOfInterest

TABLE_NAME = "stac_items.parquet"


@dataclass
class Gathered:
    """Plain inputs and STAC images together: what an engine runs over."""

    paths: list[str]
    failures: list[InputFailure]
    image_ids: dict[str, str]
    attributes: dict[str, dict[str, str | None]]  # path -> attributes (STAC images only)
    stac: StacInputs
    grids: dict[str, RasterGrid] = field(default_factory=dict)  # path -> declared grid


def gather(
    paths: list[str],
    failures: list[InputFailure],
    image_ids: dict[str, str],
    queries: Sequence[StacQuery],
    area: AreaOfInterest | None,
    *,
    sample_ratio: float | None = None,
    seed: int = 0,
) -> Gathered:
    """Add the STAC queries' images to expanded plain inputs (``area``: an
    :class:`~skyscan.geo.aoi.AreaOfInterest` or ``None``); the sample applies to them as
    to files (their hrefs hashed)."""
    found = resolve(queries, _lonlat(area))
    images = found.images
    if sample_ratio is not None and sample_ratio < 1.0:
        images = [i for i in images if sample_key(i.href, seed) < sample_ratio]
    ids = dict(image_ids)
    taken = set(ids.values())
    attributes: dict[str, dict[str, str | None]] = {}
    grids: dict[str, RasterGrid] = {}
    for image in images:
        attributes[image.href] = image.attributes
        if image.grid is not None:
            grids[image.href] = image.grid
        if image.href in ids:
            continue  # also named as a plain input: read once, with the item's attributes
        # an item id a file's id already has: told apart by a hash of the href
        image_id = (
            image.image_id
            if image.image_id not in taken
            else f"{image.image_id}@{_short(image.href)}"
        )
        taken.add(image_id)
        ids[image.href] = image_id
    all_paths = sorted(set(paths) | set(attributes))
    return Gathered(all_paths, [*failures, *found.failures], ids, attributes, found, grids)


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _lonlat(area: AreaOfInterest | None) -> shapely.Geometry | None:
    """The area of interest in lon/lat, as STAC geometries are."""
    if area is None:
        return None
    from skyscan.geo.crs import get_transformer

    to_lonlat = get_transformer(area.crs, "EPSG:4326")

    def transform(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.column_stack(to_lonlat.transform(coords[:, 0], coords[:, 1]))

    return shapely.transform(area.geometry, transform)


def write_table(gathered: Gathered, path: Path) -> Path:
    """The STAC images' attributes as a metadata table keyed by ``image_id`` and by the
    asset's ``image_path`` (a mosaic's tiles are found by it), what
    ``ReadOptions.metadata_table`` reads on every engine, executors included."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from skyscan.io.writers import atomic_path

    names = sorted({k for attrs in gathered.attributes.values() for k in attrs})
    rows = [
        (gathered.image_ids[href], attrs) for href, attrs in sorted(gathered.attributes.items())
    ]
    columns = (
        {"image_id": [i for i, _ in rows]}
        | {"image_path": sorted(gathered.attributes)}
        | {n: [a.get(n) for _, a in rows] for n in names}
    )
    table = pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path
