"""The STAC input options (``--stac``, ``--collection``, ``--bbox``, ``--datetime``,
``--stac-asset``, ``--stac-properties``), shared by ``skyscan detect`` and ``skyscan plan``.

:func:`stac_options` declares them and hands the command one ``stac`` argument: the
:class:`~skyscan.io.stac.StacQuery` of each ``--stac`` source (none without).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from skyscan.errors import SkyscanError

_NAMES = (
    "stac_sources",
    "collections",
    "bbox",
    "stac_datetime",
    "stac_asset",
    "stac_properties",
    "stac_max_items",
)


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    parts = value.split(",")
    try:
        numbers = tuple(float(p) for p in parts)
    except ValueError:
        raise click.BadParameter(f"expected minlon,minlat,maxlon,maxlat (got {value!r})") from None
    if len(numbers) != 4:
        raise click.BadParameter(
            f"expected four numbers minlon,minlat,maxlon,maxlat (got {value!r})"
        )
    return numbers[0], numbers[1], numbers[2], numbers[3]


def stac_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the STAC options to a command taking ``inputs``; it gets ``stac`` instead."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in _NAMES}
        sources: tuple[str, ...] = values["stac_sources"]
        if not sources and not kwargs.get("inputs"):
            raise click.UsageError("give INPUTS (files, directories, globs, URLs) or --stac SOURCE")
        if not sources and any(values[n] for n in _NAMES[1:]):
            raise click.UsageError(
                "--collection, --bbox, --datetime and --stac-* need --stac SOURCE"
            )
        from skyscan.io.stac import StacQuery

        props = tuple(p.strip() for p in (values["stac_properties"] or "").split(",") if p.strip())
        try:
            kwargs["stac"] = tuple(
                StacQuery(
                    source,
                    collections=values["collections"],
                    bbox=_bbox(values["bbox"]),
                    datetime=values["stac_datetime"],
                    asset=values["stac_asset"],
                    properties=props,
                    max_items=values["stac_max_items"],
                )
                for source in sources
            )
        except SkyscanError as exc:
            raise click.UsageError(str(exc)) from exc
        return func(*args, **kwargs)

    options = [
        click.option(
            "--stac",
            "stac_sources",
            multiple=True,
            metavar="SOURCE",
            help="Read the items of a STAC API (its URL: searched with --collection/--bbox/--aoi/--datetime), "
            "a static catalog, collection or item (path or URL) or a stac-geoparquet file. Repeatable.",
        ),
        click.option(
            "--collection",
            "collections",
            multiple=True,
            metavar="ID",
            help="STAC collection to search (repeatable).",
        ),
        click.option(
            "--bbox",
            default=None,
            metavar="W,S,E,N",
            help="Only STAC items touching this lon/lat box.",
        ),
        click.option(
            "--datetime",
            "stac_datetime",
            default=None,
            metavar="TIME|START/END",
            help="Only STAC items of this time (RFC 3339; '2024-05-01/2024-06-01', '2024-05-01/..').",
        ),
        click.option(
            "--stac-asset",
            default=None,
            metavar="NAME|MEDIA_TYPE",
            help="The asset to read, by key or media type [default: 'visual' or 'image' if GeoTIFF, else the first GeoTIFF].",
        ),
        click.option(
            "--stac-properties",
            default=None,
            metavar="A,B",
            help="Item properties copied into every detection row (as meta_A, meta_B); meta_stac_item, "
            "meta_stac_collection, meta_datetime and meta_capture_date always are.",
        ),
        click.option(
            "--stac-max-items",
            type=click.IntRange(min=1),
            default=None,
            help="At most this many items per --stac source.",
        ),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper
