"""STAC inputs: the images of a STAC API search, a static catalog, collection or item, or
a stac-geoparquet file.

A :class:`StacQuery` resolves to one :class:`StacImage` per item: the href of the item's
chosen asset (by key or media type; by default the first GeoTIFF, ``visual`` or
``image`` first), an image id (the item's id) and the attributes that travel into every
detection row as ``meta_*`` columns: ``stac_item``, ``stac_collection``, ``stac_asset``,
``datetime``, ``capture_date`` (the datetime's UTC day) and the properties asked for.
Items whose bbox or geometry misses the area of interest or ``bbox`` are skipped before
any image is opened. A document that cannot be read, an item without the asset or with a
broken link becomes an :class:`~skyscan.io.sources.InputFailure` naming the item; the
rest goes on.

Static documents are read from local paths, over HTTP(S), or for ``s3://`` and
``/vsi*/`` paths through GDAL (:mod:`skyscan.io.remote`: the images' credentials and
retries); items are parsed and their hrefs resolved with pystac. A STAC API is searched
with pystac-client.

Its parts: :mod:`~skyscan.io.stac.query` (what a query asks for),
:mod:`~skyscan.io.stac.documents` (reading STAC JSON), :mod:`~skyscan.io.stac.items` (the
items of a query, filtered unopened), :mod:`~skyscan.io.stac.assets` (the asset to read
and its declared grid), :mod:`~skyscan.io.stac.images` (items into images) and
:mod:`~skyscan.io.stac.run_inputs` (images into a run).
"""

from skyscan.io.stac.assets import RasterGrid, choose_asset, raster_grid
from skyscan.io.stac.documents import read_json
from skyscan.io.stac.images import StacImage, StacInputs, resolve
from skyscan.io.stac.query import StacError, StacQuery, digest
from skyscan.io.stac.run_inputs import TABLE_NAME, Gathered, gather, write_table

__all__ = [
    "TABLE_NAME",
    "Gathered",
    "RasterGrid",
    "StacError",
    "StacImage",
    "StacInputs",
    "StacQuery",
    "choose_asset",
    "digest",
    "gather",
    "raster_grid",
    "read_json",
    "resolve",
    "write_table",
]
