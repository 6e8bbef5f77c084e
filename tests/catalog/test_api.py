"""The STAC API router: routes, paging, errors; and pystac-client searching it over HTTP."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pystac
import pytest
import shapely
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette 1.10 asks for httpx2 behind its TestClient; httpx (declared) still works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from satlearn.catalog.api import CONFORMANCE, create_stac_app, create_stac_router
from satlearn.catalog.search import CatalogIndex
from satlearn.errors import InvalidInputError

T0 = dt.datetime(2024, 1, 1, 10, 30, tzinfo=dt.UTC)


def _item(i: int, collection: str) -> pystac.Item:
    # A 6 x 5 grid of 0.5-degree tiles near Rome, one date every 4 days.
    west, south = 12.0 + 0.5 * (i % 6), 41.0 + 0.5 * (i // 6 % 5)
    geometry = shapely.box(west, south, west + 0.5, south + 0.5)
    item = pystac.Item(
        f"{collection}-{i:03d}",
        shapely.geometry.mapping(geometry),
        list(geometry.bounds),
        T0 + dt.timedelta(days=4 * i),
        {"eo:cloud_cover": (i * 37) % 100, "platform": "sentinel-2a" if i % 2 else "sentinel-2b"},
    )
    item.add_asset(
        "data", pystac.Asset(f"./{item.id}.tif", media_type=pystac.MediaType.COG, roles=["data"])
    )
    return item


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stac")
    catalog = pystac.Catalog("demo", "A test catalogue", title="Demo catalogue")
    for cid, n in (("s2-north", 17), ("s2-south", 9)):
        extent = pystac.Extent(
            pystac.SpatialExtent([[12.0, 41.0, 15.0, 43.5]]), pystac.TemporalExtent([[T0, None]])
        )
        collection = pystac.Collection(cid, f"Collection {cid}", extent, license="CC-BY-4.0")
        collection.add_link(pystac.Link("license", "https://example.org/licence.html"))
        collection.add_asset("thumbnail", pystac.Asset("./thumb.png", roles=["thumbnail"]))
        for i in range(n):
            collection.add_item(_item(i, cid))
        catalog.add_child(collection)
    catalog.normalize_hrefs(str(root))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return root


@pytest.fixture(scope="module")
def index(catalog_dir: Path) -> CatalogIndex:
    return CatalogIndex.from_catalog(catalog_dir / "catalog.json")


@pytest.fixture(scope="module")
def client(catalog_dir: Path) -> TestClient:
    return TestClient(create_stac_app(catalog_dir / "catalog.json"))


def _ids(features: list[dict[str, Any]]) -> list[str]:
    return [f["id"] for f in features]


def _link(doc: dict[str, Any], rel: str, method: str | None = None) -> dict[str, Any]:
    found = [
        link
        for link in doc["links"]
        if link["rel"] == rel and (method is None or link.get("method", "GET") == method)
    ]
    assert len(found) == 1, (rel, doc["links"])
    return found[0]


# --------------------------------------------------------------------------- routes


def test_landing_page_and_conformance(client: TestClient) -> None:
    landing = client.get("/").json()
    assert landing["type"] == "Catalog" and landing["id"] == "demo"
    assert landing["title"] == "Demo catalogue"
    assert set(landing["conformsTo"]) == set(CONFORMANCE)
    for rel, path in [
        ("self", "/"),
        ("root", "/"),
        ("conformance", "/conformance"),
        ("data", "/collections"),
    ]:
        assert _link(landing, rel)["href"] == "http://testserver" + path
    assert _link(landing, "search", "GET")["href"] == "http://testserver/search"
    assert _link(landing, "search", "POST")["href"] == "http://testserver/search"
    children = sorted(link["href"] for link in landing["links"] if link["rel"] == "child")
    assert children == [
        "http://testserver/collections/s2-north",
        "http://testserver/collections/s2-south",
    ]
    conformance = client.get("/conformance").json()["conformsTo"]
    assert "https://api.stacspec.org/v1.0.0/item-search" in conformance
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json" in conformance


def test_collections(client: TestClient) -> None:
    body = client.get("/collections").json()
    assert [c["id"] for c in body["collections"]] == ["s2-north", "s2-south"]
    north = client.get("/collections/s2-north").json()
    assert north["type"] == "Collection" and north["license"] == "CC-BY-4.0"
    assert _link(north, "self")["href"] == "http://testserver/collections/s2-north"
    assert _link(north, "items")["href"] == "http://testserver/collections/s2-north/items"
    # The static layout's own links (child/item, relative hrefs) are not served;
    # others are, with absolute hrefs, as are the collection's assets.
    assert not [link for link in north["links"] if link["rel"] in ("item", "child")]
    assert _link(north, "license")["href"] == "https://example.org/licence.html"
    assert Path(north["assets"]["thumbnail"]["href"]).is_absolute()


def test_items_pages_through_a_collection(client: TestClient, index: CatalogIndex) -> None:
    expected = _ids([i.to_dict() for i in index.search(collections=["s2-north"])])
    seen: list[str] = []
    url = "/collections/s2-north/items?limit=5"
    pages = 0
    while url:
        page = client.get(url)
        assert page.status_code == 200
        assert page.headers["content-type"] == "application/geo+json"
        body = page.json()
        assert body["numberMatched"] == 17 and body["numberReturned"] == len(body["features"])
        seen += _ids(body["features"])
        pages += 1
        nexts = [link for link in body["links"] if link["rel"] == "next"]
        url = nexts[0]["href"].removeprefix("http://testserver") if nexts else ""
    assert pages == 4 and seen == expected
    # A later page links back; a token past the end is an empty page.
    body = client.get("/collections/s2-north/items?limit=5&token=10").json()
    assert _link(body, "prev")["href"].endswith("token=5")
    past = client.get("/collections/s2-north/items?limit=5&token=100").json()
    assert past["features"] == [] and past["numberMatched"] == 17


def test_one_item(client: TestClient, catalog_dir: Path) -> None:
    item = client.get("/collections/s2-south/items/s2-south-004").json()
    assert item["id"] == "s2-south-004" and item["collection"] == "s2-south"
    assert _link(item, "self")["href"].endswith("/collections/s2-south/items/s2-south-004")
    assert _link(item, "collection")["href"] == "http://testserver/collections/s2-south"
    # Asset hrefs are absolute: relative ones would resolve against the API URL.
    href = item["assets"]["data"]["href"]
    assert (
        Path(href).is_absolute() and Path(href).parent == catalog_dir / "s2-south" / "s2-south-004"
    )


def test_bbox_and_datetime_on_the_items_endpoint(client: TestClient, index: CatalogIndex) -> None:
    params = {
        "bbox": "12.6,41.1,13.4,42.4",
        "datetime": "2024-01-05T00:00:00Z/2024-02-20T00:00:00Z",
    }
    body = client.get("/collections/s2-north/items", params={**params, "limit": 100}).json()
    expected = index.search(
        bbox=[12.6, 41.1, 13.4, 42.4], datetime=params["datetime"], collections=["s2-north"]
    )
    assert _ids(body["features"]) == [i.id for i in expected] and expected


# --------------------------------------------------------------------------- search


def test_search_get_equals_the_index(client: TestClient, index: CatalogIndex) -> None:
    cql = '{"op": "<", "args": [{"property": "eo:cloud_cover"}, 50]}'
    params = {
        "bbox": "12.2,41.2,14.1,42.9",
        "datetime": "2024-01-01T00:00:00Z/..",
        "collections": "s2-north,s2-south",
        "filter": cql,
        "filter-lang": "cql2-json",
        "limit": "100",
    }
    body = client.get("/search", params=params).json()
    expected = index.search(
        bbox=[12.2, 41.2, 14.1, 42.9],
        datetime="2024-01-01T00:00:00Z/..",
        collections=["s2-north", "s2-south"],
        filter=cql,
    )
    assert _ids(body["features"]) == [i.id for i in expected]
    assert 0 < len(expected) < len(index)
    assert all(f["properties"]["eo:cloud_cover"] < 50 for f in body["features"])
    ids = client.get("/search", params={"ids": "s2-north-003,s2-south-001"}).json()
    assert sorted(_ids(ids["features"])) == ["s2-north-003", "s2-south-001"]


def test_search_post_pages_with_the_body(client: TestClient, index: CatalogIndex) -> None:
    area = shapely.geometry.mapping(shapely.box(12.1, 41.1, 13.9, 42.9))
    cql = {
        "op": "and",
        "args": [
            {"op": "=", "args": [{"property": "platform"}, "sentinel-2a"]},
            {"op": "not", "args": [{"op": ">", "args": [{"property": "eo:cloud_cover"}, 80]}]},
        ],
    }
    request = {"intersects": area, "filter": cql, "filter-lang": "cql2-json", "limit": 3}
    expected = [i.id for i in index.search(intersects=area, filter=cql)]
    assert len(expected) > 3
    seen: list[str] = []
    body = client.post("/search", json=request).json()
    while True:
        seen += _ids(body["features"])
        nexts = [link for link in body["links"] if link["rel"] == "next"]
        if not nexts:
            break
        link = nexts[0]
        assert link["method"] == "POST" and link["body"]["filter"] == cql
        body = client.post(link["href"].removeprefix("http://testserver"), json=link["body"]).json()
    assert seen == expected


def test_limit_is_capped_and_defaulted(catalog_dir: Path) -> None:
    small = TestClient(create_stac_app(catalog_dir / "catalog.json", default_limit=4, max_limit=6))
    assert small.get("/search").json()["numberReturned"] == 4
    assert small.get("/search?limit=1000").json()["numberReturned"] == 6


@pytest.mark.parametrize(
    ("method", "url", "payload", "parameter"),
    [
        ("GET", "/search?bbox=1,2,3", None, "bbox"),
        ("GET", "/search?bbox=a,b,c,d", None, "bbox"),
        ("GET", "/search?limit=abc", None, "limit"),
        ("GET", "/search?limit=0", None, "limit"),
        ("GET", "/search?datetime=yesterday", None, "datetime"),
        ("GET", "/search?filter={not json", None, "filter"),
        ("GET", '/search?filter={"op":"like","args":[1,2]}', None, "filter"),
        ("GET", "/search?filter=x&filter-lang=cql2-text", None, "filter-lang"),
        ("GET", "/search?token=abc", None, "token"),
        ("GET", '/search?query={"eo:cloud_cover":{"lt":5}}', None, "query"),
        ("GET", '/search?intersects={"type":"Point"}', None, "intersects"),
        ("POST", "/search", {"bbox": [1, 2, 3, 4], "intersects": {"type": "Point"}}, "bbox"),
        ("POST", "/search", {"filter": "eo:cloud_cover < 5"}, "filter"),
        ("POST", "/search", {"datetime": 5}, "datetime"),
        ("POST", "/search", {"limit": 2.5}, "limit"),
        ("POST", "/search", {"collections": [1]}, "collections"),
        ("POST", "/search", [1, 2], "body"),
        ("GET", "/collections/bad id!", None, "collection_id"),
        ("GET", "/collections/a..b", None, "collection_id"),
        ("GET", "/collections/s2-north/items/x..y", None, "item_id"),
        ("GET", "/collections/s2-north/items?limit=-1", None, "limit"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    client: TestClient, method: str, url: str, payload: Any, parameter: str
) -> None:
    response = client.request(method, url, json=payload)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "InvalidParameterValue"
    assert body["description"].startswith(f"{parameter}: ")


def test_a_body_that_is_not_json_is_400(client: TestClient) -> None:
    response = client.post(
        "/search", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["description"].startswith("body: ")


@pytest.mark.parametrize(
    "url",
    ["/collections/nope", "/collections/nope/items", "/collections/s2-north/items/nope"],
)
def test_unknown_ids_are_404_json(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound" and "'nope'" in response.json()["description"]


def test_queryables_list_the_item_properties(client: TestClient) -> None:
    response = client.get("/queryables")
    assert response.headers["content-type"] == "application/schema+json"
    properties = response.json()["properties"]
    assert client.get("/queryables").json()["properties"] == properties  # cached
    assert {"eo:cloud_cover", "platform", "id", "collection", "datetime"} <= set(properties)


def test_mounted_under_a_prefix_and_behind_a_proxy(index: CatalogIndex) -> None:
    app = FastAPI()
    app.include_router(create_stac_router(index, title="Mounted"), prefix="/stac")
    mounted = TestClient(app).get("/stac/").json()
    assert mounted["title"] == "Mounted"
    assert _link(mounted, "search", "GET")["href"] == "http://testserver/stac/search"
    proxied = TestClient(create_stac_app(index, base_url="https://example.org/api/"))
    landing = proxied.get("/").json()
    assert _link(landing, "data")["href"] == "https://example.org/api/collections"
    page = proxied.get("/search?limit=2").json()
    assert _link(page, "next")["href"].startswith("https://example.org/api/search?")


def test_items_without_a_collection_are_searchable() -> None:
    loose = [_item(i, "x") for i in range(3)]
    for item in loose:
        item.collection_id = None
    app = TestClient(create_stac_app(loose))
    body = app.get("/search").json()
    assert _ids(body["features"]) == ["x-000", "x-001", "x-002"]
    assert app.get("/collections").json()["collections"] == []
    # No collection to point at: only the root link.
    assert [link["rel"] for link in body["features"][0]["links"]] == ["root"]


def test_bad_router_arguments(index: CatalogIndex) -> None:
    with pytest.raises(InvalidInputError, match="source must be"):
        create_stac_router(42)
    with pytest.raises(InvalidInputError, match=r"pystac\.Item"):
        create_stac_router([1, 2])
    with pytest.raises(InvalidInputError, match="default_limit"):
        create_stac_router(index, default_limit=0)
    # A pystac Catalog object is served as well.
    catalog = pystac.Catalog("c", "d")
    assert TestClient(create_stac_app(catalog)).get("/").json()["id"] == "c"


# --------------------------------------------------------------------------- a real client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live_url(catalog_dir: Path) -> Iterator[str]:
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(
        create_stac_app(catalog_dir / "catalog.json"),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(timeout=10)


def test_pystac_client_opens_and_searches_it(live_url: str, index: CatalogIndex) -> None:
    from pystac_client import Client

    client = Client.open(live_url)
    assert client.id == "demo"
    assert sorted(c.id for c in client.get_collections()) == ["s2-north", "s2-south"]
    bbox = [12.6, 41.6, 14.4, 42.4]
    interval = "2024-01-10T00:00:00Z/2024-03-15T00:00:00Z"
    # limit=4 forces the client to follow next links page after page.
    found = client.search(bbox=bbox, datetime=interval, limit=4).item_collection()
    expected = index.search(bbox=bbox, datetime=interval)
    assert [i.id for i in found] == [i.id for i in expected] and len(expected) > 4
    # A CQL2-JSON filter, sent by the client as a POST body.
    cql = {"op": "<=", "args": [{"property": "eo:cloud_cover"}, 30]}
    filtered = client.search(collections=["s2-south"], filter=cql).item_collection()
    assert [i.id for i in filtered] == [
        i.id for i in index.search(collections=["s2-south"], filter=cql)
    ]
    assert all(i.properties["eo:cloud_cover"] <= 30 for i in filtered) and len(filtered) > 0
    item = client.get_collection("s2-north").get_item("s2-north-002")
    assert item is not None and item.id == "s2-north-002"
