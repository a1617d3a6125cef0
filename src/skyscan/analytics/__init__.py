"""Geospatial analytics on the detections table: within an area, spatial joins, H3 counts,
DBSCAN clusters.

One module per kind of operation. Each has a pure array core (numpy / shapely arrays in,
arrays out) that an engine can run per partition, and a thin table wrapper over
GeoDataFrames that reports what it did (reprojections, repairs, rows it could not place)
in a ``notes`` tuple. Coordinates are lon/lat (x, y) everywhere; H3's lat-first order
exists only inside :mod:`skyscan.analytics.h3cells`. Distances and areas are metres,
computed in a local metric CRS (:mod:`skyscan.analytics.metric`).

Public functions (array cores first; ``lon``/``lat`` are float64 arrays in EPSG:4326,
non-finite values mean "no coordinates" and never match anything)::

    # skyscan.analytics.join
    join_points_to_zones(lon, lat, zones, predicate="intersects", distance_m=None)
        -> (point_idx int64[k], zone_idx int64[k])    # sorted by (point, zone)
    join_geometries_to_zones(geoms, zones, predicate="intersects", distance_m=None)
        -> (geom_idx, zone_idx)                        # footprints or any geometry
    spatial_join(detections, zones, *, using="centroid", predicate="intersects",
                 distance_m=None, how="inner", zone_columns=None) -> JoinResult
    PREDICATES = ("intersects", "within", "contains", "dwithin")

    # skyscan.analytics.within
    points_in_areas(lon, lat, areas, predicate="intersects") -> bool[n]
    within_area(detections, areas, *, using="centroid", predicate="intersects") -> WithinResult

    # skyscan.analytics.h3cells   (keyword-only lon/lat so an axis swap cannot happen)
    h3_cells(*, lon, lat, res) -> uint64[n]            # 0 where coordinates are missing
    cells_to_strings(cells) -> object[n]               # hex ids, None for 0
    cell_polygons(cells) -> shapely Polygon[n]         # hexagon boundaries, lon/lat
    check_resolution(res) -> int

    # skyscan.analytics.cluster
    dbscan_labels(lon, lat, *, eps_m, min_samples) -> int64[n]   # -1 noise / no coords
    cluster_detections(detections, *, eps_m, min_samples) -> ClusterResult

    # skyscan.analytics.aggregate
    count_by(frame, by) -> DataFrame                   # count (+ mean_score) per key
    aggregate_by_columns(detections, by) -> AggregateResult
    aggregate_by_h3(detections, res, by=()) -> AggregateResult  # h3_cell + hexagon
    aggregate_by_zone(detections, zones, by=(), **join_options) -> AggregateResult
    pivot_counts(table, column, index) -> DataFrame    # e.g. one count column per date

    # skyscan.analytics.footprints
    footprint_measures(geoms_4326) -> (area_m2, lon, lat)
    with_footprint_measures(detections) -> GeoDataFrame   # area_m2, lon/lat, centroid

    # skyscan.analytics.metric
    metric_groups(lon, lat) -> list[(crs, index array)]   # points per local metric CRS
    project_xy(lon, lat, dst) -> (x, y);  project_geometries(geoms, dst, src="EPSG:4326")
    areas_m2(geoms_4326) -> float64[n]

    # skyscan.analytics.areas / frames / output
    read_areas(source, *, crs=None, layer=None, polygons_only=True) -> Areas  # path or WKT
    prepare_areas(frame, *, source="areas", crs=None, polygons_only=True) -> Areas
    read_detections(path, *, crs=None) -> GeoDataFrame
    write_table(frame, path, *, overwrite=False) -> Path  # .parquet/.geojson/.csv
"""

from __future__ import annotations
