"""Counts of detections per zone, per H3 cell, per class, per any metadata column.

Every count table has ``count`` (detections) and ``mean_score``; keys with missing
values are kept as their own group (never dropped). :func:`pivot_counts` turns one key
(for example ``meta_capture_date``) into columns, so two dates of the same place sit side
by side with their ``change``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from skyscan.analytics.frames import check_detections_crs, detection_lonlat, note, report_unplaced
from skyscan.analytics.h3cells import cell_polygons, cells_to_strings, check_resolution, h3_cells
from skyscan.errors import InputError

if TYPE_CHECKING:
    import geopandas as gpd

    from skyscan.analytics.areas import Areas

logger = logging.getLogger(__name__)

H3_COLUMN = "h3_cell"


@dataclass(frozen=True)
class AggregateResult:
    """A count table (a GeoDataFrame when rows have a shape: zones, H3 cells)."""

    table: pd.DataFrame
    notes: tuple[str, ...]


def count_by(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Count rows (and average ``score`` when present) per combination of ``by``.

    >>> df = pd.DataFrame({"class_name": ["car", "car", "bus"], "score": [0.5, 0.7, 0.9]})
    >>> count_by(df, ["class_name"]).to_dict("records")
    [{'class_name': 'bus', 'count': 1, 'mean_score': 0.9}, {'class_name': 'car', 'count': 2, 'mean_score': 0.6}]
    """
    by = list(by)
    _check_columns(frame, by)
    if not by:
        raise InputError("'by' needs at least one column to group on")
    grouped = frame.groupby(by, dropna=False, sort=True, observed=True)
    out = grouped.size().rename("count").reset_index()
    if "score" in frame.columns:
        scores = grouped["score"].mean().reset_index(drop=True).astype(np.float64).round(6)
        out["mean_score"] = scores.to_numpy()
    out["count"] = out["count"].astype(np.int64)
    return out


def _check_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        meta = [c for c in frame.columns if str(c).startswith("meta_")]
        raise InputError(
            f"unknown column(s) {unknown} to aggregate by; available: class_name, image_id, "
            f"model_id{', ' + ', '.join(meta) if meta else ''} and the other detection columns"
        )


def aggregate_by_columns(detections: pd.DataFrame, by: Sequence[str]) -> AggregateResult:
    """Counts per class, per metadata column, per any columns of the detections."""
    table = count_by(pd.DataFrame(detections.drop(columns=_geometry_columns(detections))), by)
    return AggregateResult(
        table,
        (
            f"aggregate by {', '.join(by)}: {len(table)} group(s) from {len(detections)} detection(s)",
        ),
    )


def _geometry_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if frame[c].dtype.name == "geometry"]


def aggregate_by_h3(
    detections: gpd.GeoDataFrame, res: int, by: Sequence[str] = ()
) -> AggregateResult:
    """Counts per H3 cell at ``res`` (and per ``by``), with each cell's hexagon."""
    import geopandas as gpd

    res = check_resolution(res)
    notes: list[str] = []
    detections = check_detections_crs(detections, notes)
    lon, lat = detection_lonlat(detections)
    cells = h3_cells(lon=lon, lat=lat, res=res)
    placed = cells != 0
    report_unplaced(~placed, notes, "are not counted in any H3 cell")
    keys = (
        pd.DataFrame(detections.drop(columns=_geometry_columns(detections)))[list(by)]
        if by
        else pd.DataFrame(index=detections.index)
    )
    keys = keys.loc[placed].copy()
    keys.insert(0, "_cell", cells[placed])
    if "score" in detections.columns:
        keys["score"] = detections["score"].to_numpy()[placed]
    table = count_by(keys, ["_cell", *by])
    cell_ids = table.pop("_cell").to_numpy(np.uint64)
    table.insert(0, H3_COLUMN, cells_to_strings(cell_ids))
    table.insert(1, "h3_res", np.int8(res))
    out = gpd.GeoDataFrame(table, geometry=cell_polygons(cell_ids), crs="EPSG:4326")
    note(
        notes,
        f"aggregate per H3 cell (res {res}{', by ' + ', '.join(by) if by else ''}): "
        f"{int(placed.sum())} detection(s) in {np.unique(cell_ids).size} cell(s)",
    )
    return AggregateResult(out, tuple(notes))


