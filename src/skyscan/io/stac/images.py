"""Queries into images: one per item, its chosen asset's href, id and attributes."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import shapely

from skyscan.io import remote
from skyscan.io.sources import InputFailure
from skyscan.io.stac.assets import RasterGrid, choose_asset, raster_grid
from skyscan.io.stac.documents import absolute_href
from skyscan.io.stac.items import query_items
from skyscan.io.stac.query import StacError, StacQuery, iso_utc
from skyscan.types import JsonObject


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


def resolve(queries: Sequence[StacQuery], area: shapely.Geometry | None = None) -> StacInputs:
    """Every query's items as images (``area``: lon/lat geometry the items must touch).

    Ids are the items' ids; an id two items share becomes ``collection/id``; an href
    two queries both find is kept once.
    """
    out = StacInputs()
    found: list[tuple[StacImage, str]] = []  # (image, collection)
    for query in queries:
        for item in query_items(query, out.failures, area):
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
    if not remote.is_remote(asset_href) and not os.path.isabs(absolute_href(asset_href)):
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
        "datetime": iso_utc(when),
        "capture_date": when.astimezone(dt.UTC).date().isoformat() if when else None,
    }
    for name in query.properties:
        value = parsed.properties.get(name)
        attrs[name] = (
            None if value is None else value if isinstance(value, str) else json.dumps(value)
        )
    return StacImage(absolute_href(asset_href), parsed.id, attrs, raster_grid(parsed, asset))
