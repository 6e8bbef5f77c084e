"""crawl / read_catalog: local and HTTP catalogues; broken branches reported and skipped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pystac
import pytest

from conftest import write_geotiff
from satlearn.catalog import CatalogError, CatalogIndex, build_catalog, crawl, read_catalog
from satlearn.testing.http import RangeHTTPServer

DATES = ["2021-06-01", "2021-06-11", "2021-06-21", "2021-07-01"]


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    """A catalogue of 8 items in two collections (sub-folders a/ and b/)."""
    src = tmp_path / "data"
    for sub in ("a", "b"):
        (src / sub).mkdir(parents=True)
        for i, date in enumerate(DATES):
            data = np.full((1, 8, 8), i + 1, "uint8")
            write_geotiff(src / sub / f"{sub}_{date}.tif", data)
    build_catalog(src, tmp_path / "catalog", thumbnails=False)
    return tmp_path / "catalog"


def item_json(root: Path, item_id: str) -> Path:
    return root / item_id[0] / item_id / f"{item_id}.json"


def edit(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def test_crawl_a_local_catalogue(catalogue: Path):
    result = crawl(catalogue)  # the folder means its catalog.json
    assert result.ok and result.problems == [] and result.skipped == 0
    assert sorted(c.id for c in result.collections) == ["a", "b"]
    assert len(result.items) == 8
    assert result.summary() == "2 collection(s), 8 item(s), 0 broken branch(es) skipped"
    item = next(it for it in result.items if it.id == "a_2021-06-01")
    assert item.collection_id == "a"
    # Asset hrefs resolve against the item's location.
    assert Path(item.assets["data"].get_absolute_href()).is_file()
    assert crawl(read_catalog(catalogue)).summary() == result.summary()  # from an object


def test_crawl_over_http_equals_local(catalogue: Path):
    local = crawl(catalogue)
    with RangeHTTPServer(catalogue.parent, in_process=True) as server:
        remote = crawl(server.url("catalog/catalog.json"))
        index = CatalogIndex.from_catalog(server.url("catalog/"))
        requests = server.requests
    assert sorted(it.id for it in remote.items) == sorted(it.id for it in local.items)
    assert remote.ok
    href = (
        next(it for it in remote.items if it.id == "b_2021-07-01")
        .assets["data"]
        .get_absolute_href()
    )
    assert href.startswith("http://127.0.0.1:") and href.endswith("/data/b/b_2021-07-01.tif")
    assert len(index) == 8 and index.collection_ids() == ["a", "b"]
    # Each document is read once per crawl: root + 2 collections + 8 items, twice.
    assert len(requests) == 2 * 11


def test_broken_branches_are_reported_and_skipped(catalogue: Path):
    item_json(catalogue, "a_2021-06-01").unlink()  # a dead link
    item_json(catalogue, "a_2021-06-11").write_text("{ not json")
    edit(item_json(catalogue, "a_2021-06-21"), lambda d: d.update(geometry=None))
    edit(item_json(catalogue, "b_2021-06-01"), lambda d: d.pop("id"))
    edit(
        item_json(catalogue, "b_2021-06-11"),
        lambda d: d["stac_extensions"].append("https://example.com/mystery/v1.0.0/schema.json"),
    )
    edit(
        catalogue / "catalog.json",
        lambda d: d["links"].append({"rel": "child", "href": "./gone/collection.json"}),
    )
    edit(
        catalogue / "b" / "collection.json",
        lambda d: d["links"].append({"rel": "item", "href": "../a/collection.json"}),
    )

    result = crawl(catalogue)
    assert sorted(it.id for it in result.items) == [
        "a_2021-07-01", "b_2021-06-11", "b_2021-06-21", "b_2021-07-01",
    ]  # fmt: skip
    assert result.skipped == 5 and not result.ok
    problems = {Path(p.href).name: p for p in result.problems}
    assert "No such file" in problems["a_2021-06-01.json"].problem
    assert problems["a_2021-06-01.json"].rel == "item"
    assert problems["a_2021-06-01.json"].parent.endswith("a/collection.json")
    assert "invalid JSON" in problems["a_2021-06-11.json"].problem
    assert "no geometry" in problems["a_2021-06-21.json"].problem
    assert problems["a_2021-06-21.json"].object_id is None
    assert "'a_2021-06-21'" in str(problems["a_2021-06-21.json"])
    assert "missing field 'id'" in problems["b_2021-06-01.json"].problem
    mystery = problems["b_2021-06-11.json"]
    assert not mystery.skipped and "unknown extension" in mystery.problem
    assert mystery.object_id == "b_2021-06-11"
    # The collection linked as an item was already read: not read twice, not an error.
    gone = next(p for p in result.problems if "gone" in p.href)
    assert gone.rel == "child" and "catalog.json" in str(gone)
    assert "5 broken branch(es) skipped" in result.summary()

    # Breadth first: the root's dead child link is met first.
    with pytest.raises(
        CatalogError, match=r"gone/collection.json.*\[child link from .*catalog.json\]"
    ):
        crawl(catalogue, strict=True)
    with pytest.raises(CatalogError, match="gone"):
        CatalogIndex.from_catalog(catalogue)
    assert len(CatalogIndex.from_catalog(catalogue, strict=False)) == 4


def test_links_to_the_wrong_kind_of_object(catalogue: Path):
    edit(
        catalogue / "catalog.json",
        lambda d: d["links"].append({"rel": "child", "href": "./a/a_2021-06-01/a_2021-06-01.json"}),
    )
    result = crawl(catalogue)
    (problem,) = result.problems
    assert "child link points to a Item" in problem.problem and problem.object_id == "a_2021-06-01"
    with pytest.raises(CatalogError, match="child link points to a Item"):
        crawl(catalogue, strict=True)


def test_http_errors_name_the_link(catalogue: Path):
    item_json(catalogue, "b_2021-07-01").unlink()
    with RangeHTTPServer(catalogue.parent, in_process=True) as server:
        result = crawl(server.url("catalog/catalog.json"))
        with pytest.raises(CatalogError, match="HTTP 404"):
            read_catalog(server.url("catalog/nothing.json"))
    (problem,) = result.problems
    assert "HTTP 404" in problem.problem and problem.href.endswith("b_2021-07-01.json")
    with pytest.raises(CatalogError, match="cannot read"):
        read_catalog("http://127.0.0.1:9/catalog.json")  # nothing listens on port 9


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "not a JSON object"),
        ('{"type": "Catalog"}', "not a valid STAC Catalog"),
        ('{"type": "Thing", "id": "x"}', "'x'.*not a STAC object"),
        (b"\xff\xfe", "cannot read"),
    ],
)
def test_unreadable_roots(tmp_path: Path, content, message):
    path = tmp_path / "catalog.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(CatalogError, match=message):
        crawl(path)


def test_root_must_be_a_catalogue(catalogue: Path):
    with pytest.raises(CatalogError, match="is an item, not a catalogue"):
        read_catalog(item_json(catalogue, "a_2021-06-01"))
    with pytest.raises(CatalogError, match="No such file"):
        read_catalog(catalogue / "missing.json")
    with pytest.raises(CatalogError, match="no self href"):
        crawl(pystac.Catalog("mem", "in memory"))


def test_a_collection_can_be_the_root(catalogue: Path):
    result = crawl(catalogue / "a" / "collection.json")
    assert [c.id for c in result.collections] == ["a"]
    assert len(result.items) == 4


def test_index_from_a_pystac_catalogue_object(catalogue: Path):
    index = CatalogIndex.from_catalog(pystac.Catalog.from_file(str(catalogue / "catalog.json")))
    assert len(index) == 8
    assert [c.id for c in index.collections()] == ["a", "b"]
    assert index.collections()[0].extent.spatial.bboxes  # the catalogue's own collection
    collection = pystac.Collection.from_file(str(catalogue / "b" / "collection.json"))
    assert CatalogIndex.from_catalog(collection).collection_ids() == ["b"]
