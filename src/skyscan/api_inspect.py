"""Describe images without reading their pixels: what ``skyscan inspect`` prints.

One dict per input, in path order; failures are included (``ok`` false) so that nothing
is lost. A record holds::

    path, image_id, ok, width, height, count, dtype, rgb_bands, nodata, value_range,
    crs, gsd_m, georef_source, footprint_lonlat ([[lon, lat] x 4]: top-left, top-right,
    bottom-right, bottom-left), bounds_lonlat ([min_lon, min_lat, max_lon, max_lat]),
    metadata, model_range ({model, in_validated_range, reason, validated}: whether the
    model's validated range covers the image; null without a model)
    # failures instead: path, ok=False, stage ("ingest" | "read"), error_type, message
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from skyscan.detectors.card import ModelCard
from skyscan.errors import SkyscanError
from skyscan.geo.footprints import footprint_lonlat
from skyscan.io.reader import ReadOptions, open_image
from skyscan.io.remote import display_path, redact
from skyscan.io.sidecar import XmlMapping
from skyscan.io.sources import InputFailure, expand_inputs, unique_image_ids
from skyscan.types import ImageRef, JsonObject

if TYPE_CHECKING:
    from skyscan.options import StacSettings

log = logging.getLogger(__name__)


def describe(ref: ImageRef, card: ModelCard | None = None) -> JsonObject:
    """The inspect record of one opened image (JSON-serialisable); with ``card``, whether
    that model's validated range covers it."""
    record: JsonObject = {
        "path": display_path(ref.path),
        "image_id": ref.image_id,
        "ok": True,
        "width": ref.width,
        "height": ref.height,
        "count": ref.count,
        "dtype": ref.dtype,
        "rgb_bands": list(ref.rgb_bands),
        "nodata": ref.nodata,
        "value_range": list(ref.value_range) if ref.value_range is not None else None,
        "crs": ref.crs,
        "gsd_m": ref.gsd,
        "georef_source": ref.georef_source,
        "footprint_lonlat": None,
        "bounds_lonlat": None,
        "metadata": dict(ref.metadata),
        "model_range": None if card is None else model_range(ref, card),
    }
    if ref.crs is not None and ref.transform is not None:
        corners = footprint_lonlat(ref.transform, ref.crs, ref.width, ref.height)
        lons = [c[0] for c in corners]
        lats = [c[1] for c in corners]
        record["footprint_lonlat"] = [[lon, lat] for lon, lat in corners]
        record["bounds_lonlat"] = [min(lons), min(lats), max(lons), max(lats)]
    return record


def model_range(ref: ImageRef, card: ModelCard) -> JsonObject:
    """Whether ``card``'s validated range covers the image, and why not."""
    if card.validated is None:
        return {
            "model": card.model_id,
            "in_validated_range": None,
            "reason": "the model card declares no validated range",
            "validated": None,
        }
    ok, why = card.validated.check(ref)
    return {
        "model": card.model_id,
        "in_validated_range": ok,
        "reason": why,
        "validated": card.validated.describe(),
    }


def failure_record(failure: InputFailure) -> JsonObject:
    return {
        "path": display_path(failure.path),
        "ok": False,
        "stage": failure.stage,
        "error_type": type(failure.error).__name__,
        "message": redact(str(failure.error)),
    }


def inspect(
    paths: str | Path | Sequence[str | Path],
    *,
    recursive: bool = True,
    crs: str | None = None,
    gsd: float | None = None,
    require_georef: bool = False,
    sidecar_mapping: XmlMapping | str | Path | None = None,
    metadata_table: str | None = None,
    sample_ratio: float | None = None,
    seed: int = 0,
    options: ReadOptions | None = None,
    model: str | None = "vehicles",
    stac: StacSettings | None = None,
) -> list[JsonObject]:
    """Describe every image under ``paths`` (a file, directory or glob, or a list of them)
    without reading its pixels: one record per image (see :mod:`skyscan.api_inspect`).

    ``stac`` adds the images of STAC items (their header read, like a file's); each
    record's ``metadata`` then holds the item's attributes, as its detection rows would.

    ``model`` (a builtin name or a .onnx path; None: none) adds whether its validated
    range covers each image. ``options`` replaces the individual read settings when given. ``sidecar_mapping`` may
    be an :class:`XmlMapping` or the path of its JSON file.

    >>> (record,) = inspect("/nonexistent.tif")
    >>> record.get("ok"), record.get("stage")
    (False, 'ingest')
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    if options is None:
        mapping = (
            XmlMapping.from_json(sidecar_mapping)
            if isinstance(sidecar_mapping, str | Path)
            else sidecar_mapping
        )
        options = ReadOptions(
            crs=crs,
            gsd=gsd,
            require_georef=require_georef,
            sidecar_mapping=mapping,
            metadata_table=metadata_table,
        )
    files, failures = expand_inputs(
        paths, recursive=recursive, sample_ratio=sample_ratio, seed=seed
    )
    ids = unique_image_ids(files)
    attributes: dict[str, dict[str, str | None]] = {}
    queries = stac.queries() if stac is not None else ()
    if queries:
        from skyscan.io.stac import gather

        got = gather(files, failures, ids, queries, None, sample_ratio=sample_ratio, seed=seed)
        files, failures, ids, attributes = got.paths, got.failures, got.image_ids, got.attributes
    card = None
    if model is not None:
        from skyscan.detectors.card import load_card
        from skyscan.detectors.registry import resolve_model

        card = load_card(resolve_model(model))
    records = [failure_record(f) for f in failures]
    for path in files:
        try:
            record = describe(open_image(path, options, image_id=ids[path]), card)
            record["metadata"].update(attributes.get(path, {}))
            records.append(record)
        except (SkyscanError, OSError) as exc:
            log.info("%s: %s", path, exc)
            records.append(failure_record(InputFailure(path, "read", exc)))
    return sorted(records, key=lambda r: str(r["path"]))
