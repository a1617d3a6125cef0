"""Reading and checking areas: formats, CRS discipline, repairs, bad input."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from skyscan.analytics.areas import is_wkt, prepare_areas, read_areas
from skyscan.errors import CRSError, InputError

SQUARE = "POLYGON ((8.5 47.3, 8.6 47.3, 8.6 47.4, 8.5 47.4, 8.5 47.3))"
BOWTIE = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)])  # self-intersecting


def _zones(crs: str | None = "EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["a", "b"]},
        geometry=[shapely.box(8.5, 47.3, 8.55, 47.35), shapely.box(8.55, 47.35, 8.6, 47.4)],
        crs=crs,
    )


def test_wkt_needs_a_crs_and_says_how_to_set_one() -> None:
    with pytest.raises(CRSError, match=r"no CRS.*--zones-crs"):
        read_areas(SQUARE)
    areas = read_areas(SQUARE, crs="EPSG:4326")
    assert len(areas.frame) == 1 and areas.frame.crs.to_epsg() == 4326
    assert areas.notes == ()


def test_ewkt_srid_is_the_crs() -> None:
    areas = read_areas(
        "SRID=2056;POLYGON ((2683000 1247000, 2684000 1247000, 2684000 1248000, 2683000 1247000))"
    )
    assert areas.frame.crs.to_epsg() == 2056


def test_is_wkt_tells_paths_from_wkt() -> None:
    assert is_wkt(SQUARE) and is_wkt("  multipolygon (((0 0, 1 0, 1 1, 0 0)))")
    assert is_wkt("SRID=2056;GEOMETRYCOLLECTION (POINT (1 2))")
    assert not is_wkt("zones/polygons.geojson")


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".parquet"])
def test_files_in_each_format(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"zones{suffix}"
    zones = _zones().to_crs("EPSG:2056")
    if suffix == ".parquet":
        zones.to_parquet(path)
    else:
        zones.to_file(path)
    areas = read_areas(path)
    assert list(areas.frame["name"]) == ["a", "b"]
    assert areas.frame.crs.to_epsg() == 2056  # GDAL keeps a non-WGS84 CRS in GeoJSON too


def test_shapefile_without_prj_needs_crs(tmp_path: Path) -> None:
    path = tmp_path / "zones.shp"
    _zones().to_file(path)
    path.with_suffix(".prj").unlink()
    with pytest.raises(CRSError, match="has no CRS"):
        read_areas(path)
    assert read_areas(path, crs="EPSG:4326").frame.crs.to_epsg() == 4326


def test_declared_crs_never_overrides_the_files(tmp_path: Path) -> None:
    path = tmp_path / "zones.parquet"
    _zones().to_parquet(path)
    with pytest.raises(CRSError, match=r"declares.*EPSG:2056"):
        read_areas(path, crs="EPSG:2056")


def test_invalid_polygon_is_repaired_and_reported() -> None:
    frame = gpd.GeoDataFrame(
        {"name": ["ok", "bowtie"]}, geometry=[shapely.box(5, 5, 6, 6), BOWTIE], crs="EPSG:4326"
    )
    areas = prepare_areas(frame, source="zones")
    assert shapely.is_valid(areas.geometries).all()
    assert areas.geometries[1].area == pytest.approx(2.0)  # both triangles kept
    assert len(areas.notes) == 1 and "repaired 1 invalid geometry" in areas.notes[0]
    assert "row 1" in areas.notes[0] and "Self-intersection" in areas.notes[0]
    assert frame.geometry.iloc[1].equals(BOWTIE)  # input untouched


def test_empty_inputs_are_errors() -> None:
    with pytest.raises(InputError, match="0 rows"):
        prepare_areas(gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"))
    frame = gpd.GeoDataFrame(
        geometry=[shapely.box(0, 0, 1, 1), shapely.Polygon(), None], crs="EPSG:4326"
    )
    with pytest.raises(InputError, match=r"2 area\(s\) are empty or null \(rows 1, 2\)"):
        prepare_areas(frame)
    with pytest.raises(InputError, match="no area left after repair"):
        prepare_areas(
            gpd.GeoDataFrame(
                geometry=[shapely.Polygon([(0, 0), (1, 1), (2, 2), (0, 0)])], crs="EPSG:4326"
            )
        )


def test_mixed_geometry_types_are_refused_for_polygon_operations() -> None:
    frame = gpd.GeoDataFrame(
        geometry=[
            shapely.box(0, 0, 1, 1),
            shapely.Point(3, 3),
            shapely.LineString([(0, 0), (1, 1)]),
        ],
        crs="EPSG:4326",
    )
    with pytest.raises(
        InputError, match=r"expected Polygon or MultiPolygon.*Point, LineString.*rows 1, 2.*mixed"
    ):
        prepare_areas(frame)
    # Distance joins take any geometry (roads as lines, sites as points).
    assert len(prepare_areas(frame, polygons_only=False).frame) == 3


def test_polygon_collections_become_multipolygons() -> None:
    coll = shapely.GeometryCollection([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)])
    areas = prepare_areas(gpd.GeoDataFrame(geometry=[coll], crs="EPSG:4326"))
    assert areas.geometries[0].geom_type == "MultiPolygon"


def test_not_a_file_and_not_wkt() -> None:
    with pytest.raises(InputError, match="no such file, and not WKT"):
        read_areas("nowhere/zones.geojson")
    with pytest.raises(InputError, match="cannot parse WKT"):
        read_areas("POLYGON ((0 0, 1", crs="EPSG:4326")


def _geojson(path: Path, features: list[dict[str, object]], crs: str | None = None) -> Path:
    import json

    data: dict[str, object] = {"type": "FeatureCollection", "features": features}
    if crs:
        data["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _feature(geom: shapely.Geometry | None) -> dict[str, object]:
    return {
        "type": "Feature",
        "properties": {},
        "geometry": None if geom is None else shapely.geometry.mapping(geom),
    }


@pytest.mark.parametrize(
    ("features", "crs"),
    [
        ([shapely.box(8.5, 47.3, 8.6, 47.4)], None),
        ([shapely.box(2683000, 1247000, 2684000, 1248000)], "urn:ogc:def:crs:EPSG::2056"),
        ([BOWTIE, shapely.box(3, 3, 4, 4)], None),  # repaired, with a note
        ([shapely.GeometryCollection([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)])], None),
    ],
)
def test_the_light_reader_gives_what_geopandas_reads(
    tmp_path: Path, features: list[shapely.Geometry], crs: str | None
) -> None:
    """read_area_shapes parses GeoJSON itself (no pandas at a run's start): the same
    geometries, CRS and notes as read_areas through GDAL."""
    from skyscan.analytics.areas import read_area_shapes

    path = _geojson(tmp_path / "a.geojson", [_feature(g) for g in features], crs)
    light, full = read_area_shapes(path), read_areas(path)
    assert light.crs.equals(full.frame.crs)
    assert shapely.equals(light.geometries, full.geometries).all()
    assert light.notes == full.notes and light.source == full.source
    wkt = f"SRID=2056;{features[0].wkt}"
    assert shapely.equals(read_area_shapes(wkt).geometries, read_areas(wkt).geometries).all()


def test_the_light_reader_refuses_what_read_areas_refuses(tmp_path: Path) -> None:
    from skyscan.analytics.areas import read_area_shapes

    null = _geojson(tmp_path / "null.geojson", [_feature(shapely.box(0, 0, 1, 1)), _feature(None)])
    line = _geojson(tmp_path / "line.geojson", [_feature(shapely.LineString([(0, 0), (1, 1)]))])
    none = _geojson(tmp_path / "none.geojson", [])
    for path, match in ((null, "empty or null"), (line, "LineString"), (none, "no areas")):
        with pytest.raises(InputError, match=match):
            read_area_shapes(path)
    with pytest.raises(CRSError, match="declares"):
        read_area_shapes(null, crs="EPSG:2056")
    with pytest.raises(CRSError, match=r"no CRS.*--zones-crs"):
        read_area_shapes(SQUARE)
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.geojson.*cannot read"):
        read_area_shapes(bad)