def aggregate_by_zone(
    detections: gpd.GeoDataFrame,
    zones: Areas | gpd.GeoDataFrame,
    by: Sequence[str] = (),
    *,
    using: str = "centroid",
    predicate: str = "intersects",
    distance_m: float | None = None,
    zone_columns: list[str] | None = None,
) -> AggregateResult:
    """Counts per zone (and per ``by``), with the zone's geometry and attributes.

    Zones without any detection are kept with ``count`` 0. A detection in two
    overlapping zones counts in both.
    """
    import geopandas as gpd

    from skyscan.analytics.areas import Areas, prepare_areas
    from skyscan.analytics.join import ZONE_PREFIX, spatial_join

    if not isinstance(zones, Areas):
        zones = prepare_areas(zones, source="zones", polygons_only=False)
    joined = spatial_join(
        detections,
        zones,
        using=using,
        predicate=predicate,
        distance_m=distance_m,
        how="inner",
        zone_columns=zone_columns,
    )
    notes = list(joined.notes)
    zone_frame = _zones_in_crs(zones, joined.table.crs)
    attrs = _zone_attribute_frame(zone_frame, zone_columns, ZONE_PREFIX)
    rows = pd.DataFrame(joined.table.drop(columns=_geometry_columns(joined.table)))
    key = ZONE_PREFIX + "index"
    counts = count_by(rows, [key, *by]) if len(rows) else pd.DataFrame(columns=[key, *by, "count"])
    counts[key] = counts[key].astype(np.int64)
    empty = np.setdiff1d(np.arange(len(zone_frame)), counts[key].to_numpy())
    if empty.size:
        zero = pd.DataFrame({key: empty, "count": np.zeros(empty.size, np.int64)})
        counts = pd.concat([counts, zero], ignore_index=True).sort_values(key, kind="stable")
        note(notes, f"{empty.size} zone(s) have no detections (count 0)")
    counts = counts.reset_index(drop=True)
    counts["count"] = counts["count"].astype(np.int64)
    table = counts.merge(attrs, left_on=key, right_index=True, how="left")
    geoms = zone_frame.geometry.to_numpy()[table[key].to_numpy(np.int64)]
    out = gpd.GeoDataFrame(table, geometry=geoms, crs=zone_frame.crs)
    return AggregateResult(out, tuple(notes))


def _zones_in_crs(zones: Areas, crs: object) -> gpd.GeoDataFrame:
    frame = zones.frame
    return frame if frame.crs.equals(crs) else frame.to_crs(crs)


def _zone_attribute_frame(
    zone_frame: gpd.GeoDataFrame, columns: list[str] | None, prefix: str
) -> pd.DataFrame:
    geom = zone_frame.geometry.name
    cols = columns if columns is not None else [c for c in zone_frame.columns if c != geom]
    attrs = pd.DataFrame(zone_frame[cols]).copy()
    attrs.columns = [c if c.startswith(prefix) else prefix + c for c in cols]
    return attrs


def pivot_counts(
    table: pd.DataFrame, column: str, index: Sequence[str] | None = None
) -> pd.DataFrame:
    """One ``count_<value>`` column per value of ``column``; with exactly two values a
    ``change`` column (second minus first, in sorted order) compares them.

    ``index`` defaults to every key column (all but ``column``, ``count``,
    ``mean_score`` and geometry). A geometry column is carried over, one per row.

    >>> t = pd.DataFrame({"h3_cell": ["a", "a", "b"], "date": ["d1", "d2", "d2"], "count": [3, 5, 1]})
    >>> pivot_counts(t, "date").to_dict("records")
    [{'h3_cell': 'a', 'count_d1': 3, 'count_d2': 5, 'change': 2}, {'h3_cell': 'b', 'count_d1': 0, 'count_d2': 1, 'change': 1}]
    """
    geometry = _geometry_columns(table)
    if index is None:
        index = [c for c in table.columns if c not in {column, "count", "mean_score", *geometry}]
    index = list(index)
    _check_columns(table, [column, *index, "count"])
    if not index:
        raise InputError(f"pivot on {column!r} needs at least one other key column to keep")
    values = table[column].astype("string").fillna("null").to_numpy()
    counts = table["count"].to_numpy()
    # Zero-count placeholder rows (a zone without detections has no value to pivot on)
    # keep their row but add no column.
    placeholder = table[column].isna().to_numpy() & (counts == 0)
    keyed = pd.DataFrame(table[index]).assign(_value=values, count=counts)
    grouped = keyed.groupby([*index, "_value"], dropna=False, sort=True)["count"].sum()
    wide = grouped.unstack("_value", fill_value=0)
    levels = sorted(set(values[~placeholder].tolist()))
    wide = wide[levels].astype(np.int64)
    wide.columns = pd.Index([f"count_{v}" for v in levels])
    if len(levels) == 2:
        wide["change"] = wide.iloc[:, 1] - wide.iloc[:, 0]
    out = wide.reset_index()
    if geometry:
        import geopandas as gpd

        geo_name = geometry[0]
        firsts = pd.DataFrame(table[index]).assign(
            _g=np.asarray(table[geo_name].values, dtype=object)
        )
        firsts = firsts.groupby(index, dropna=False, sort=True)["_g"].first().reset_index()
        out = out.merge(firsts, on=index, how="left")
        out = gpd.GeoDataFrame(
            out.drop(columns="_g"), geometry=out["_g"].to_numpy(), crs=table[geo_name].crs
        )
    return out
