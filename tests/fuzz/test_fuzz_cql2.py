"""Fuzzing catalogue search: CQL2-JSON filters, datetime intervals, sortby and bbox, in
CatalogIndex.search and through the STAC API's GET and POST /search."""

from __future__ import annotations

import json

import pystac
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from fixtures_fuzz import FUZZ, NASTY_TOKENS, expect_clean, json_values, mutated_bytes
from satlearn.catalog import CatalogIndex
from satlearn.catalog.api import create_stac_app
from satlearn.errors import InvalidInputError

pytestmark = pytest.mark.timeout(120)

OPS = ["=", "<>", "<", "<=", ">", ">=", "in", "between", "isNull", "and", "or", "not"]
PROPERTIES = ["eo:cloud_cover", "platform", "flag", "datetime", "missing", "properties.gsd"]
NAMES = ["filter", "CQL2", "datetime", "sortby", "bbox", "timestamp", "property", "intersects"]


def _items() -> list[pystac.Item]:
    import datetime as dt

    items = []
    values = [(12.5, "sentinel-2a", True), (80, "landsat-9", False), (None, None, None)]
    for i, (cloud, platform, flag) in enumerate(values):
        props = {"eo:cloud_cover": cloud, "platform": platform, "flag": flag, "gsd": [10]}
        item = pystac.Item(
            id=f"item-{i}",
            geometry={"type": "Point", "coordinates": [10.0 + i, 45.0]},
            bbox=[10.0 + i, 45.0, 10.0 + i, 45.0],
            datetime=dt.datetime(2023, 6, 1 + i, tzinfo=dt.UTC),
            properties=props,
        )
        items.append(item)
    return items


ITEMS = _items()
INDEX = CatalogIndex.from_items(ITEMS)

_literal = st.one_of(
    json_values(4),
    st.builds(lambda t: {"timestamp": t}, st.one_of(st.text(max_size=30), json_values(2))),
    st.sampled_from([{"date": "2023-06-02"}, {"timestamp": "2023-06-01T00:00:00Z"}]),
)
_property = st.builds(
    lambda p: {"property": p}, st.one_of(st.sampled_from(PROPERTIES), json_values(2))
)
_filters = st.recursive(
    st.one_of(_literal, _property, st.booleans()),
    lambda inner: st.one_of(
        st.builds(
            lambda op, args: {"op": op, "args": args},
            st.one_of(st.sampled_from(OPS), json_values(2)),
            st.lists(inner, max_size=4),
        ),
        st.builds(lambda op, args: {"op": op, "args": args}, st.sampled_from(OPS), inner),
        st.lists(inner, max_size=3),
    ),
    max_leaves=12,
)
_valid_filter = json.dumps(
    {"op": "and", "args": [{"op": "<", "args": [{"property": "eo:cloud_cover"}, 50]}]}
)
_datetimes = st.one_of(
    st.text(max_size=40),
    mutated_bytes(b"2023-06-01T00:00:00Z/2023-06-30T00:00:00Z").map(
        lambda b: b.decode("utf-8", "replace")
    ),
    st.sampled_from(["../..", "/", "..", "2023-02-30", "99999-01-01", "2023-06-01T25:00:00Z"]),
    json_values(3),
)
_bboxes = st.one_of(
    st.lists(st.one_of(st.floats(), st.integers(-(10**400), 10**400)), max_size=7), json_values(3)
)
_sortby = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["+datetime", "-eo:cloud_cover", ",", "-"]),
    json_values(3),
)


@FUZZ
@given(
    filter=st.one_of(
        _filters, mutated_bytes(_valid_filter.encode()).map(lambda b: b.decode("utf-8", "replace"))
    )
)
def test_cql2_filters_evaluate_or_are_refused(filter):
    result = expect_clean(lambda: INDEX.search(filter=filter), NAMES)
    if result is not None:
        assert all(isinstance(item, pystac.Item) for item in result)


@FUZZ
@given(datetime=_datetimes, bbox=_bboxes, sortby=_sortby)
def test_datetime_bbox_and_sortby_parse_or_are_refused(datetime, bbox, sortby):
    expect_clean(lambda: INDEX.search(datetime=datetime), NAMES)
    expect_clean(lambda: INDEX.search(bbox=bbox), NAMES)
    expect_clean(lambda: INDEX.search(sortby=sortby), NAMES)


@pytest.fixture(scope="module")
def api():
    with TestClient(create_stac_app(ITEMS)) as client:
        yield client


_query_values = st.one_of(st.text(max_size=30), st.sampled_from(NASTY_TOKENS))
_query_keys = st.sampled_from(
    [
        "bbox",
        "datetime",
        "limit",
        "token",
        "filter",
        "filter-lang",
        "sortby",
        "fields",
        "ids",
        "collections",
        "intersects",
        "q",
    ]
)


def _answered(response) -> None:
    # A bad request is a 4xx with a JSON error naming the parameter, never a 500.
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert body.get("description") or body.get("detail") or body.get("code"), body


@FUZZ
@given(params=st.dictionaries(_query_keys, _query_values, max_size=4))
def test_stac_api_get_search_answers_4xx_or_200(api, params):
    _answered(api.get("/search", params=params))


@FUZZ
@given(
    body=st.one_of(
        st.dictionaries(_query_keys, st.one_of(json_values(6), _filters), max_size=4).map(
            lambda d: json.dumps(d).encode()
        ),
        mutated_bytes(
            json.dumps(
                {"bbox": [10, 44, 12, 46], "limit": 2, "filter": json.loads(_valid_filter)}
            ).encode()
        ),
    )
)
def test_stac_api_post_search_answers_4xx_or_200(api, body):
    _answered(api.post("/search", content=body, headers={"content-type": "application/json"}))


# Found by fuzzing (each escaped as the builtin named, a 500 through the API).
@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"filter": {"op": ["="], "args": []}}, "is not a string"),  # TypeError: unhashable
        ({"bbox": [10**400, 0, 1, 1]}, "finite numbers|numbers WEST"),  # OverflowError
        ({"filter": '{"op": "=", "args": [1, ' + "9" * 5000 + "]}"}, "not CQL2-JSON"),  # ValueError
    ],
)
def test_found_search_inputs_are_clean_errors(query, says):
    with pytest.raises(InvalidInputError, match=says):
        INDEX.search(**query)


@pytest.mark.parametrize(
    ("method", "kwargs", "says"),
    [
        ("get", {"params": {"token": "²"}}, "token"),  # ValueError from int('²')
        ("get", {"params": {"token": "9" * 5000}}, "token"),  # ValueError: 4300 digits
        ("get", {"params": {"filter": "[" + "9" * 5000 + "]"}}, "filter"),
        ("post", {"content": b'{"limit": 1e999}'}, "body"),  # OverflowError: int(inf)
        ("post", {"content": b'{"bbox": [NaN, 0, 1, 1]}'}, "body"),  # NaN echoed, not encodable
        ("post", {"content": b"\xfb{}"}, "body"),  # UnicodeDecodeError
    ],
)
def test_found_api_inputs_are_400s(api, method, kwargs, says):
    response = getattr(api, method)("/search", **kwargs)
    assert response.status_code == 400, response.text
    assert says in json.dumps(response.json())
