"""Which asset of an item skyscan reads, and the pixel grid the item declares for it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from skyscan.geo.crs import gsd_metres, normalize_crs
from skyscan.io import remote
from skyscan.io.georef import check_gsd
from skyscan.io.stac.query import StacError
from skyscan.types import AffineTuple, ImageRef, JsonObject

if TYPE_CHECKING:
    import pystac

log = logging.getLogger(__name__)

# a GeoTIFF or COG asset; 'image/tiff; application=geotiff; profile=cloud-optimized'
GEOTIFF_MEDIA_TYPES = ("image/tiff", "image/geotiff", "image/vnd.stac.geotiff")
PREFERRED_ASSETS = ("visual", "image")  # RGB products name their picture so


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
