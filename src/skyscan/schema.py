"""The detections table: the product's API between stages and engines.

One row a detection. The local and Spark engines produce exactly these columns, in this
order. Geometry columns are WKB in EPSG:4326 (lon/lat); ``geometry`` is the footprint
polygon (the GeoParquet primary column), ``centroid`` the centre point. For an image with
no georeferencing both are null and ``georeferenced`` is false; the pixel box is always set.
Joined metadata columns (from sidecars or a metadata table) follow these, prefixed ``meta_``.
"""

from __future__ import annotations

import pyarrow as pa

from skyscan import arrow_arrays

# xView type ids for the vehicle classes skyscan ships (xview_class_labels.txt).
XVIEW_TYPE_IDS = {"car": 18, "bus": 19, "truck": 23}

DETECTION_FIELDS: list[pa.Field] = [
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("image_id", pa.string(), nullable=False),
    pa.field("image_path", pa.string(), nullable=False),
    pa.field(
        "detection_id", pa.string(), nullable=False
    ),  # image_id + index, stable across engines
    pa.field("class_name", pa.string(), nullable=False),
    pa.field("class_id", pa.int32(), nullable=False),  # index in the model card's classes
    pa.field("xview_type_id", pa.int32()),  # null when the class has no xView id
    pa.field("score", pa.float32(), nullable=False),
    # every class's score at this detection, in the card's class order (null: the model
    # gives only the winning class's); overlapping boxes of other classes were merged in
    pa.field("class_scores", pa.list_(pa.float32())),
    pa.field("px_xmin", pa.float64(), nullable=False),  # box in image pixels (col, row)
    pa.field("px_ymin", pa.float64(), nullable=False),
    pa.field("px_xmax", pa.float64(), nullable=False),
    pa.field("px_ymax", pa.float64(), nullable=False),
    pa.field("chip_col_off", pa.int32(), nullable=False),  # window the object was seen in
    pa.field("chip_row_off", pa.int32(), nullable=False),
    pa.field("chip_width", pa.int32(), nullable=False),
    pa.field("chip_height", pa.int32(), nullable=False),
    # the box reaches the image's border: the vehicle may continue beyond it
    pa.field("truncated", pa.bool_(), nullable=False),
    pa.field("lon", pa.float64()),  # centre point, EPSG:4326
    pa.field("lat", pa.float64()),
    pa.field("src_x", pa.float64()),  # centre point in the source CRS
    pa.field("src_y", pa.float64()),
    pa.field("src_crs", pa.string()),  # "EPSG:n" where known, else WKT; null without georef
    pa.field("gsd_m", pa.float64()),  # source ground sample distance, metres per pixel
    pa.field("area_m2", pa.float64()),  # footprint area on the ground
    pa.field("georeferenced", pa.bool_(), nullable=False),
    pa.field("georef_source", pa.string(), nullable=False),
    pa.field("model_id", pa.string(), nullable=False),
    # the image lies in the model card's validated range (GSD, bands); null when the card
    # declares none or the image's GSD is unknown
    pa.field("in_validated_range", pa.bool_()),
    pa.field("geometry", pa.binary()),  # footprint polygon, WKB, EPSG:4326
    pa.field("centroid", pa.binary()),  # centre point, WKB, EPSG:4326
]

DETECTION_SCHEMA = pa.schema(DETECTION_FIELDS)
DETECTION_COLUMNS = [f.name for f in DETECTION_FIELDS]
METADATA_PREFIX = "meta_"

ERROR_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),  # ingest | read | detect | write
        pa.field("error_type", pa.string(), nullable=False),
        pa.field("message", pa.string(), nullable=False),
    ]
)


def empty_detections() -> pa.Table:
    """An empty detections table with the contract's schema."""
    return arrow_arrays.empty_table(DETECTION_SCHEMA)
