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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import shapely

from skyscan.errors import InputError, require
from skyscan.geo.crs import gsd_metres, normalize_crs
from skyscan.io import remote
from skyscan.io.georef import check_gsd
from skyscan.io.sources import InputFailure, sample_key
from skyscan.types import AffineTuple, ImageRef, JsonObject

if TYPE_CHECKING:
    import pystac

    from skyscan.geo.aoi import AreaOfInterest

log = logging.getLogger(__name__)

# a GeoTIFF or COG asset; 'image/tiff; application=geotiff; profile=cloud-optimized'
GEOTIFF_MEDIA_TYPES = ("image/tiff", "image/geotiff", "image/vnd.stac.geotiff")
PREFERRED_ASSETS = ("visual", "image")  # RGB products name their picture so
GEOPARQUET_SUFFIXES = (".parquet", ".geoparquet", ".pq")
ITEM_SEARCH = "https://api.stacspec.org/v1.0.0/item-search"
# a static walk follows child/item links at most this deep (a loop of links would not end)
MAX_DEPTH = 32
TABLE_NAME = "stac_items.parquet"
GEOPARQUET_BATCH = 4096  # items decoded at a time from a stac-geoparquet file
HTTP_TIMEOUT_S = 60


class StacError(InputError):
    """A STAC document or item skyscan cannot use (unreadable, invalid, no usable asset)."""


@dataclass(frozen=True)
class StacQuery:
    """Where the items come from and which of them, which asset, which properties.

    ``source``: a STAC API's landing page, a catalog/collection/item JSON (path or URL)
    or a stac-geoparquet file. ``collections``, ``bbox`` (lon/lat) and ``datetime``
    (RFC 3339 instant or ``start/end`` interval, ``..`` open) filter the items: a STAC
    API filters them itself, a static source here. ``asset``: an asset key or media type.
    ``properties``: item properties copied into every detection row.
    """

    source: str
    collections: tuple[str, ...] = ()
    bbox: tuple[float, float, float, float] | None = None
    datetime: str | None = None
    asset: str | None = None
    properties: tuple[str, ...] = ()
    max_items: int | None = None

    def __post_init__(self) -> None:
        if not self.source:
            raise InputError(
                "'stac' needs a source (an API URL, a catalog/collection/item or a stac-geoparquet file)"
            )
        object.__setattr__(self, "collections", tuple(self.collections))
        object.__setattr__(self, "properties", tuple(self.properties))
        if self.bbox is not None:
            bbox = tuple(float(v) for v in self.bbox)
            if len(bbox) != 4 or not (bbox[0] <= bbox[2] and bbox[1] <= bbox[3]):
                raise InputError(f"'bbox' must be minlon,minlat,maxlon,maxlat (got {self.bbox!r})")
            object.__setattr__(self, "bbox", bbox)
        if self.datetime is not None:
            _interval(self.datetime)  # refuse a bad value before anything is read
        if self.max_items is not None and self.max_items < 1:
            raise InputError(f"'max_items' must be >= 1 (got {self.max_items})")

    def to_dict(self) -> JsonObject:
        out = asdict(self)
        out["source"] = remote.display_path(self.source)
        return out


@dataclass(frozen=True)
class RasterGrid:
    """An asset's pixel grid as its item declares it (the projection extension's
    ``proj:shape``, ``proj:transform`` and CRS, ``file:size``): enough to plan its chips
    without opening it, which is what makes planning a country's catalog fast."""

    width: int
    height: int
    crs: str
    transform: AffineTuple
    gsd: float  # metres per pixel at the centre (skyscan.geo.crs.gsd_metres)
    bands: int  # from raster:bands / eo:bands; 3 when the item does not say
    file_size: int | None

    def image_ref(self, path: str, image_id: str) -> ImageRef:
        """The image as ``skyscan plan`` sees it (uint8 assumed: only the grid matters)."""
        return ImageRef(
            image_id=image_id,
            path=path,
            width=self.width,
            height=self.height,
            count=self.bands,
            dtype="uint8",
            crs=self.crs,
            transform=self.transform,
            gsd=self.gsd,
            georef_source="stac",
            rgb_bands=(1, 1, 1) if self.bands < 3 else (1, 2, 3),
        )


