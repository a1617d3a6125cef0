"""XML metadata sidecars: georeferencing and attributes from ``<image>.xml`` files.

The original pipeline joined each image with an XML file holding its eastings and
northings. Two layouts are understood without configuration:

- FGDC (``idinfo/spdom/bounding`` with ``westbc/eastbc/northbc/southbc`` in degrees) and
  the ArcGIS flavour (``dataIdInfo/dataExt/geoEle/GeoBndBox`` with ``westBL``...): the
  bounds cover the whole image, CRS EPSG:4326;
- any vendor XML through an :class:`XmlMapping` (one XPath per field, loaded from a small
  JSON file): ``easting``/``northing`` of the image's upper-left corner in ``crs``, and
  ``gsd`` in CRS units per pixel give a north-up transform; ``extra`` attributes travel
  into every detection row (as strings, so that a column has one type across images).

XPaths use ElementTree's subset (``a/b``, ``.//b``, ``b[@k='v']``, ``{ns}b`` or ``p:b``
with ``namespaces``), plus a trailing ``/@attr`` to read an attribute or ``/text()``.

XML is parsed with defusedxml: entity declarations (billion laughs) and external
entities are refused with a :class:`MetadataError` naming the file. A bare
``<!DOCTYPE metadata SYSTEM "fgdc-std-001-1998.dtd">`` (common in FGDC files) is allowed:
it is never fetched, and without entity declarations it cannot expand anything.
"""

from __future__ import annotations

import io
import json
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import defusedxml
import defusedxml.ElementTree as DET

from skyscan.errors import GeoreferenceError, MetadataError
from skyscan.geo.crs import normalize_crs
from skyscan.io import remote
from skyscan.types import AffineTuple, JsonObject

log = logging.getLogger(__name__)

MAX_SIDECAR_BYTES = 16 * 1024 * 1024  # metadata, not data: refuse anything bigger


