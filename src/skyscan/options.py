"""The detection options, declared once: type, default, help text and allowed values.

:class:`DetectSettings` holds what decides which objects a run finds, :class:`RunSettings`
how a run over many inputs is managed, :class:`StacSettings` which STAC items it reads
besides its inputs (``detect`` and ``plan``). ``skyscan detect``, ``evaluate``, ``plan`` and
``render`` generate their options from these declarations (:mod:`skyscan.cli.options`),
:func:`skyscan.detect` takes one keyword argument per field, :func:`skyscan.evaluate.run.evaluate`
and :func:`skyscan.spark.detect` take a :class:`DetectSettings`: a new option is one new
field here (``tests/test_options.py`` checks that the CLI and the API follow).

This module imports nothing heavy: ``skyscan --help`` reads it.
"""

from __future__ import annotations

import math
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Self

from skyscan.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from skyscan.io.stac import StacQuery
    from skyscan.pipeline import DetectOptions

__all__ = [
    "DetectSettings",
    "OptionSpec",
    "RunSettings",
    "StacSettings",
    "item_kind",
    "option_specs",
]

METADATA_HELP = (
    "CSV/Parquet table of per-image attributes, keyed by an image_id column (the image's id), "
    "an image_path column (its path or URL) and/or a filename column (e.g. scene.tif); its "
    "other columns become meta_* columns."
)


@dataclass(frozen=True)
class OptionSpec:
    """How one option reads on the command line and which values it takes.

    ``low``/``high`` bound a number (``low_open``/``high_open``: the bound itself is
    refused); ``choices`` lists a text option's values; ``path``: the value names an
    existing file; ``flag``: the command-line name when it is not ``--field-name``.
    A tuple field is a repeatable option, or with ``separator`` one value split on it
    (``--bbox 8.4,47.3,8.6,47.4``).
    """

    help: str
    flag: str | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] | None = None
    path: bool = False
    metavar: str | None = None
    separator: str | None = None

    def describe_range(self) -> str:
        """``in [0, 0.5]``, ``> 0``, ``>= 1``: the allowed numbers, for messages."""
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        return f"{'<' if self.high_open else '<='} {self.high:g}"


def _option(default: Any, help: str, **spec: Any) -> Any:
    """A dataclass field with its :class:`OptionSpec` in the metadata (typed ``Any`` so that
    the field keeps its declared type for mypy)."""
    return field(default=default, metadata={"option": OptionSpec(help=help, **spec)})


class _Declared:
    """What the settings classes share: validation from the declarations and
    construction from a mapping of option values."""

    def __post_init__(self) -> None:
        hints = _field_kinds(type(self))
        for spec_field in fields(self):  # type: ignore[arg-type]
            spec: OptionSpec = spec_field.metadata["option"]
            value = getattr(self, spec_field.name)
            if hints[spec_field.name] is str and isinstance(value, os.PathLike):
                value = os.fspath(value)  # a pathlib.Path for a file option: kept as text
                object.__setattr__(self, spec_field.name, value)
            if hints[spec_field.name] is tuple:
                value = _as_tuple(
                    spec_field.name, value, _item_kinds(type(self))[spec_field.name], spec
                )
                object.__setattr__(self, spec_field.name, value)
                continue
            _check(spec_field.name, value, hints[spec_field.name], spec)

    @classmethod
    def pick(cls, values: Mapping[str, object]) -> Self:
        """An instance from the entries of ``values`` named like a field (others ignored),
        e.g. a command's keyword arguments or a function's ``locals()``."""
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in values.items() if k in names})


