"""The STAC API router: routes, paging, errors; and pystac-client searching it over HTTP."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
from satlearn.testing.process import free_port

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


@pytest.fixture(scope="module")
def live_url(catalog_dir: Path) -> Iterator[str]:
    import uvicorn

    port = free_port()
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


# --------------------------------------------------------------------------- conformance (issue 12)


def test_landing_page_links_the_openapi_document_and_its_html_docs(client: TestClient) -> None:
    landing = client.get("/").json()
    desc = _link(landing, "service-desc")
    assert desc["type"] == "application/vnd.oai.openapi+json;version=3.0"
    response = client.get(desc["href"])
    assert response.status_code == 200
    assert response.headers["content-type"] == desc["type"]
    assert "/search" in response.json()["paths"]
    doc = _link(landing, "service-doc")
    assert doc["type"] == "text/html" and doc["href"] == "http://testserver/docs"
    assert client.get(doc["href"]).headers["content-type"].startswith("text/html")


def test_items_endpoint_applies_the_filter_it_advertises(
    client: TestClient, index: CatalogIndex
) -> None:
    cql = {"op": "<=", "args": [{"property": "eo:cloud_cover"}, 30]}
    response = client.get(
        "/collections/s2-north/items", params={"filter": json.dumps(cql), "limit": 100}
    )
    assert response.status_code == 200
    expected = index.search(collections=["s2-north"], filter=cql)
    assert _ids(response.json()["features"]) == [i.id for i in expected]
    assert 0 < len(expected) < 17
    bad = client.get("/collections/s2-north/items", params={"filter": '{"op": "like"}'})
    assert bad.status_code == 400 and bad.json()["description"].startswith("filter: ")
    lang = client.get("/collections/s2-north/items", params={"filter-lang": "cql2-text"})
    assert lang.status_code == 400 and lang.json()["description"].startswith("filter-lang: ")


def test_each_collection_has_its_queryables(client: TestClient) -> None:
    north = client.get("/collections/s2-north").json()
    link = _link(north, "http://www.opengis.net/def/rel/ogc/1.0/queryables")
    response = client.get(link["href"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/schema+json"
    schema = response.json()
    assert schema["$id"] == link["href"] == "http://testserver/collections/s2-north/queryables"
    assert {"eo:cloud_cover", "platform", "datetime"} <= set(schema["properties"])
    assert client.get("/collections/nope/queryables").status_code == 404


def test_item_collections_carry_a_self_link(client: TestClient) -> None:
    page = client.get("/collections/s2-north/items?limit=3").json()
    assert _link(page, "self")["href"] == "http://testserver/collections/s2-north/items?limit=3"
    page = client.get("/search?limit=2&collections=s2-south").json()
    assert _link(page, "self")["href"] == "http://testserver/search?limit=2&collections=s2-south"
    body = {"collections": ["s2-south"], "limit": 2}
    own = _link(client.post("/search", json=body).json(), "self")
    assert own["href"] == "http://testserver/search"
    assert own["method"] == "POST" and own["body"] == body


@pytest.mark.parametrize(
    "value",
    [
        "1985-04-12",  # a bare date
        "1985-12-12T23:20:50.52",  # no offset
        "1985-04-12T23:20:50.Z",  # a fraction without digits
        "1985-04-12T23:20:50,52Z",  # a comma
        "1937-01-01T12:00:27.87+0100",  # an offset without its colon
        "2021-06-01/2021-06-30",  # bare dates in an interval
        "../..",
    ],
)
def test_datetimes_that_are_not_rfc3339_are_400(client: TestClient, value: str) -> None:
    for response in (
        client.get("/search", params={"datetime": value}),
        client.post("/search", json={"datetime": value}),
        client.get("/collections/s2-north/items", params={"datetime": value}),
    ):
        assert response.status_code == 400, (value, response.text)
        assert response.json()["description"].startswith("datetime: ")


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-10T00:00:00Z",
        "1985-04-12t23:20:50.000z",
        "2024-01-10T00:00:00.012345678+01:00",
        "../2024-02-01T00:00:00Z",
        "2024-02-01T00:00:00Z/",
    ],
)
def test_rfc3339_datetimes_are_accepted(client: TestClient, value: str) -> None:
    assert client.get("/search", params={"datetime": value}).status_code == 200


@pytest.mark.parametrize(
    ("method", "payload", "problem"),
    [
        ("POST", {"bbox": "12.0,41.0,13.0,42.0"}, "is not a JSON array"),
        ("POST", {"bbox": [0, 0, 500, 10]}, "longitude 500.0 is outside [-180, 180]"),
        ("GET", {"bbox": "0,0,500,10"}, "longitude 500.0 is outside [-180, 180]"),
        ("GET", {"bbox": "0,-91,1,1"}, "latitude -91.0 is outside [-90, 90]"),
        ("GET", {"bbox": "0,5,1,1"}, "south > north"),
    ],
)
def test_bad_bboxes_are_400(client: TestClient, method: str, payload: dict, problem: str) -> None:
    if method == "POST":
        response = client.post("/search", json=payload)
    else:
        response = client.get("/search", params=payload)
    assert response.status_code == 400
    description = response.json()["description"]
    assert description.startswith("bbox: ") and problem in description


def test_sortby_orders_get_and_post_results(client: TestClient, index: CatalogIndex) -> None:
    def cloud(feature: dict[str, Any]) -> tuple[int, str]:
        return feature["properties"]["eo:cloud_cover"], feature["id"]

    got = client.get("/search", params={"sortby": "-properties.eo:cloud_cover,id", "limit": 100})
    features = got.json()["features"]
    assert [f["properties"]["eo:cloud_cover"] for f in features] == sorted(
        (f["properties"]["eo:cloud_cover"] for f in features), reverse=True
    )
    assert len(features) == len(index)
    body = {"sortby": [{"field": "properties.eo:cloud_cover", "direction": "asc"}], "limit": 100}
    posted = client.post("/search", json=body).json()["features"]
    assert [cloud(f) for f in posted] == sorted(cloud(f) for f in posted)
    # Pages follow the sorted order, not the default one.
    first = client.get("/search", params={"sortby": "-datetime", "limit": 3}).json()
    second = client.get(_link(first, "next")["href"]).json()
    newest = [i.id for i in index.items][::-1]
    assert _ids(first["features"] + second["features"]) == newest[:6]
    bad = client.get("/search", params={"sortby": "-"})
    assert bad.status_code == 400 and bad.json()["description"].startswith("sortby: ")


def test_fields_cut_the_items(client: TestClient) -> None:
    one = {"limit": 1, "collections": "s2-north"}
    only = client.get("/search", params={**one, "fields": "id,properties.platform"}).json()
    # Exactly what was asked for, as the extension recommends.
    assert only["features"][0] == {
        "id": "s2-north-000",
        "properties": {"platform": "sentinel-2b"},
    }
    without = client.get("/search", params={**one, "fields": "-geometry,-assets"}).json()
    feature = without["features"][0]
    assert "geometry" not in feature and "assets" not in feature and "bbox" in feature
    nested = client.post(
        "/search",
        json={
            "limit": 1,
            "fields": {"include": ["id", "properties.eo:cloud_cover"], "exclude": ["properties"]},
        },
    ).json()["features"][0]
    assert nested["properties"] == {"eo:cloud_cover": 0}
    # An explicitly empty set asks for the default fields (datetime, not the rest).
    default = client.post("/search", json={"limit": 1, "fields": {}}).json()["features"][0]
    assert set(default["properties"]) == {"datetime"} and "assets" in default
    bad = client.post("/search", json={"fields": None})
    assert bad.status_code == 400 and bad.json()["description"].startswith("fields: ")


@pytest.fixture
def offline_schemas(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict]:
    """Serve STAC JSON schema URLs from local copies to every ``requests`` call.

    stac-api-validator, stac-validator and stac-check fetch the schemas a document
    names with ``requests``; there is no network here. The copies are the ones
    :mod:`satlearn.catalog.schema_store` holds: pystac's core schemas and
    the extension schemas of ``../shared/stac-schemas`` (or satlearn's packaged
    ones). Loopback requests (the API under test) go through untouched; any other
    URL fails as a connection error, so nothing leaves the machine.
    """
    import requests
    from requests.adapters import HTTPAdapter

    from satlearn.catalog.schema_store import schemas as offline

    schemas = offline()
    real_send = HTTPAdapter.send

    def send(self: HTTPAdapter, request: requests.PreparedRequest, **kwargs: object):
        url = str(request.url)
        if urlsplit(url).hostname in ("127.0.0.1", "localhost"):
            return real_send(self, request, **kwargs)
        schema = schemas.get(url.split("#")[0].rstrip("#"))
        if schema is None:
            raise requests.ConnectionError(f"offline test: no local copy of {url}")
        response = requests.Response()
        response.status_code = 200
        response.url = url
        response.request = request
        response._content = json.dumps(schema).encode()
        response.headers["Content-Type"] = "application/json"
        response.encoding = "utf-8"
        return response

    monkeypatch.setattr(HTTPAdapter, "send", send)
    return schemas


def test_stac_api_validator_finds_no_error(live_url: str, offline_schemas: dict[str, dict]) -> None:
    with warnings.catch_warnings():
        # The validator walks the catalogue with pystac's deprecated get_all_items.
        warnings.simplefilter("ignore", DeprecationWarning)
        found_warnings, errors = _validate_api(live_url)
    assert list(errors) == []
    # What is left are recommendations, listed and explained in docs/stac.md.
    assert not [w for w in found_warnings if "service-doc" in w or "service-desc" in w]


def _validate_api(live_url: str) -> Any:
    from stac_api_validator.validations import QueryConfig, validate_api

    return validate_api(
        root_url=live_url,
        ccs_to_validate=[
            "core",
            "features",
            "item-search",
            "filter",
            "collections",
            "features#filter",
            "item-search#filter",
            "item-search#sort",
        ],
        collection="s2-north",
        geometry=json.dumps({"type": "Point", "coordinates": [12.7, 41.7]}),
        auth_bearer_token=None,
        auth_query_parameter=None,
        fields_nested_property=None,
        validate_pagination=True,
        query_config=QueryConfig(*[None] * 13),
        transaction_collection=None,
        headers=None,
        open_assets_urls=False,  # the assets are file paths of this test's catalogue
    )
