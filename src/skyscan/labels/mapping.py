"""Folding source classes into skyscan's target classes (car, truck, bus).

A :class:`ClassMapping` maps a source class *name* (YOLO class list, COCO category name)
or xView ``type_id`` to a target class or to ``None`` (ignored: counted and reported, never
trained on or scored). A source class the mapping does not know is an error, so a wrong
class list cannot silently turn trucks into nothing.

Folds (documented in ``docs/model.md``):

* names: ``minibus``, ``van``-less buses → ``bus``; ``small car``, ``passenger vehicle``,
  ``pickup truck`` → ``car``; ``utility truck``, ``cargo truck`` and the other xView truck
  kinds → ``truck``; people and two-wheelers (``cyclist``, ``pedestrian``, ...) are ignored.
* xView ids: 17 Passenger Vehicle, 18 Small Car, 20 Pickup Truck → car; 19 Bus → bus;
  21 Utility Truck, 23 Truck, 24 Cargo Truck, 25 Truck w/Box, 26 Truck Tractor,
  28 Truck w/Flatbed, 29 Truck w/Liquid, 32 Crane Truck, 60 Dump Truck, 61 Haul Truck,
  65 Cement Mixer → truck; every other xView class (aircraft, vessels, buildings,
  trailers, railway cars, ...) is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from skyscan.errors import LabelError

DEFAULT_TARGETS: tuple[str, ...] = ("car", "truck", "bus")

_NAME_FOLDS: dict[str, str | None] = {
    "car": "car",
    "cars": "car",
    "small car": "car",
    "small_car": "car",
    "passenger vehicle": "car",
    "pickup truck": "car",
    "pickup": "car",
    "van": "car",
    "truck": "truck",
    "trucks": "truck",
    "utility truck": "truck",
    "cargo truck": "truck",
    "truck w/box": "truck",
    "truck tractor": "truck",
    "truck w/flatbed": "truck",
    "truck w/liquid": "truck",
    "dump truck": "truck",
    "lorry": "truck",
    "bus": "bus",
    "buses": "bus",
    "minibus": "bus",
    "mini bus": "bus",
    "cyclist": None,
    "bicycle": None,
    "pedestrian": None,
    "person": None,
    "people": None,
    "motorcycle": None,
    "motorbike": None,
    "tricycle": None,
}

# xView type_id -> target (None: ignored). Ids not listed here and not in xView's class
# list are errors; ids in the list but not vehicles of our classes are ignored.
XVIEW_MAPPING: dict[int, str | None] = {
    17: "car",
    18: "car",
    20: "car",
    19: "bus",
    21: "truck",
    23: "truck",
    24: "truck",
    25: "truck",
    26: "truck",
    28: "truck",
    29: "truck",
    32: "truck",
    60: "truck",
    61: "truck",
    65: "truck",
}
XVIEW_TYPE_IDS: frozenset[int] = frozenset(
    [
        11,
        12,
        13,
        15,
        17,
        18,
        19,
        20,
        21,
        23,
        24,
        25,
        26,
        27,
        28,
        29,
        32,
        33,
        34,
        35,
        36,
        37,
        38,
        40,
        41,
        42,
        44,
        45,
        47,
        49,
        50,
        51,
        52,
        53,
        54,
        55,
        56,
        57,
        59,
        60,
        61,
        62,
        63,
        64,
        65,
        66,
        71,
        72,
        73,
        74,
        76,
        77,
        79,
        83,
        84,
        86,
        89,
        91,
        93,
        94,
    ]
)


@dataclass(frozen=True)
class ClassMapping:
    """Source class → target class (or ``None`` to ignore), plus the target class order."""

    targets: tuple[str, ...] = DEFAULT_TARGETS
    names: Mapping[str, str | None] = field(default_factory=lambda: dict(_NAME_FOLDS))
    xview: Mapping[int, str | None] = field(default_factory=lambda: dict(XVIEW_MAPPING))

    def __post_init__(self) -> None:
        for src, dst in [*self.names.items(), *self.xview.items()]:
            if dst is not None and dst not in self.targets:
                raise LabelError(
                    f"class mapping: {src!r} maps to {dst!r}, not one of {self.targets}"
                )

    @classmethod
    def for_targets(cls, targets: tuple[str, ...] | list[str]) -> ClassMapping:
        """The default folds restricted to ``targets`` (e.g. a model card's classes)."""
        t = tuple(targets)
        names = {k: v for k, v in _NAME_FOLDS.items() if v is None or v in t}
        xview = {k: v for k, v in XVIEW_MAPPING.items() if v in t}
        return cls(t, names, xview)

    def with_overrides(self, overrides: Mapping[str, str | None]) -> ClassMapping:
        """A copy with extra ``source name -> target`` entries (``None`` ignores)."""
        names = dict(self.names)
        names.update({k.strip().lower(): v for k, v in overrides.items()})
        return ClassMapping(self.targets, names, self.xview)

    def map_name(self, name: str, source: str) -> str | None:
        key = name.strip().lower()
        if key in self.targets:
            return key
        if key in self.names:
            return self.names[key]
        raise LabelError(
            f"{source}: class {name!r} is not known to the class mapping (targets {list(self.targets)}); "
            f"map it with --map '{name}=car' or ignore it with --map '{name}=ignore'"
        )

    def map_xview(self, type_id: int, source: str) -> str | None:
        if type_id in self.xview:
            return self.xview[type_id]
        if type_id in XVIEW_TYPE_IDS:
            return None
        raise LabelError(
            f"{source}: unknown xView type_id {type_id} (not in xView's 60-class list)"
        )

    def index(self, target: str) -> int:
        return self.targets.index(target)


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, str | None]:
    """Parse ``name=target`` strings (``target`` ``ignore`` means ignored)."""
    out: dict[str, str | None] = {}
    for item in items:
        if "=" not in item:
            raise LabelError(f"class override must look like 'name=target' (got {item!r})")
        src, dst = (s.strip() for s in item.split("=", 1))
        out[src.lower()] = None if dst.lower() in ("ignore", "none", "") else dst.lower()
    return out