@dataclass(frozen=True)
class StacImage:
    """One item's chosen asset: what the engines read, and what its rows carry."""

    href: str
    image_id: str
    attributes: dict[str, str | None] = field(hash=False, compare=False)
    grid: RasterGrid | None = field(default=None, hash=False, compare=False)


@dataclass
class StacInputs:
    """The images of some queries, the items that failed, the items skipped unopened."""

    images: list[StacImage] = field(default_factory=list)
    failures: list[InputFailure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # item ids outside the area / bbox

    def record(self, queries: Sequence[StacQuery]) -> JsonObject:
        """What run.json says about the STAC inputs."""
        return {
            "queries": [q.to_dict() for q in queries],
            "items": len(self.images),
            "items_failed": len(self.failures),
            "items_skipped": self.skipped,
        }


# ------------------------------------------------------------------ resolving


def resolve(queries: Sequence[StacQuery], area: shapely.Geometry | None = None) -> StacInputs:
    """Every query's items as images (``area``: lon/lat geometry the items must touch).

    Ids are the items' ids; an id two items share becomes ``collection/id``; an href
    two queries both find is kept once.
    """
    out = StacInputs()
    found: list[tuple[StacImage, str]] = []  # (image, collection)
    for query in queries:
        for item in _items(query, out.failures, area):
            image = _image(item, query, out)
            if image is not None:
                found.append((image, image.attributes.get("stac_collection") or ""))
    seen: set[str] = set()
    counts: dict[str, int] = {}
    for image, _ in found:
        counts[image.image_id] = counts.get(image.image_id, 0) + 1
    for image, collection in found:
        if image.href in seen:
            continue
        seen.add(image.href)
        if counts[image.image_id] > 1 and collection:
            image = StacImage(image.href, f"{collection}/{image.image_id}", image.attributes)
        out.images.append(image)
    return out


def _items(
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
    interval = _interval(query.datetime) if query.datetime else None
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
            item["_href"] = _self_href(item) or f"{query.source}#{item.get('id')}"
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
                feature["_href"] = _self_href(feature) or f"{href}#{feature.get('id')}"
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
        target = _absolute(make_absolute_href(link["href"], _base(href), start_is_dir=False))
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
            item["_href"] = _self_href(item) or f"{source}#{item.get('id')}"
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


def _image(item: JsonObject, query: StacQuery, out: StacInputs) -> StacImage | None:
    """The image of one item dict, or ``None`` (skipped, or a failure added to ``out``)."""
    if item.get("_skipped"):
        out.skipped.append(str(item.get("id")))
        return None
    href = item.pop("_href")
    try:
        import pystac

        parsed = pystac.Item.from_dict(
            item, href=href if "#" not in href else None, migrate=False, preserve_dict=False
        )
    except Exception as exc:  # pystac raises KeyError/ValueError/STACTypeError on bad items
        out.failures.append(
            InputFailure(
                href,
                "ingest",
                StacError(
                    f"item {item.get('id')!r}: not a valid STAC item: {type(exc).__name__}: {exc}"
                ),
            )
        )
        return None
    try:
        key, asset = choose_asset(parsed, query.asset)
    except StacError as exc:
        out.failures.append(InputFailure(href, "ingest", exc))
        return None
    asset_href = asset.get_absolute_href() or asset.href
    if not remote.is_remote(asset_href) and not os.path.isabs(_absolute(asset_href)):
        out.failures.append(
            InputFailure(
                href,
                "ingest",
                StacError(
                    f"item {parsed.id!r}: asset {key!r} has a relative href {asset.href!r} and the item "
                    "has no location to resolve it against"
                ),
            )
        )
        return None
    when = parsed.datetime or parsed.common_metadata.start_datetime
    attrs: dict[str, str | None] = {
        "stac_item": parsed.id,
        "stac_collection": parsed.collection_id,
        "stac_asset": key,
        "datetime": _iso(when),
        "capture_date": when.astimezone(dt.UTC).date().isoformat() if when else None,
    }
    for name in query.properties:
        value = parsed.properties.get(name)
        attrs[name] = (
            None if value is None else value if isinstance(value, str) else json.dumps(value)
        )
    return StacImage(_absolute(asset_href), parsed.id, attrs, raster_grid(parsed, asset))


def raster_grid(item: pystac.Item, asset: pystac.Asset) -> RasterGrid | None:
    """The asset's grid from the projection extension (asset fields over item
    properties), or ``None`` when the item does not declare all of it or declares it
    wrongly (the image's own header is then read)."""

    def field_(name: str) -> Any:
        value = asset.extra_fields.get(name)
        return item.properties.get(name) if value is None else value

    shape, transform = field_("proj:shape"), field_("proj:transform")
    crs = (
        field_("proj:code") or field_("proj:epsg") or field_("proj:wkt2") or field_("proj:projjson")
    )
    if not (shape and transform and crs):
        return None
    try:
        height, width = (int(v) for v in shape)
        if width <= 0 or height <= 0:
            raise ValueError(f"proj:shape {shape} is not a size")
        if isinstance(crs, int):
            crs = f"EPSG:{crs}"
        affine: AffineTuple = tuple(float(v) for v in transform[:6])  # type: ignore[assignment]
        bands = field_("raster:bands") or field_("eo:bands") or field_("bands")
        crs = normalize_crs(crs, source=f"item {item.id!r}")
        grid = RasterGrid(
            width=width,
            height=height,
            crs=crs,
            transform=affine,
            gsd=check_gsd(gsd_metres(affine, crs, width, height), source=f"item {item.id!r}"),
            bands=len(bands) if isinstance(bands, list) and bands else 3,
            file_size=int(asset.extra_fields["file:size"])
            if "file:size" in asset.extra_fields
            else None,
        )
    except Exception as exc:  # malformed metadata: fall back on the image's header
        log.debug("item %r: projection metadata not used: %s", item.id, exc)
        return None
    return grid


def choose_asset(item: pystac.Item, wanted: str | None) -> tuple[str, pystac.Asset]:
    """The asset to read: ``wanted`` as a key, else as a media type; by default
    ``visual`` or ``image`` when GeoTIFF, else the first GeoTIFF asset (by media type,
    else by a ``.tif``/``.tiff`` href). :class:`StacError` naming the item when none fits."""
    assets = item.assets
    if wanted:
        if wanted in assets:
            return wanted, assets[wanted]
        for key, asset in assets.items():
            if (
                asset.media_type
                and _media(asset.media_type) == _media(wanted)
                and (
                    ";" not in wanted
                    or asset.media_type.replace(" ", "") == wanted.replace(" ", "")
                )
            ):
                return key, asset
        raise StacError(
            f"item {item.id!r}: no asset {wanted!r} by key or media type "
            f"(assets: {_describe(assets)})"
        )
    for key in PREFERRED_ASSETS:
        if key in assets and _is_geotiff(assets[key]):
            return key, assets[key]
    for key, asset in assets.items():
        if asset.media_type and _media(asset.media_type) in GEOTIFF_MEDIA_TYPES:
            return key, asset
    for key, asset in assets.items():
        if not asset.media_type and remote.name_of(asset.href).lower().endswith((".tif", ".tiff")):
            return key, asset
    raise StacError(
        f"item {item.id!r}: no GeoTIFF asset (assets: {_describe(assets)}); "
        "choose one with --stac-asset NAME|MEDIA_TYPE"
    )


def _is_geotiff(asset: pystac.Asset) -> bool:
    if asset.media_type:
        return _media(asset.media_type) in GEOTIFF_MEDIA_TYPES
    return bool(remote.name_of(asset.href).lower().endswith((".tif", ".tiff")))


def _media(media_type: str) -> str:
    return media_type.split(";", 1)[0].strip().lower()


def _describe(assets: JsonObject) -> str:
    return (
        ", ".join(f"{k} ({a.media_type or 'no media type'})" for k, a in assets.items()) or "none"
    )


# ------------------------------------------------------------------ filters


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


def _interval(text: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``start/end`` (``..`` or empty: open) or one instant, as aware datetimes.

    >>> _interval("2024-05-01/..")[1] is None
    True
    """
    from pystac.utils import str_to_datetime

    parts = text.split("/")
    if len(parts) > 2:
        raise InputError(f"'datetime' must be an instant or start/end (got {text!r})")
    try:
        ends = [None if p in ("", "..") else str_to_datetime(_day_start(p)) for p in parts]
    except ValueError as exc:
        raise InputError(f"'datetime' {text!r}: {exc}") from exc
    if len(ends) == 1:
        if len(parts[0]) == 10 and ends[0] is not None:  # a whole day
            return ends[0], ends[0] + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
        return ends[0], ends[0]
    return _aware(ends[0]), _aware(ends[1])


def _day_start(text: str) -> str:
    return text + "T00:00:00Z" if len(text) == 10 else text


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def _in_interval(item: JsonObject, interval: tuple[dt.datetime | None, dt.datetime | None]) -> bool:
    from pystac.utils import str_to_datetime

    props = item.get("properties") or {}
    try:
        start = props.get("start_datetime") or props.get("datetime")
        end = props.get("end_datetime") or props.get("datetime")
        if not start or not end:
            return False
        first, last = _aware(str_to_datetime(start)), _aware(str_to_datetime(end))
    except ValueError:
        return False
    lo, hi = interval
    assert first is not None and last is not None
    return (hi is None or first <= hi) and (lo is None or last >= lo)


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


# ------------------------------------------------------------------ reading documents


def read_json(href: str) -> JsonObject:
    """A STAC JSON document from a local path, an HTTP(S) URL or an ``s3://``/``/vsi*/``
    path (through GDAL, with its credentials)."""
    try:
        if href[:4].lower() == "http":
            data = _http_get(href)
        elif remote.is_remote(href):
            data = remote.read_bytes(href)
        else:
            data = Path(href).read_bytes()
    except Exception as exc:  # ImageReadError, OSError
        raise StacError(
            f"{remote.display_path(href)}: cannot read: {remote.redact(str(exc))}"
        ) from exc
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise StacError(f"{remote.display_path(href)}: not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise StacError(
            f"{remote.display_path(href)}: not a STAC object (a JSON {type(doc).__name__})"
        )
    return doc


def _http_get(url: str) -> bytes:
    """An HTTP(S) document (an API's landing page has a path GDAL would take for a folder)."""
    import urllib.request

    request = urllib.request.Request(
        url, headers={"Accept": "application/json, application/geo+json"}
    )
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
        return bytes(response.read(remote.MAX_SIDECAR_READ + 1))[: remote.MAX_SIDECAR_READ]


def _self_href(item: JsonObject) -> str | None:
    for link in item.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "self" and link.get("href"):
            return str(link["href"])
    return None


def _base(href: str) -> str:
    return href if remote.is_remote(href) else os.path.abspath(href)


def _absolute(href: str) -> str:
    """``file://`` hrefs as plain paths (GDAL and the sources take paths)."""
    return href[7:] if href.startswith("file://") else href


# ------------------------------------------------------------------ into a run


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


def digest(queries: Sequence[StacQuery]) -> str:
    """A fingerprint of the queries, for resuming a run with the same ones only."""
    return hashlib.sha256(repr([asdict(q) for q in queries]).encode()).hexdigest()[:16]
