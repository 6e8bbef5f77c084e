"""CatalogIndex: bbox / geometry / datetime / CQL2-JSON search equals a brute-force scan."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pystac
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box, shape

from satlearn.catalog import CatalogIndex, parse_datetime_interval
from satlearn.errors import InvalidInputError

UTC = dt.UTC
T0 = dt.datetime(2021, 1, 1, tzinfo=UTC)
PLATFORMS = ["sentinel-2a", "sentinel-2b", "landsat-8"]


def make_items(n: int, seed: int = 0) -> list[pystac.Item]:
    """Random small footprints over Europe, random days in 2021, a few properties."""
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        west, south = rng.uniform(-10, 30), rng.uniform(35, 60)
        size = rng.uniform(0.05, 1.0)
        footprint = box(west, south, west + size, south + size)
        when = T0 + dt.timedelta(days=int(rng.integers(0, 365)), hours=int(rng.integers(0, 24)))
        props: dict = {"platform": PLATFORMS[i % 3], "gsd": float(rng.choice([10, 20, 30]))}
        if i % 7:  # some items lack cloud cover: CQL2 comparisons treat them as unknown
            props["eo:cloud_cover"] = round(float(rng.uniform(0, 100)), 1)
        item = pystac.Item(
            id=f"item-{i:05d}",
            geometry=json.loads(json.dumps(footprint.__geo_interface__)),
            bbox=list(footprint.bounds),
            datetime=when,
            properties=props,
            collection=f"c{i % 2}",
        )
        items.append(item)
    return items


ITEMS = make_items(400)
INDEX = CatalogIndex.from_items(ITEMS)


def brute(
    items: list[pystac.Item],
    *,
    bbox=None,
    interval=None,
    predicate=None,
) -> list[str]:
    """The obvious scan: every item tested one by one, sorted by (datetime, id)."""
    out = []
    for item in items:
        if bbox is not None and not shape(item.geometry).intersects(box(*bbox)):
            continue
        if interval is not None:
            start, end = interval
            if (start is not None and item.datetime < start) or (
                end is not None and item.datetime > end
            ):
                continue
        if predicate is not None and not predicate({**item.properties, "datetime": item.datetime}):
            continue
        out.append(item)
    out.sort(key=lambda it: (it.datetime, it.id))
    return [it.id for it in out]


def ids(items: list[pystac.Item]) -> list[str]:
    return [it.id for it in items]


@settings(max_examples=60, deadline=None)
@given(
    west=st.floats(-15, 35),
    south=st.floats(30, 62),
    width=st.floats(0, 8),
    height=st.floats(0, 8),
)
def test_bbox_search_equals_brute_force(west, south, width, height):
    bbox = [west, south, west + width, south + height]
    assert ids(INDEX.search(bbox=bbox)) == brute(ITEMS, bbox=bbox)


@settings(max_examples=60, deadline=None)
@given(
    start=st.one_of(st.none(), st.integers(-10, 370)),
    length=st.one_of(st.none(), st.integers(0, 120)),
)
def test_datetime_search_equals_brute_force(start, length):
    lo = None if start is None else T0 + dt.timedelta(days=start)
    hi = None if length is None else (lo or T0) + dt.timedelta(days=length)
    if lo is None and hi is None:
        return
    text = f"{lo.isoformat() if lo else '..'}/{hi.isoformat() if hi else '..'}"
    assert ids(INDEX.search(datetime=text)) == brute(ITEMS, interval=(lo, hi))


FILTERS = [
    (
        {"op": "<", "args": [{"property": "eo:cloud_cover"}, 20]},
        lambda p: "eo:cloud_cover" in p and p["eo:cloud_cover"] < 20,
    ),
    (
        {"op": "<>", "args": [{"property": "platform"}, "landsat-8"]},
        lambda p: p["platform"] != "landsat-8",
    ),
    (
        {
            "op": "and",
            "args": [
                {"op": "in", "args": [{"property": "platform"}, ["sentinel-2a", "sentinel-2b"]]},
                {"op": "between", "args": [{"property": "eo:cloud_cover"}, 10, 50]},
            ],
        },
        lambda p: (
            p["platform"] in ("sentinel-2a", "sentinel-2b")
            and "eo:cloud_cover" in p
            and 10 <= p["eo:cloud_cover"] <= 50
        ),
    ),
    (
        {
            "op": "or",
            "args": [
                {"op": ">=", "args": [{"property": "gsd"}, 30]},
                {"op": "isNull", "args": [{"property": "eo:cloud_cover"}]},
            ],
        },
        lambda p: p["gsd"] >= 30 or "eo:cloud_cover" not in p,
    ),
    # not(unknown) stays unknown: items without cloud cover never match either way.
    (
        {"op": "not", "args": [{"op": ">", "args": [{"property": "eo:cloud_cover"}, 50]}]},
        lambda p: "eo:cloud_cover" in p and not p["eo:cloud_cover"] > 50,
    ),
    (
        {"op": "=", "args": [30, {"property": "gsd"}]},  # literal first: mirrored
        lambda p: p["gsd"] == 30,
    ),
    (
        {"op": ">", "args": [{"property": "eo:cloud_cover"}, {"property": "gsd"}]},
        lambda p: "eo:cloud_cover" in p and p["eo:cloud_cover"] > p["gsd"],
    ),
    (
        {"op": "<", "args": [{"property": "datetime"}, {"timestamp": "2021-03-01T00:00:00Z"}]},
        lambda p: p["datetime"] < dt.datetime(2021, 3, 1, tzinfo=UTC),
    ),
    ({"op": "=", "args": [{"property": "platform"}, 5]}, lambda p: False),  # type mismatch
    (True, lambda p: True),
]


@pytest.mark.parametrize(("cql", "predicate"), FILTERS)
def test_filter_search_equals_brute_force(cql, predicate):
    expected = brute(ITEMS, predicate=predicate)
    assert ids(INDEX.search(filter=cql)) == expected
    assert ids(INDEX.search(filter=json.dumps(cql))) == expected  # as the CLI passes it


def test_combined_query_and_paging():
    bbox = [0, 40, 20, 55]
    interval = (T0 + dt.timedelta(days=30), T0 + dt.timedelta(days=200))
    cql = {"op": "<=", "args": [{"property": "eo:cloud_cover"}, 60]}
    expected = brute(
        ITEMS,
        bbox=bbox,
        interval=interval,
        predicate=lambda p: p.get("eo:cloud_cover", 101) <= 60,
    )
    query = {"bbox": bbox, "datetime": interval, "filter": cql}
    assert ids(INDEX.search(**query)) == expected
    assert len(INDEX.match(**query)) == len(expected)
    pages = [ids(INDEX.search(**query, limit=7, offset=o)) for o in range(0, len(expected), 7)]
    assert [i for page in pages for i in page] == expected
    assert INDEX.search(**query, limit=0) == []


def test_intersects_uses_the_exact_geometry_not_the_bbox():
    triangle = pystac.Item(
        "triangle",
        geometry={"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [0, 10], [0, 0]]]},
        bbox=[0, 0, 10, 10],
        datetime=T0,
        properties={},
    )
    index = CatalogIndex.from_items([triangle])
    corner = {"type": "Polygon", "coordinates": [[[8, 8], [9, 8], [9, 9], [8, 9], [8, 8]]]}
    assert index.search(bbox=[8, 8, 9, 9]) == []  # inside the bbox, outside the triangle
    assert index.search(intersects=corner) == []
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 1]}}
    assert ids(index.search(intersects=feature)) == ["triangle"]
    assert ids(index.search(intersects=box(0.5, 0.5, 2, 2))) == ["triangle"]


def test_antimeridian_bbox_and_3d_bbox():
    east = pystac.Item("east", box(179, 0, 179.5, 1).__geo_interface__, [179, 0, 179.5, 1], T0, {})
    west = pystac.Item(
        "west", box(-179.5, 0, -179, 1).__geo_interface__, [-179.5, 0, -179, 1], T0, {}
    )
    middle = pystac.Item("mid", box(0, 0, 1, 1).__geo_interface__, [0, 0, 1, 1], T0, {})
    index = CatalogIndex.from_items([middle, west, east])
    assert ids(index.search(bbox=[178, -1, -178, 2])) == ["east", "west"]
    assert ids(index.search(bbox=[-1, -1, 0, 0, 2, 2])) == ["mid"]


def test_items_with_time_ranges_and_without_geometry():
    ranged = pystac.Item(
        "ranged",
        box(0, 0, 1, 1).__geo_interface__,
        [0, 0, 1, 1],
        None,
        {"start_datetime": "2021-01-01T00:00:00Z", "end_datetime": "2021-12-31T00:00:00Z"},
    )
    nowhere = pystac.Item("nowhere", None, None, T0, {})
    index = CatalogIndex.from_items([ranged, nowhere])
    assert ids(index.search(datetime="2021-06-01/2021-06-02")) == ["ranged"]
    assert ids(index.search(datetime="2022-01-01/..")) == []
    assert ids(index.search(bbox=[-180, -90, 180, 90])) == ["ranged"]
    assert ids(index.search()) == ["nowhere", "ranged"]  # T0 first, then the range (no datetime)


def test_ids_and_collections_filters():
    assert ids(INDEX.search(ids=["item-00003", "item-00001", "nope"])) == sorted(
        ["item-00001", "item-00003"], key=lambda i: ITEMS[int(i[5:])].datetime
    )
    assert {it.collection_id for it in INDEX.search(collections="c1")} == {"c1"}
    assert len(INDEX.search(collections=["c0", "c1"])) == len(ITEMS)
    assert INDEX.collection_ids() == ["c0", "c1"]


def test_collections_made_from_items_have_their_extents():
    c0, _ = INDEX.collections()
    members = [it for it in ITEMS if it.collection_id == "c0"]
    west = min(it.bbox[0] for it in members)
    assert c0.id == "c0" and c0.extent.spatial.bboxes[0][0] == pytest.approx(west)
    assert c0.extent.temporal.intervals[0][0] == min(it.datetime for it in members)
    assert c0.extent.temporal.intervals[0][1] == max(it.datetime for it in members)


def test_search_order_is_datetime_then_id():
    same_time = [
        pystac.Item(i, box(0, 0, 1, 1).__geo_interface__, [0, 0, 1, 1], T0, {}) for i in "cab"
    ]
    assert ids(CatalogIndex.from_items(same_time).search()) == ["a", "b", "c"]
    assert ids(INDEX.items) == brute(ITEMS)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-06-01T10:00:00Z", (dt.datetime(2021, 6, 1, 10, tzinfo=UTC),) * 2),
        (
            "2021-06-01",
            (
                dt.datetime(2021, 6, 1, tzinfo=UTC),
                dt.datetime(2021, 6, 1, 23, 59, 59, 999999, tzinfo=UTC),
            ),
        ),
        ("../2021-06-01T00:00:00+02:00", (None, dt.datetime(2021, 5, 31, 22, tzinfo=UTC))),
        ("2021-06-01T00:00:00z/..", (dt.datetime(2021, 6, 1, tzinfo=UTC), None)),
        ((dt.datetime(2021, 6, 1), None), (dt.datetime(2021, 6, 1, tzinfo=UTC), None)),
        (dt.date(2021, 6, 1), parse_datetime_interval("2021-06-01")),
    ],
)
def test_parse_datetime_interval(value, expected):
    assert parse_datetime_interval(value) == expected


@pytest.mark.parametrize(
    "value",
    ["yesterday", "../..", "2021-02-01/2021-01-01", "a/b/c", "", 5, (1, 2), ("2021-01-01",)],
)
def test_bad_datetimes_are_clear_errors(value):
    with pytest.raises(InvalidInputError, match="datetime"):
        INDEX.search(datetime=value)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"bbox": [0, 0, 1]}, "bbox"),
        ({"bbox": [0, 5, 1, 0]}, "south > north"),
        ({"bbox": ["a", 0, 1, 1]}, "numbers"),
        ({"intersects": {"type": "Polygon"}}, "GeoJSON"),
        ({"intersects": "{not json"}, "GeoJSON"),
        ({"intersects": {"type": "Polygon", "coordinates": []}}, "empty"),
        (
            {"bbox": [0, 0, 1, 1], "intersects": {"type": "Point", "coordinates": [0, 0]}},
            "not both",
        ),
        ({"filter": "{oops"}, "CQL2"),
        ({"filter": {"op": "like", "args": [{"property": "platform"}, "s%"]}}, "unsupported"),
        ({"filter": {"op": "=", "args": [{"property": "gsd"}]}}, "takes 2"),
        ({"filter": {"op": "and", "args": []}}, "at least one"),
        ({"filter": {"op": "=", "args": "x"}}, "args"),
        ({"filter": {"args": []}}, "CQL2"),
        ({"filter": {"op": "in", "args": [{"property": "gsd"}, 10]}}, "list"),
        ({"filter": {"op": "between", "args": [{"property": "gsd"}, 10]}}, "between"),
        ({"filter": {"op": "isNull", "args": [3]}}, "property"),
        ({"filter": {"op": "<", "args": [{"property": "x"}, True]}}, "booleans"),
        ({"filter": {"op": "<", "args": [{"property": "x"}, [1]]}}, "literal"),
        ({"filter": {"op": "<", "args": [{"property": 3}, 1]}}, "property name"),
        ({"filter": {"op": "<", "args": [{"property": "x"}, {"timestamp": 3}]}}, "timestamp"),
        ({"limit": -1}, "limit"),
    ],
)
def test_bad_queries_are_clear_errors(query, message):
    with pytest.raises(InvalidInputError, match=message):
        INDEX.search(**query)


def test_null_and_literal_comparisons():
    # Comparing with null is unknown (never a match), as in SQL / CQL2.
    assert INDEX.search(filter={"op": "=", "args": [{"property": "gsd"}, None]}) == []
    assert len(INDEX.search(filter={"op": "<", "args": [1, 2]})) == len(ITEMS)
    assert INDEX.search(filter={"op": "<", "args": [1, "2"]}) == []
    both = {"op": "=", "args": [{"property": "platform"}, {"property": "platform"}]}
    assert len(INDEX.search(filter=both)) == len(ITEMS)
    flag = {"op": "=", "args": [{"property": "properties.sar:flag"}, True]}
    assert INDEX.search(filter=flag) == []


def test_empty_index():
    index = CatalogIndex.from_items([])
    assert len(index) == 0
    assert index.search(bbox=[0, 0, 1, 1], datetime="2021-01-01", filter=True) == []
    assert index.collections() == []


def test_sortby_equals_a_python_sort_with_missing_values_last():
    def key(item: pystac.Item) -> tuple:
        cloud = item.properties.get("eo:cloud_cover")
        return (cloud is None, -(cloud or 0), item.properties["platform"])

    found = INDEX.search(sortby="-properties.eo:cloud_cover,platform")
    assert [it.id for it in found] == [it.id for it in sorted(INDEX.items, key=key)]
    by_id = INDEX.search(sortby=[{"field": "id", "direction": "desc"}], limit=5)
    assert [it.id for it in by_id] == sorted((it.id for it in ITEMS), reverse=True)[:5]
    with pytest.raises(InvalidInputError, match="direction"):
        INDEX.search(sortby=[{"field": "id", "direction": "up"}])


@pytest.mark.parametrize(
    ("bbox", "problem"),
    [
        ([0, 0, 500, 10], "longitude 500.0 is outside [-180, 180]"),
        ([-181, 0, 1, 10], "longitude -181.0 is outside [-180, 180]"),
        ([0, -91, 1, 10], "latitude -91.0 is outside [-90, 90]"),
        ([0, 10, 1, 5], "south > north"),
        ([0, 0, 5, 1, 1, 0], "lowest height 5.0 > highest 0.0"),
    ],
)
def test_out_of_range_bboxes_are_refused(bbox, problem):
    with pytest.raises(InvalidInputError) as err:
        INDEX.search(bbox=bbox)
    assert problem in str(err.value)