@dataclass(frozen=True)
class XmlMapping:
    """XPaths to the fields of a vendor XML sidecar (``None``: the XML does not have it)."""

    easting: str | None = None
    northing: str | None = None
    crs: str | None = None
    gsd: str | None = None
    extra: dict[str, str] = field(default_factory=dict, hash=False)
    namespaces: dict[str, str] = field(default_factory=dict, hash=False)
    image_id: str | None = None

    def __post_init__(self) -> None:
        if (self.easting is None) != (self.northing is None):
            raise MetadataError(
                "XmlMapping needs both 'easting' and 'northing' or neither "
                f"(got easting={self.easting!r}, northing={self.northing!r})"
            )
        for name, value in [
            ("easting", self.easting),
            ("northing", self.northing),
            ("crs", self.crs),
            ("gsd", self.gsd),
            ("image_id", self.image_id),
            *self.extra.items(),
        ]:
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise MetadataError(
                    f"XmlMapping field {name!r} must be a non-empty XPath (got {value!r})"
                )

    @classmethod
    def from_json(cls, path: str | Path) -> XmlMapping:
        """Load ``{"easting": "...", "northing": "...", "crs": "...", "gsd": "...",
        "extra": {"name": "xpath"}, "namespaces": {"p": "uri"}, "image_id": "..."}``."""
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise MetadataError(f"{path}: cannot read XML mapping JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise MetadataError(
                f"{path}: XML mapping must be a JSON object (got {type(raw).__name__})"
            )
        known = {"easting", "northing", "crs", "gsd", "extra", "namespaces", "image_id"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise MetadataError(
                f"{path}: unknown keys {unknown} in XML mapping (known: {sorted(known)})"
            )
        for key in ("extra", "namespaces"):
            value = raw.get(key, {})
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise MetadataError(f"{path}: {key!r} must map names to strings (got {value!r})")
        try:
            return cls(**raw)
        except TypeError as exc:  # pragma: no cover - guarded by the key check above
            raise MetadataError(f"{path}: bad XML mapping: {exc}") from exc


@dataclass(frozen=True)
class SidecarInfo:
    """What a sidecar says about its image (any field may be missing)."""

    path: str
    transform: AffineTuple | None = None
    crs: str | None = None
    image_id: str | None = None
    attributes: JsonObject = field(default_factory=dict, hash=False)


def find_sidecar(image_path: str | Path) -> str | Path | None:
    """``scene.tif.xml`` or ``scene.xml`` beside the image (never GDAL's ``.aux.xml``);
    beside a remote image each name is probed with one request."""
    if remote.is_remote(image_path):
        path = str(image_path)
        name = remote.name_of(path)
        names = [name + ".xml"] + ([name.rsplit(".", 1)[0] + ".xml"] if "." in name else [])
        return next((c for c in (remote.sibling(path, n) for n in names) if remote.exists(c)), None)
    p = Path(image_path)
    for candidate in (p.with_name(p.name + ".xml"), p.with_suffix(".xml")):
        if candidate.is_file() and not candidate.name.lower().endswith(".aux.xml"):
            return candidate
    return None


def find_aux_xml(image_path: str | Path) -> Path | None:
    """GDAL's ``scene.tif.aux.xml`` beside the image, if any."""
    candidate = Path(image_path).with_name(Path(image_path).name + ".aux.xml")
    return candidate if candidate.is_file() else None


def parse_xml(path: str | Path) -> ET.Element:
    """Parse an XML file safely; hostile or malformed XML raises :class:`MetadataError`."""
    if remote.is_remote(path):
        try:
            text = remote.read_bytes(str(path), MAX_SIDECAR_BYTES)
        except OSError as exc:
            raise MetadataError(
                f"{remote.redact(str(path))}: cannot read XML sidecar: {exc}"
            ) from exc
        source: io.BytesIO | str = io.BytesIO(text)
    else:
        path = Path(path)
        size = path.stat().st_size
        if size > MAX_SIDECAR_BYTES:
            raise MetadataError(f"{path}: XML sidecar is {size} bytes (limit {MAX_SIDECAR_BYTES})")
        source = str(path)
    try:
        tree = DET.parse(source, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise MetadataError(
            f"{path}: refused hostile XML ({type(exc).__name__}: entity declarations and "
            f"external references are not allowed)"
        ) from exc
    except ET.ParseError as exc:
        raise MetadataError(f"{path}: malformed XML: {exc}") from exc
    except (LookupError, ValueError) as exc:
        # an encoding Python does not know (LookupError) or expat cannot decode
        # (ValueError: multi-byte encodings), and UnicodeDecodeError (a ValueError)
        raise MetadataError(f"{path}: unreadable XML ({type(exc).__name__}: {exc})") from exc
    root = tree.getroot()
    if root is None:  # pragma: no cover - ElementTree always has a root after a parse
        raise MetadataError(f"{path}: XML has no root element")
    return root


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].split(":")[-1]


def xpath_text(
    root: ET.Element, xpath: str, namespaces: dict[str, str] | None = None
) -> str | None:
    """Text (or attribute) at ``xpath`` below ``root``; ``None`` when absent or empty."""
    path = xpath.strip()
    attr: str | None = None
    if path.endswith("/text()"):
        path = path[: -len("/text()")]
    if "@" in path.rsplit("/", 1)[-1] and "[" not in path.rsplit("/", 1)[-1]:
        head, _, attr = path.rpartition("@")
        path = head.rstrip("/") or "."
    if path.startswith("//"):
        path = "." + path
    elif path.startswith("/"):
        # Absolute path: its first step names the root element itself.
        first, _, rest = path[1:].partition("/")
        if _local(first) != _local(root.tag):
            return None
        path = rest or "."
    try:
        element = root.find(path, namespaces or {})
    except (SyntaxError, KeyError) as exc:
        raise MetadataError(f"unsupported XPath {xpath!r}: {exc}") from exc
    if element is None:
        return None
    value = element.get(attr) if attr is not None else element.text
    value = value.strip() if value is not None else None
    return value or None


def _float(value: str | None, name: str, path: str | Path) -> float | None:
    if value is None:
        return None
    try:
        return float(
            value.replace(",", ".") if value.count(",") == 1 and "." not in value else value
        )
    except ValueError as exc:
        raise MetadataError(f"{path}: {name} must be a number (got {value!r})") from exc


def _crs_value(value: str, path: str | Path) -> str:
    text = value.strip()
    if text.isdigit():
        text = f"EPSG:{text}"
    return normalize_crs(text, source=f"{path} (crs)")


def transform_from_bounds(
    west: float, south: float, east: float, north: float, width: int, height: int
) -> AffineTuple:
    """North-up transform for an image of ``width`` x ``height`` covering the bounds."""
    if not (east > west and north > south):
        raise GeoreferenceError(
            f"bounds must have east > west and north > south "
            f"(got west={west}, east={east}, south={south}, north={north})"
        )
    return ((east - west) / width, 0.0, west, 0.0, -(north - south) / height, north)


def _bounds_transform(
    root: ET.Element, path: str | Path, width: int, height: int
) -> AffineTuple | None:
    layouts = (
        ("idinfo/spdom/bounding", ("westbc", "southbc", "eastbc", "northbc")),
        (".//GeoBndBox", ("westBL", "southBL", "eastBL", "northBL")),
    )
    for box_path, names in layouts:
        box = root.find(box_path)
        if box is None:
            continue
        values = [_float(xpath_text(box, n), n, path) for n in names]
        if any(v is None for v in values):
            raise MetadataError(f"{path}: {box_path} lacks one of {list(names)}")
        west, south, east, north = (float(v) for v in values)  # type: ignore[arg-type]
        try:
            return transform_from_bounds(west, south, east, north, width, height)
        except GeoreferenceError as exc:
            raise MetadataError(f"{path}: bad bounding coordinates: {exc}") from exc
    return None


def read_sidecar(
    xml_path: str | Path,
    width: int,
    height: int,
    mapping: XmlMapping | None = None,
    *,
    default_gsd: float | None = None,
) -> SidecarInfo:
    """Read georeferencing, image id and attributes from an XML sidecar.

    With a ``mapping``, its fields win; otherwise FGDC/ArcGIS bounding boxes are used.
    ``default_gsd`` (CRS units per pixel) completes a mapping that has a corner but no GSD.
    The CRS may be ``None`` (the caller then needs the user's CRS).
    """
    path = xml_path if remote.is_remote(xml_path) else Path(xml_path)
    root = parse_xml(path)
    transform: AffineTuple | None = None
    crs: str | None = None
    attributes: JsonObject = {}
    image_id: str | None = None
    if mapping is not None:
        ns = mapping.namespaces
        easting = (
            _float(xpath_text(root, mapping.easting, ns), "easting", path)
            if mapping.easting
            else None
        )
        northing = (
            _float(xpath_text(root, mapping.northing, ns), "northing", path)
            if mapping.northing
            else None
        )
        gsd = _float(xpath_text(root, mapping.gsd, ns), "gsd", path) if mapping.gsd else None
        gsd = gsd if gsd is not None else default_gsd
        # A run may mix vendor XML with FGDC/ArcGIS sidecars: an XML that has neither of
        # the mapping's coordinates but has bounding coordinates is georeferenced by those.
        not_vendor = (
            easting is None
            and northing is None
            and _bounds_transform(root, path, width, height) is not None
        )
        if mapping.easting and (easting is None or northing is None) and not not_vendor:
            raise MetadataError(
                f"{path}: easting/northing not found at {mapping.easting!r} / {mapping.northing!r}"
            )
        if easting is not None and northing is not None:
            if gsd is None or gsd <= 0:
                raise MetadataError(
                    f"{path}: a corner needs a positive GSD to build a transform "
                    f"(got {gsd!r} at {mapping.gsd!r}; pass --gsd)"
                )
            transform = (gsd, 0.0, easting, 0.0, -gsd, northing)
        if mapping.crs:
            text = xpath_text(root, mapping.crs, ns)
            crs = _crs_value(text, path) if text else None
        for name, xp in mapping.extra.items():
            attributes[name] = xpath_text(root, xp, ns)
        if mapping.image_id:
            image_id = xpath_text(root, mapping.image_id, ns)
    if transform is None:
        transform = _bounds_transform(root, path, width, height)
        if transform is not None:
            crs = "EPSG:4326"
    return SidecarInfo(
        str(path), transform, crs if transform is not None else None, image_id, attributes
    )
