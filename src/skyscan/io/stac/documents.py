"""Reading STAC JSON documents (local, HTTP(S), ``s3://`` and ``/vsi*/`` through GDAL) and
resolving the hrefs they hold."""

from __future__ import annotations

import json
import os
from pathlib import Path

from skyscan.io import remote
from skyscan.io.stac.query import StacError
from skyscan.types import JsonObject

HTTP_TIMEOUT_S = 60


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


def self_href(item: JsonObject) -> str | None:
    for link in item.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "self" and link.get("href"):
            return str(link["href"])
    return None


def base_href(href: str) -> str:
    return href if remote.is_remote(href) else os.path.abspath(href)


def absolute_href(href: str) -> str:
    """``file://`` hrefs as plain paths (GDAL and the sources take paths)."""
    return href[7:] if href.startswith("file://") else href
