"""Coordinates: CRS handling (:mod:`skyscan.geo.crs`) and pixel boxes to map
footprints (:mod:`skyscan.geo.footprints`). Pure functions on arrays; no file I/O."""

from __future__ import annotations

from skyscan.geo.crs import (
    from_wgs84,
    get_transformer,
    gsd_metres,
    local_metric_crs,
    normalize_crs,
    to_wgs84,
)

# The function ``footprints`` is not re-exported here: it would shadow the submodule
# ``skyscan.geo.footprints``; import it from there.
from skyscan.geo.footprints import Footprints, crs_to_pixel, pixel_to_crs

__all__ = [
    "Footprints",
    "crs_to_pixel",
    "from_wgs84",
    "get_transformer",
    "gsd_metres",
    "local_metric_crs",
    "normalize_crs",
    "pixel_to_crs",
    "to_wgs84",
]
