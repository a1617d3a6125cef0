"""The items of one query: an API's item search (pystac-client), a static catalog walked
link by link, a stac-geoparquet file streamed in batches; filtered by collection,
datetime, bbox and the area of interest without opening any image."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

import shapely

from skyscan.errors import require
from skyscan.io import remote
from skyscan.io.sources import InputFailure
from skyscan.io.stac.documents import absolute_href, base_href, read_json, self_href
from skyscan.io.stac.query import StacError, StacQuery, aware, parse_interval
from skyscan.types import JsonObject

GEOPARQUET_SUFFIXES = (".parquet", ".geoparquet", ".pq")
ITEM_SEARCH = "https://api.stacspec.org/v1.0.0/item-search"
# a static walk follows child/item links at most this deep (a loop of links would not end)
MAX_DEPTH = 32
GEOPARQUET_BATCH = 4096  # items decoded at a time from a stac-geoparquet file


def query_items(
    query: StacQuery, failures: list[InputFailure], area: shapely.Geometry | None
) -> Iterator[JsonObject]:
    """The item dicts of one query (each with ``_href``: where it was read), filtered."""
    source = query.source
    if remote.name_of(source).lower().endswith(GEOPARQUET_SUFFIXES):
        items: Iterable[JsonObject] = _geoparquet_items(source, failures)
        filtered = True
    else:
        try:
            doc = read_json(source)
        except StacError as exc:
            failures.append(InputFailure(source, "ingest", exc))
            return
        if doc.get("type") == "Catalog" and ITEM_SEARCH in doc.get("conformsTo", ()):
            items = _search(query, area, failures)
            filtered = False  # the API filtered them
        else:
            items = _walk(source, doc, failures, 0)
            filtered = True
    bounds = shapely.box(*query.bbox) if query.bbox is not None else None
    interval = parse_interval(query.datetime) if query.datetime else None
    n = 0
    for item in items:
        if filtered and query.collections and item.get("collection") not in query.collections:
            continue
        if filtered and interval is not None and not _in_interval(item, interval):
            continue
        if not _touches(item, bounds) or not _touches(item, area):
            yield {"_skipped": True, "id": item.get("id")}
            continue
        yield item
        n += 1
        if query.max_items is not None and n >= query.max_items:
            return


def _search(
    query: StacQuery, area: shapely.Geometry | None, failures: list[InputFailure]
) -> Iterator[JsonObject]:
    """The items of a STAC API item search (pystac-client; pages followed)."""
    require("pystac_client", "stac")
    from pystac_client import Client

    bbox = query.bbox
    if area is not None and bbox is not None:  # the API takes one of bbox and intersects
        area, bbox = shapely.intersection(area, shapely.box(*bbox)), None
    try:
        client = Client.open(query.source)
        search = client.search(
            collections=list(query.collections) or None,
            bbox=bbox,
            datetime=query.datetime,
            intersects=shapely.geometry.mapping(area) if area is not None else None,
            max_items=query.max_items,
        )
        for item in search.items_as_dicts():
            item["_href"] = self_href(item) or f"{query.source}#{item.get('id')}"
            yield item
    except Exception as exc:  # pystac-client raises APIError, requests' errors, JSON errors
        failures.append(
            InputFailure(
                query.source,
                "ingest",
                StacError(
                    f"{remote.redact(query.source)}: STAC API search failed: {type(exc).__name__}: {remote.redact(str(exc))}"
                ),
            )
        )


def _walk(
    href: str, doc: JsonObject, failures: list[InputFailure], depth: int
) -> Iterator[JsonObject]:
    """The items of a static catalog, collection, item or item collection, depth first.

    A child or item that cannot be read is a failure naming it; its siblings go on."""
    kind = doc.get("type")
    if kind == "Feature":
        doc["_href"] = href
        yield doc
        return
    if kind == "FeatureCollection":
        for feature in doc.get("features", []):
            if isinstance(feature, dict):
                feature["_href"] = self_href(feature) or f"{href}#{feature.get('id')}"
                yield feature
        return
    if kind not in ("Catalog", "Collection"):
        failures.append(
            InputFailure(
                href,
                "ingest",
                StacError(
                    f"{remote.display_path(href)}: not a STAC catalog, collection or item (type {kind!r})"
                ),
            )
        )
        return
    if depth >= MAX_DEPTH:
        failures.append(
            InputFailure(
                href,
                "ingest",
                StacError(
                    f"{remote.display_path(href)}: links nested deeper than {MAX_DEPTH} levels (a loop?)"
                ),
            )
        )
        return
    from pystac.utils import make_absolute_href

    for link in doc.get("links", []):
        rel = link.get("rel") if isinstance(link, dict) else None
        if rel not in ("child", "item") or not link.get("href"):
            continue
        target = absolute_href(
            make_absolute_href(link["href"], base_href(href), start_is_dir=False)
        )
        try:
            child = read_json(target)
        except StacError as exc:
            what = "item" if rel == "item" else "child"
            failures.append(
                InputFailure(target, "ingest", StacError(f"{what} of {doc.get('id')!r}: {exc}"))
            )
            continue
        yield from _walk(target, child, failures, depth + 1)


def _geoparquet_items(source: str, failures: list[InputFailure]) -> Iterator[JsonObject]:
    """The items of a stac-geoparquet file (local, or remote through GDAL)."""
    require("stac_geoparquet", "stac")
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    from stac_geoparquet.arrow import stac_table_to_items

    try:
        # streamed batch by batch: a country's catalog is never all in memory as dicts
        parquet = pq.ParquetFile(
            io.BytesIO(remote.read_bytes(source, limit=1 << 30))
            if remote.is_remote(source)
            else source
        )
        batches = parquet.iter_batches(batch_size=GEOPARQUET_BATCH)
        reader = pa.RecordBatchReader.from_batches(parquet.schema_arrow, batches)
        for item in stac_table_to_items(reader):
            item["_href"] = self_href(item) or f"{source}#{item.get('id')}"
            yield item
    except Exception as exc:  # pyarrow and stac-geoparquet raise many types for bad files
        failures.append(
            InputFailure(
                source,
                "ingest",
                StacError(
                    f"{remote.display_path(source)}: not a readable stac-geoparquet file: {type(exc).__name__}: {exc}"
                ),
            )
        )


def _touches(item: JsonObject, area: shapely.Geometry | None) -> bool:
    """Whether the item's geometry (else bbox) touches ``area`` (lon/lat); an item with
    neither is kept: opening it will tell."""
    if area is None:
        return True
    geometry = item.get("geometry")
    try:
        if geometry:
            shape = shapely.geometry.shape(geometry)
        elif item.get("bbox"):
            bbox = item["bbox"]
            shape = shapely.box(
                bbox[0],
                bbox[1],
                bbox[-3] if len(bbox) == 6 else bbox[2],
                bbox[-2] if len(bbox) == 6 else bbox[3],
            )
        else:
            return True
    except Exception:  # a malformed geometry: keep it, the image's own footprint decides
        return True
    return bool(shapely.intersects(area, shape))


def _in_interval(item: JsonObject, interval: tuple[dt.datetime | None, dt.datetime | None]) -> bool:
    from pystac.utils import str_to_datetime

    props = item.get("properties") or {}
    try:
        start = props.get("start_datetime") or props.get("datetime")
        end = props.get("end_datetime") or props.get("datetime")
        if not start or not end:
            return False
        first, last = aware(str_to_datetime(start)), aware(str_to_datetime(end))
    except ValueError:
        return False
    lo, hi = interval
    assert first is not None and last is not None
    return (hi is None or first <= hi) and (lo is None or last >= lo)