@dataclass(frozen=True)
class DetectSettings(_Declared):
    """What decides which objects a run finds (validated at construction).

    :meth:`detect_options` turns them into the pipeline's :class:`~skyscan.pipeline.DetectOptions`
    (loading the XML mapping and the area of interest).
    """

    model: str = _option("vehicles", "Builtin model name or path to a .onnx with its .json card.")
    gsd: float | None = _option(
        None,
        "Ground sample distance (m/px) for images without georeferencing.",
        low=0.0,
        low_open=True,
    )
    crs: str | None = _option(
        None, "CRS for world files without .prj or sidecars without a CRS (e.g. EPSG:2056)."
    )
    require_georef: bool = _option(
        False, "Fail images without georeferencing instead of working in pixel space."
    )
    overlap: float | None = _option(
        None,
        "Fraction of a chip shared with its neighbour (of the largest chip, where each image's chips "
        "are fitted) [default: the model's longest object at its GSD (the "
        "card's max_object_m), 72 px for vehicles; 0.2 for a card that declares none].",
        low=0.0,
        high=0.5,
    )
    chip_size: int | None = _option(
        None,
        "Chip side in model pixels, the same for every image [default, for models that take any size "
        "(vehicles: multiples of 8): each image's chips fitted to it, 512 to 1024 px, the fewest model "
        "pixels; an image up to 1024 model px long runs as one chip fitted to it when that is fewer; "
        "else the model's input size]. Larger chips recompute less overlap.",
        low=1,
    )
    edge_pad: int | None = _option(
        None,
        "Model pixels of black the chips at an image's edges reach past it [default: the model card's "
        "input.edge_pad, 32 for vehicles, the context it was trained with; 0 keeps chips inside the "
        "image, which then needs no border strips (see --border-band)].",
        low=0,
    )
    border_band: int | None = _option(
        None,
        "Model pixels from an image's border within which detections come from strips run "
        "flush with it, when the chips there carry an edge pad: the pad's black makes the model "
        "drop the vehicles the border cuts, the strips find them (flagged truncated) [default: "
        "8]. 0 turns the strips off.",
        low=0,
    )
    batch_size: int | None = _option(
        None,
        "Chips read, normalised and decoded together [default: about 1 MP of chips, 16 of 256 px]; the model "
        "runs one chip per call.",
        low=1,
    )
    score_threshold: float | None = _option(
        None, "Override the model card's score threshold.", low=0.0, high=1.0
    )
    tta: int = _option(
        1,
        "Test-time augmentation: views of each chip whose heatmaps are averaged, 1 (off), 2 (also mirrored "
        "left to right) or 4 (also upside down, and both); models with CenterNet outputs, as vehicles. Fewer "
        "false vehicles at 2x or 4x the model time (docs/model.md, Test-time augmentation).",
        low=1,
        high=4,
        metavar="VIEWS",
    )
    class_aware_merge: bool = _option(
        False,
        "Merge overlapping boxes of the same class only [default: one object, one row: overlapping boxes of "
        "any class merge, the best class wins and class_scores keeps the others].",
    )
    strict_range: bool = _option(
        False,
        "Refuse images outside the model's validated range (an error row each) instead of flagging their "
        "detections in_validated_range=false.",
    )
    metadata_table: str | None = _option(None, METADATA_HELP, flag="--metadata", path=True)
    xml_mapping: str | None = _option(None, "JSON of XPaths for vendor XML sidecars.", path=True)
    aoi: str | None = _option(
        None,
        "Area of interest: a vector file (GeoJSON, GeoPackage...; its CRS) or WKT (EPSG:4326, or "
        "'SRID=2056;POLYGON(...)'). Only chips that touch it are read, detections outside it are dropped, images "
        "that miss it are skipped (listed in run.json).",
        metavar="FILE|WKT",
    )

    def detect_options(self) -> DetectOptions:
        """The pipeline's options: :class:`InputError` for an XML mapping or area of
        interest that cannot be read, or a CRS pyproj does not know."""
        from skyscan.detectors import DetectorRecipe
        from skyscan.io.reader import ReadOptions
        from skyscan.pipeline import DetectOptions

        mapping = None
        if self.xml_mapping:
            from skyscan.io.sidecar import XmlMapping

            mapping = XmlMapping.from_json(self.xml_mapping)
        area = None
        if self.aoi:
            from skyscan.geo.aoi import load_aoi

            area = load_aoi(self.aoi)
        return DetectOptions(
            aoi=area,
            recipe=DetectorRecipe(
                model=self.model, score_threshold=self.score_threshold, tta=self.tta
            ),
            read=ReadOptions(
                crs=self.crs,
                gsd=self.gsd,
                require_georef=self.require_georef,
                sidecar_mapping=mapping,
                metadata_table=self.metadata_table,
            ),
            overlap=self.overlap,
            chip_size=self.chip_size,
            edge_pad=self.edge_pad,
            border_band=self.border_band,
            batch_size=self.batch_size,
            class_aware_merge=self.class_aware_merge,
            strict_range=self.strict_range,
        )


