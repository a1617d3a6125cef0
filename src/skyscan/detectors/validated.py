"""Where a model was validated, and whether an image lies there.

A model card may declare the imagery its figures were measured on (``validated``):
a ground sample distance range and the kinds of bands (``rgb``, ``pan``). Images
outside it are still processed, but flagged (``in_validated_range`` false) and warned
about, or refused under ``strict``: a detector's precision measured on one kind of
imagery says nothing about another.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from skyscan.errors import ModelError
from skyscan.types import ImageRef, JsonObject

BAND_KINDS = ("rgb", "pan")


@dataclass(frozen=True)
class ValidatedRange:
    """The imagery a model's measured figures hold for (a card's ``validated`` entry)."""

    gsd_min: float  # metres per pixel, inclusive
    gsd_max: float
    bands: tuple[str, ...] = ("rgb",)
    imagery: str = ""  # what kind of imagery, in words, for people
    figures: tuple[JsonObject, ...] = field(default=(), hash=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 < self.gsd_min <= self.gsd_max:
            raise ModelError(
                f"'validated.gsd_m' must be [min, max] with 0 < min <= max (got [{self.gsd_min}, {self.gsd_max}])"
            )
        unknown = set(self.bands) - set(BAND_KINDS)
        if not self.bands or unknown:
            raise ModelError(
                f"'validated.bands' must be a non-empty list of {BAND_KINDS} (got {list(self.bands)})"
            )

    @classmethod
    def from_dict(cls, data: JsonObject) -> ValidatedRange:
        lo, hi = (float(v) for v in data["gsd_m"])
        return cls(
            lo,
            hi,
            tuple(str(b) for b in data.get("bands", ["rgb"])),
            str(data.get("imagery", "")),
            tuple(data.get("figures", ())),
        )

    def to_dict(self) -> JsonObject:
        return {
            "gsd_m": [self.gsd_min, self.gsd_max],
            "bands": list(self.bands),
            "imagery": self.imagery,
            "figures": list(self.figures),
        }

    def describe(self) -> str:
        return f"GSD {self.gsd_min:g}-{self.gsd_max:g} m, {'/'.join(self.bands)}"

    def check(self, ref: ImageRef) -> tuple[bool | None, str]:
        """``(in_range, why)`` for an image: ``None`` when its GSD is unknown."""
        kind = band_kind(ref)
        if kind not in self.bands:
            return False, f"{kind} imagery (validated: {'/'.join(self.bands)})"
        if ref.gsd is None:
            return None, "GSD unknown (georeference the image or pass --gsd)"
        # a relative tolerance: GSDs read from transforms carry rounding
        if not self.gsd_min * 0.995 <= ref.gsd <= self.gsd_max * 1.005:
            return False, f"GSD {ref.gsd:.3g} m (validated: {self.gsd_min:g}-{self.gsd_max:g} m)"
        return True, ""


def band_kind(ref: ImageRef) -> str:
    """``pan`` when one band is read as grey, else ``rgb``."""
    return "pan" if len(set(ref.rgb_bands)) == 1 else "rgb"
