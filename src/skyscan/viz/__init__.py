"""The offline HTML map of detections.

:func:`make_map` writes one self-contained HTML file (Leaflet inlined from a registry
package, the data as compact typed arrays): a heatmap, markers coloured per class with a
popup each, the source imagery as an overlay, optional H3 / zones / cluster layers, a
legend, a layer switcher and an offline basemap (land, coasts, borders, place names). It
works from disk and requests nothing from the network.
"""

from __future__ import annotations

from skyscan.viz.build import MapResult, build_map, make_map

__all__ = ["MapResult", "build_map", "make_map"]