@dataclass(frozen=True)
class RunSettings(_Declared):
    """How a run over many inputs is managed: which inputs, which engine, what to do with
    an existing output directory (validated at construction)."""

    engine: str = _option(
        "local", "Where the run computes: this process, or Spark.", choices=("local", "spark")
    )
    master: str | None = _option(
        None, "Spark master URL (local[*], spark://HOST:PORT, ...); spark engine only."
    )
    recursive: bool = _option(True, "Descend into directories.")
    mosaic: bool = _option(
        False,
        "Detect the images (adjacent tiles of one CRS and GSD) as one seamless mosaic, written to "
        "OUTDIR/mosaics/NAME.vrt: chips span tile borders, a vehicle on a seam is found once. A .vrt input is a "
        "mosaic without it. --stac items become tiles of it, each row with its tile's item attributes.",
    )
    sample_ratio: float | None = _option(
        None,
        "Process a deterministic sample of the inputs (0-1].",
        low=0.0,
        high=1.0,
        low_open=True,
    )
    seed: int = _option(0, "Seed of the sample.")
    overwrite: bool = _option(False, "Replace an existing output directory.")
    resume: bool = _option(
        False,
        "Finish an interrupted run in OUTDIR (same options; --batch-size may differ) without redoing finished "
        "images.",
    )
    geojson: bool = _option(True, "Also write detections.geojson.")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.overwrite and self.resume:
            raise InputError("choose one of 'overwrite' and 'resume' (got both)")


@dataclass(frozen=True)
class StacSettings(_Declared):
    """Which STAC items a run reads besides its inputs (:mod:`skyscan.io.stac`): the
    sources, the search filters, the asset and the item properties copied into the rows."""

    stac: tuple[str, ...] = _option(
        (),
        "Read the items of a STAC API (its URL: searched with --collection/--bbox/--aoi/--datetime), a static "
        "catalog, collection or item (path or URL) or a stac-geoparquet file. Repeatable.",
        metavar="SOURCE",
    )
    collections: tuple[str, ...] = _option(
        (), "STAC collection to search (repeatable).", flag="--collection", metavar="ID"
    )
    bbox: tuple[float, float, float, float] | None = _option(
        None, "Only STAC items touching this lon/lat box.", separator=",", metavar="W,S,E,N"
    )
    datetime: str | None = _option(
        None,
        "Only STAC items of this time (RFC 3339; '2024-05-01/2024-06-01', '2024-05-01/..').",
        metavar="TIME|START/END",
    )
    stac_asset: str | None = _option(
        None,
        "The asset to read, by key or media type [default: 'visual' or 'image' if GeoTIFF, else the first "
        "GeoTIFF].",
        metavar="NAME|MEDIA_TYPE",
    )
    stac_properties: tuple[str, ...] = _option(
        (),
        "Item properties copied into every detection row (as meta_A, meta_B); meta_stac_item, "
        "meta_stac_collection, meta_datetime and meta_capture_date always are.",
        separator=",",
        metavar="A,B",
    )
    stac_max_items: int | None = _option(None, "At most this many items per --stac source.", low=1)

    def __post_init__(self) -> None:
        super().__post_init__()
        given = [
            f.name
            for f in fields(self)
            if f.name != "stac" and getattr(self, f.name) not in (None, ())
        ]
        if given and not self.stac:
            raise InputError(
                f"{', '.join(given)}: need --stac SOURCE (the 'stac' argument in Python)"
            )

    def queries(self) -> tuple[StacQuery, ...]:
        """One :class:`~skyscan.io.stac.StacQuery` per source: :class:`InputError` for a
        box or time the search cannot take."""
        from skyscan.io.stac import StacQuery

        return tuple(
            StacQuery(
                source,
                collections=self.collections,
                bbox=self.bbox,
                datetime=self.datetime,
                asset=self.stac_asset,
                properties=self.stac_properties,
                max_items=self.stac_max_items,
            )
            for source in self.stac
        )


