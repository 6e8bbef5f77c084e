"""validate / validate_catalog: STAC JSON schemas checked offline, clear messages."""

from __future__ import annotations

import copy
import importlib
import json
import socket
from pathlib import Path

import numpy as np
import pystac
import pytest

from conftest import write_geotiff
from satlearn.catalog import (
    CatalogError,
    build_catalog,
    item_from_raster,
    validate,
    validate_catalog,
)
from satlearn.catalog.validation import errors_only, schema_available

# The module, not the function of the same name that satlearn.catalog re-exports.
schema_store = importlib.import_module("satlearn.catalog.schema_store")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch):
    """Validation must never reach the network: any connection attempt fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("validation tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def item(tmp_path: Path) -> dict:
    path = write_geotiff(
        tmp_path / "s2_2021-06-01.tif",
        np.ones((2, 8, 8), "uint16"),
        nodata=0,
        descriptions=["red", "nir"],
    )
    return item_from_raster(path).to_dict(include_self_link=False)


def test_a_valid_item_as_dict_object_and_file(item: dict, tmp_path: Path):
    assert validate(item) == []
    assert validate(pystac.Item.from_dict(copy.deepcopy(item))) == []
    path = tmp_path / "item.json"
    path.write_text(json.dumps(item))
    assert validate(path) == []
    assert validate(str(path)) == []


@pytest.mark.parametrize(
    ("change", "field", "words", "schema"),
    [
        (
            lambda d: d["properties"].update({"proj:code": 5}),
            "$.properties.proj:code",
            "not of type",
            "projection",
        ),
        (
            lambda d: d["properties"].update({"proj:shape": [8]}),
            "$.properties.proj:shape",
            "too short",
            "projection",
        ),
        (
            lambda d: d["assets"]["data"]["eo:bands"][0].update(common_name="infrared"),
            "$.assets.data.eo:bands[0].common_name",
            "is not one of",
            "eo",
        ),
        (
            lambda d: d["assets"]["data"]["raster:bands"][0].update(data_type="int128"),
            "$.assets.data.raster:bands[0].data_type",
            "is not one of",
            "raster",
        ),
        (
            lambda d: d["assets"]["data"].update({"file:checksum": "xyz"}),
            "$.assets.data.file:checksum",
            "does not match",
            "file",
        ),
        (lambda d: d["properties"].pop("datetime"), "$.properties", "datetime", "item"),
        (lambda d: d.pop("geometry"), "$", "'geometry' is a required property", "item"),
        (lambda d: d.update(bbox=[0, 0]), "$.bbox", "", "item"),
    ],
)
def test_an_invalid_item_names_the_item_and_the_field(item: dict, change, field, words, schema):
    change(item)
    problems = errors_only(validate(item, href="somewhere/item.json"))
    assert problems, "the broken item was accepted"
    fields = [p.field for p in problems]
    assert field in fields, fields
    problem = problems[fields.index(field)]
    assert words in problem.message
    assert schema in problem.schema
    text = str(problem)
    assert text.startswith("error: 's2_2021-06-01' (somewhere/item.json): ")
    assert field in text


def test_unknown_extension_and_unknown_version_are_warnings(item: dict):
    item["stac_extensions"].append("https://example.com/mystery/v1.0.0/schema.json")
    problems = validate(item)
    (warning,) = problems
    assert warning.severity == "warning" and "unknown extension" in warning.message
    assert "mystery" in str(warning)
    item["stac_version"] = "0.9.0"
    messages = [p.message for p in validate(item)]
    assert any("no offline schema for STAC 0.9.0" in m for m in messages)
    assert errors_only(validate(item)) == []


def test_a_schema_reference_that_is_not_offline_is_a_warning(item: dict):
    # proj:projjson refers to the PROJ JSON schema on proj.org, which is not shipped.
    item["properties"]["proj:projjson"] = {"type": "GeographicCRS"}
    (warning,) = validate(item)
    assert warning.severity == "warning" and warning.field == "$ref"
    assert "proj.org" in warning.message and "not available offline" in warning.message


def test_not_stac_at_all(tmp_path: Path):
    (problem,) = validate({"type": "FeatureCollection", "features": []})
    assert problem.field == "$.type" and "not a STAC type" in problem.message
    (problem,) = validate({"type": "Feature", "id": "x"})
    assert "'stac_version' is a required property" in problem.message
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    (problem,) = validate(bad)
    assert problem.href == str(bad) and "invalid JSON" in problem.message
    with pytest.raises(CatalogError, match="cannot validate a int"):
        validate(3)


def test_every_written_catalogue_validates_and_breakage_is_found(tmp_path: Path):
    src = tmp_path / "data"
    src.mkdir()
    for date in ("2021-06-01", "2021-07-01"):
        write_geotiff(
            src / f"x_{date}.tif",
            np.ones((3, 8, 8), "uint8"),
            descriptions=["red", "green", "blue"],
        )
    build_catalog(src, tmp_path / "catalog")
    assert validate_catalog(tmp_path / "catalog") == []
    assert validate(tmp_path / "catalog") == []  # the folder: its catalog.json
    collection = tmp_path / "catalog" / "data" / "collection.json"
    assert validate(collection) == []

    item_path = tmp_path / "catalog/data/x_2021-06-01/x_2021-06-01.json"
    doc = json.loads(item_path.read_text())
    doc["properties"]["proj:code"] = 4326
    item_path.write_text(json.dumps(doc))
    (tmp_path / "catalog/data/x_2021-07-01/x_2021-07-01.json").unlink()
    problems = validate_catalog(tmp_path / "catalog")
    assert [p.object_id for p in problems] == [None, "x_2021-06-01"]
    dead, wrong = problems
    assert "x_2021-07-01.json" in dead.href and dead.field.startswith("item link from ")
    assert wrong.field == "$.properties.proj:code"
    assert (
        validate_catalog(pystac.Catalog.from_file(str(tmp_path / "catalog/catalog.json")))
        == problems
    )
    (missing,) = validate_catalog(tmp_path / "nowhere")
    assert "cannot read" in missing.message


def test_schemas_come_from_the_package_when_shared_is_absent(
    monkeypatch: pytest.MonkeyPatch, item: dict
):
    monkeypatch.setattr(schema_store, "SHARED_SCHEMAS", Path("/nonexistent"))
    schema_store.schemas.cache_clear()
    schema_store.schema_registry.cache_clear()
    try:
        for name, version in [
            ("eo", "v1.1.0"),
            ("projection", "v2.0.0"),
            ("raster", "v1.1.0"),
            ("file", "v2.1.0"),
        ]:
            assert schema_available(
                f"https://stac-extensions.github.io/{name}/{version}/schema.json"
            )
        assert not schema_available("https://stac-extensions.github.io/eo/v2.0.0/schema.json")
        assert validate(item) == []
        item["properties"]["proj:code"] = 5
        assert [p.field for p in validate(item)] == ["$.properties.proj:code"]
    finally:
        schema_store.schemas.cache_clear()
        schema_store.schema_registry.cache_clear()
