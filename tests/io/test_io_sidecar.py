"""XML sidecars: safe parsing, XPath subset, FGDC/ArcGIS bounds, XmlMapping.from_json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rasters
from skyscan.errors import CRSError, MetadataError
from skyscan.io.sidecar import XmlMapping, find_sidecar, parse_xml, read_sidecar, xpath_text


def test_find_sidecar_prefers_image_name_and_ignores_aux_xml(tmp_path: Path) -> None:
    img = tmp_path / "s.tif"
    img.write_bytes(b"x")
    (tmp_path / "s.tif.aux.xml").write_text("<PAMDataset/>")
    assert find_sidecar(img) is None
    (tmp_path / "s.xml").write_text("<a/>")
    assert find_sidecar(img) == tmp_path / "s.xml"
    (tmp_path / "s.tif.xml").write_text("<a/>")
    assert find_sidecar(img) == tmp_path / "s.tif.xml"


def test_doctype_without_entities_is_allowed(tmp_path: Path) -> None:
    p = rasters.write_fgdc_xml(tmp_path / "f.xml", 1, 2, 3, 4, doctype=True)
    assert parse_xml(p).tag == "metadata"


def test_entity_declaration_refused(tmp_path: Path) -> None:
    p = tmp_path / "e.xml"
    p.write_text('<!DOCTYPE m [<!ENTITY a "b">]><m>&a;</m>')
    with pytest.raises(MetadataError, match=r"e\.xml: refused hostile XML \(EntitiesForbidden"):
        parse_xml(p)


def test_oversized_xml_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import skyscan.io.sidecar as sidecar_mod

    monkeypatch.setattr(sidecar_mod, "MAX_SIDECAR_BYTES", 10)
    p = tmp_path / "big.xml"
    p.write_text("<m>" + "x" * 100 + "</m>")
    with pytest.raises(MetadataError, match="limit 10"):
        parse_xml(p)


def test_xpath_subset(tmp_path: Path) -> None:
    p = tmp_path / "x.xml"
    p.write_text('<root><a k="1"><b>  text </b></a><a k="2"><b>two</b></a><c/></root>')
    root = parse_xml(p)
    assert xpath_text(root, "a/b") == "text"
    assert xpath_text(root, "a[@k='2']/b") == "two"
    assert xpath_text(root, "a/@k") == "1"
    assert xpath_text(root, "/root/a/b/text()") == "text"
    assert xpath_text(root, "//b") == "text"
    assert xpath_text(root, "/other/a") is None
    assert xpath_text(root, "c") is None  # empty element
    assert xpath_text(root, "missing") is None


def test_arcgis_bounding_box(tmp_path: Path) -> None:
    p = tmp_path / "a.xml"
    p.write_text(
        "<metadata><dataIdInfo><dataExt><geoEle><GeoBndBox>"
        "<westBL>10</westBL><eastBL>10.5</eastBL><northBL>47</northBL><southBL>46.5</southBL>"
        "</GeoBndBox></geoEle></dataExt></dataIdInfo></metadata>"
    )
    info = read_sidecar(p, 100, 50)
    assert info.crs == "EPSG:4326"
    assert info.transform == pytest.approx((0.005, 0.0, 10.0, 0.0, -0.01, 47.0))


def test_fgdc_with_missing_or_bad_bounds(tmp_path: Path) -> None:
    p = tmp_path / "f.xml"
    p.write_text(
        "<metadata><idinfo><spdom><bounding><westbc>1</westbc></bounding></spdom></idinfo></metadata>"
    )
    with pytest.raises(MetadataError, match="lacks one of"):
        read_sidecar(p, 10, 10)
    rasters.write_fgdc_xml(p, west=2, south=0, east=1, north=1)
    with pytest.raises(MetadataError, match="east > west"):
        read_sidecar(p, 10, 10)


def test_unrelated_xml_gives_nothing(tmp_path: Path) -> None:
    p = tmp_path / "u.xml"
    p.write_text("<notes><line>hello</line></notes>")
    info = read_sidecar(p, 10, 10)
    assert (info.transform, info.crs, info.image_id, info.attributes) == (None, None, None, {})


def test_mapping_errors(tmp_path: Path) -> None:
    p = tmp_path / "m.xml"
    p.write_text("<m><e>abc</e><n>5</n><crs>not a crs</crs></m>")
    with pytest.raises(MetadataError, match="easting must be a number"):
        read_sidecar(p, 10, 10, XmlMapping(easting="e", northing="n", gsd="n"))
    with pytest.raises(MetadataError, match="not found"):
        read_sidecar(p, 10, 10, XmlMapping(easting="x", northing="n"))
    p.write_text("<m><e>1</e><n>5</n><crs>not a crs</crs></m>")
    with pytest.raises(MetadataError, match="needs a positive GSD"):
        read_sidecar(p, 10, 10, XmlMapping(easting="e", northing="n"))
    assert read_sidecar(
        p, 10, 10, XmlMapping(easting="e", northing="n"), default_gsd=2.0
    ).transform == (2.0, 0.0, 1.0, 0.0, -2.0, 5.0)
    with pytest.raises(CRSError, match=r"m\.xml \(crs\)"):
        read_sidecar(p, 10, 10, XmlMapping(easting="e", northing="n", gsd="n", crs="crs"))
    with pytest.raises(MetadataError, match="both 'easting' and 'northing'"):
        XmlMapping(easting="e")


def test_mapping_from_json(tmp_path: Path) -> None:
    p = tmp_path / "map.json"
    p.write_text(
        json.dumps(
            {
                "easting": "e",
                "northing": "n",
                "crs": "c",
                "gsd": "g",
                "extra": {"sensor": "s/@name"},
                "namespaces": {"v": "urn:v"},
            }
        )
    )
    m = XmlMapping.from_json(p)
    assert (m.easting, m.northing, m.crs, m.gsd, m.extra, m.namespaces) == (
        "e",
        "n",
        "c",
        "g",
        {"sensor": "s/@name"},
        {"v": "urn:v"},
    )
    p.write_text(json.dumps({"easting": "e", "northing": "n", "eastings": "x"}))
    with pytest.raises(MetadataError, match=r"unknown keys \['eastings'\]"):
        XmlMapping.from_json(p)
    p.write_text(json.dumps({"extra": ["a"]}))
    with pytest.raises(MetadataError, match="'extra' must map names to strings"):
        XmlMapping.from_json(p)
    p.write_text("{not json")
    with pytest.raises(MetadataError, match=r"map\.json: cannot read XML mapping JSON"):
        XmlMapping.from_json(p)