def option_specs(cls: type[_Declared]) -> list[tuple[str, type, object, OptionSpec]]:
    """``(name, kind, default, spec)`` of each declared option in order; ``kind`` is
    ``bool``, ``int``, ``float``, ``str`` or ``tuple`` (the declared type without ``None``;
    :func:`item_kind` gives a tuple's item type and length)."""
    kinds = _field_kinds(cls)
    return [(f.name, kinds[f.name], f.default, f.metadata["option"]) for f in fields(cls)]  # type: ignore[arg-type]


def item_kind(cls: type[_Declared], name: str) -> tuple[type, int | None]:
    """A tuple field's item type and its fixed length (``None``: any length)."""
    return _item_kinds(cls)[name]


_KINDS: dict[type, dict[str, type]] = {}
_ITEMS: dict[type, dict[str, tuple[type, int | None]]] = {}


def _field_kinds(cls: type) -> dict[str, type]:
    """Each field's declared type without ``None``, ``tuple`` for a tuple (resolved once per class)."""
    if cls not in _KINDS:
        kinds: dict[str, type] = {}
        items: dict[str, tuple[type, int | None]] = {}
        for name, hint in typing.get_type_hints(cls).items():
            if typing.get_origin(hint) in (typing.Union, types.UnionType):
                hint = next(a for a in typing.get_args(hint) if a is not type(None))
            if typing.get_origin(hint) is tuple:
                args = typing.get_args(hint)
                items[name] = (args[0], None if args[-1] is Ellipsis else len(args))
                hint = tuple
            kinds[name] = hint
        _KINDS[cls], _ITEMS[cls] = kinds, items
    return _KINDS[cls]


def _item_kinds(cls: type) -> dict[str, tuple[type, int | None]]:
    _field_kinds(cls)
    return _ITEMS[cls]


def _as_tuple(
    name: str, value: object, item: tuple[type, int | None], spec: OptionSpec
) -> tuple[object, ...] | None:
    """A tuple field's value as a checked tuple: one text is one item, or its parts with a
    ``separator`` (``"8.4,47.3,8.6,47.4"``); a list is taken as a tuple."""
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        value = [value]
    elif isinstance(value, str):
        value = (
            [p.strip() for p in value.split(spec.separator) if p.strip()]
            if spec.separator
            else [value]
        )
    if not isinstance(value, list | tuple):
        raise InputError(f"{name!r} must be a tuple (got {value!r})")
    kind, length = item
    if kind is str:
        value = [
            os.fspath(v) if isinstance(v, os.PathLike) else v for v in value
        ]  # a local catalog's Path
    elif kind is float:
        try:
            value = [
                v if isinstance(v, int | float) and not isinstance(v, bool) else float(v)
                for v in value
            ]
        except (TypeError, ValueError):
            raise InputError(f"{name!r} must hold numbers (got {value!r})") from None
    for v in value:
        _check(name, v, kind, spec)
    if length is not None and len(value) != length:
        raise InputError(f"{name!r} must hold {length} values (got {len(value)}: {value!r})")
    return tuple(value)


def _check(name: str, value: object, kind: type, spec: OptionSpec) -> None:
    """Refuse a value of the wrong type or outside the declared range or choices."""
    if value is None:
        return
    if kind is bool:
        if not isinstance(value, bool):
            raise InputError(f"{name!r} must be True or False (got {value!r})")
        return
    if kind in (int, float):
        allowed = int if kind is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, allowed) or not math.isfinite(value):
            raise InputError(
                f"{name!r} must be {'an integer' if kind is int else 'a finite number'} (got {value!r})"
            )
        low_ok = spec.low is None or (value > spec.low if spec.low_open else value >= spec.low)
        high_ok = spec.high is None or (value < spec.high if spec.high_open else value <= spec.high)
        if not (low_ok and high_ok):
            raise InputError(f"{name!r} must be {spec.describe_range()} (got {value!r})")
        return
    if not isinstance(value, str):
        raise InputError(f"{name!r} must be a string (got {value!r})")
    if spec.choices is not None and value not in spec.choices:
        raise InputError(
            f"{name!r} must be one of {', '.join(map(repr, spec.choices))} (got {value!r})"
        )
