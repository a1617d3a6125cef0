"""What a STAC query asks for: the source, which items (collections, bbox, datetime), which
asset and properties; the datetime rules shared with the item filters."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from skyscan.errors import InputError
from skyscan.io import remote
from skyscan.types import JsonObject


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
            parse_interval(self.datetime)  # refuse a bad value before anything is read
        if self.max_items is not None and self.max_items < 1:
            raise InputError(f"'max_items' must be >= 1 (got {self.max_items})")

    def to_dict(self) -> JsonObject:
        out = asdict(self)
        out["source"] = remote.display_path(self.source)
        return out


def digest(queries: Sequence[StacQuery]) -> str:
    """A fingerprint of the queries, for resuming a run with the same ones only."""
    return hashlib.sha256(repr([asdict(q) for q in queries]).encode()).hexdigest()[:16]


def parse_interval(text: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``start/end`` (``..`` or empty: open) or one instant, as aware datetimes.

    >>> parse_interval("2024-05-01/..")[1] is None
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
    return aware(ends[0]), aware(ends[1])


def _day_start(text: str) -> str:
    return text + "T00:00:00Z" if len(text) == 10 else text


def aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def iso_utc(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
