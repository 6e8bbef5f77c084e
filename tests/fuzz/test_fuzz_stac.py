"""Fuzzing STAC JSON: a catalogue, a collection and an item read by crawl, read_catalog and
CatalogIndex (then searched)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixtures_fuzz import FUZZ, expect_clean, json_documents
from satlearn.catalog import CatalogIndex, crawl, read_catalog

pytestmark = pytest.mark.timeout(120)

CATALOG = {
    "type": "Catalog",
    "stac_version": "1.0.0",
    "id": "root",
    "description": "fuzz root",
    "links": [
        {"rel": "root", "href": "./catalog.json"},
        {"rel": "child", "href": "./c1/collection.json"},
    ],
}
COLLECTION = {
    "type": "Collection",
    "stac_version": "1.0.0",
    "id": "c1",
    "description": "fuzz collection",
    "license": "CC-BY-4.0",
    "extent": {
        "spatial": {"bbox": [[10.0, 45.0, 11.0, 46.0]]},
        "temporal": {"interval": [["2023-06-01T00:00:00Z", None]]},
    },
    "links": [
        {"rel": "root", "href": "../catalog.json"},
        {"rel": "parent", "href": "../catalog.json"},
        {"rel": "item", "href": "./item-1/item-1.json"},
    ],
}
ITEM = {
    "type": "Feature",
    "stac_version": "1.0.0",
    "id": "item-1",
    "collection": "c1",
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[10.0, 45.0], [11.0, 45.0], [11.0, 46.0], [10.0, 46.0], [10.0, 45.0]]],
    },
    "bbox": [10.0, 45.0, 11.0, 46.0],
    "properties": {"datetime": "2023-06-01T10:00:00Z", "eo:cloud_cover": 12.5},
    "assets": {"data": {"href": "./scene.tif", "type": "image/tiff"}},
    "links": [{"rel": "root", "href": "../../catalog.json"}],
}
FILES = {
    "catalog.json": CATALOG,
    "c1/collection.json": COLLECTION,
    "c1/item-1/item-1.json": ITEM,
}
NAMES = ["catalog.json", "collection.json", "item-1.json", "root", "c1", "item-1"]


@FUZZ
@given(which=st.sampled_from(sorted(FILES)), data=st.data())
def test_a_damaged_document_is_read_or_named(which, data):
    body = data.draw(json_documents(FILES[which]), label=which)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, doc in FILES.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body if name == which else json.dumps(doc).encode())
        expect_clean(lambda: read_catalog(root), NAMES)
        result = expect_clean(lambda: crawl(root), NAMES)
        if result is not None:
            for problem in result.problems:
                assert str(problem)
            index = expect_clean(lambda: CatalogIndex.from_items(result.items), NAMES)
            if index is not None:
                expect_clean(
                    lambda: index.search(bbox=[10, 45, 12, 47], datetime="2023-01-01/2024-01-01"),
                    NAMES,
                )
        expect_clean(lambda: crawl(root, strict=True), NAMES)
        expect_clean(lambda: CatalogIndex.from_catalog(root, strict=False), NAMES)
