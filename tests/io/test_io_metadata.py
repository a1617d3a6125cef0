"""Metadata tables (CSV/Parquet) keyed by image id or file name."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import rasters
from skyscan.errors import MetadataError
from skyscan.io.metadata import load_table, lookup
from skyscan.io.reader import ReadOptions, open_image


def test_csv_keyed_by_image_id(tmp_path: Path) -> None:
    t = tmp_path / "m.csv"
    t.write_text("image_id,zone,speed\n007,A,1.5\n8,B,\n")
    rows = load_table(t)["image_id"]
    assert rows["007"] == {"image_id": "007", "zone": "A", "speed": "1.5"}  # CSV cells stay text
    assert rows["8"] == {"image_id": "8", "zone": "B", "speed": None}  # empty cell -> None
    assert lookup(t, "nope", "/x/nope.tif") == {}


def test_parquet_keyed_by_filename_renames_image(tmp_path: Path) -> None:
    t = tmp_path / "m.parquet"
    pd.DataFrame({"filename": ["scene.tif"], "image_id": ["site-1"], "n": [3]}).to_parquet(t)
    p = rasters.write_geotiff(tmp_path / "scene.tif")
    ref = open_image(p, ReadOptions(metadata_table=str(t)))
    assert ref.image_id == "site-1"
    assert ref.metadata == {"n": 3}


def test_missing_key_column_names_columns(tmp_path: Path) -> None:
    t = tmp_path / "bad.csv"
    t.write_text("name,zone\na,b\n")
    with pytest.raises(
        MetadataError,
        match=r"bad\.csv: .*'image_id' or 'image_path' or 'filename'.*\['name', 'zone'\]",
    ):
        ReadOptions(metadata_table=str(t))


def test_duplicate_keys_and_bad_format(tmp_path: Path) -> None:
    t = tmp_path / "dup.csv"
    t.write_text("image_id,z\na,1\na,2\n")
    with pytest.raises(MetadataError, match="duplicate values"):
        load_table(t)
    x = tmp_path / "m.xlsx"
    x.write_text("x")
    with pytest.raises(MetadataError, match=r"must be \.csv or \.parquet"):
        load_table(x)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1garbage")
    with pytest.raises(MetadataError, match=r"broken\.parquet: cannot read"):
        load_table(broken)


def test_table_reloaded_when_changed(tmp_path: Path) -> None:
    t = tmp_path / "m.csv"
    t.write_text("image_id,v\na,1\n")
    assert lookup(t, "a", "a.tif") == {"image_id": "a", "v": "1"}
    t.write_text("image_id,v\na,22\n")
    assert lookup(t, "a", "a.tif") == {"image_id": "a", "v": "22"}


def test_a_table_keyed_by_path_matches_urls_in_gdals_form(tmp_path: Path) -> None:
    t = tmp_path / "by_path.csv"
    t.write_text("image_path,zone\ns3://b/tiles/a.tif,north\n/data/b.tif,south\n")
    assert lookup(t, "x", "/vsis3/b/tiles/a.tif") == {"zone": "north"}
    assert lookup(t, "x", "s3://b/tiles/a.tif") == {"zone": "north"}
    assert lookup(t, "y", "/data/b.tif") == {"zone": "south"}
    assert lookup(t, "z", "/elsewhere/b.tif") == {}  # a path, not a file name
