"""The tile server's parts: the expression parser, the byte-bounded LRU cache, parameters."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from satlearn.errors import InvalidInputError, UnknownBandError
from satlearn.view._cache import CachedTile, TileCache
from satlearn.view._expression import bind_bands, evaluate_expression, parse_expression
from satlearn.view._render import parse_rescale

NAMES = ("blue", "green", "red", "nir")


def test_arithmetic_goes_through_the_spectral_engine():
    expr = parse_expression("(nir - red) / (nir + red)")
    assert expr.arithmetic and expr.symbols == ("nir", "red")
    nir = np.array([[3000, 0]], np.uint16)
    red = np.array([[1000, 0]], np.uint16)
    got = evaluate_expression(expr, {"nir": nir, "red": red})
    np.testing.assert_allclose(got, [[0.5, np.nan]])


def test_index_names_map_catalogue_symbols_to_band_names():
    expr = parse_expression("ndvi")
    assert expr.index == "NDVI"
    assert bind_bands(expr, NAMES) == {"N": 3, "R": 2}
    with pytest.raises(UnknownBandError, match="swir16"):
        bind_bands(parse_expression("NDMI"), NAMES)


def test_band_numbers_and_names_bind():
    assert bind_bands(parse_expression("b4 - RED"), NAMES) == {"b4": 3, "RED": 2}
    with pytest.raises(UnknownBandError, match="b9"):
        bind_bands(parse_expression("b9"), NAMES)


def test_whitelisted_calls_are_computed_by_the_tree_walk():
    expr = parse_expression("sqrt(abs(nir - red)) + max(red, 2) - log(exp(1))")
    assert not expr.arithmetic
    nir, red = np.array([5.0, 1.0]), np.array([1.0, 5.0])
    got = evaluate_expression(expr, {"nir": nir, "red": red}, scales={"nir": 1.0})
    np.testing.assert_allclose(got, np.sqrt(np.abs(nir - red)) + np.fmax(red, 2) - 1, rtol=1e-6)
    assert got.dtype == np.float32
    scaled = evaluate_expression(parse_expression("abs(nir)"), {"nir": nir}, scales={"nir": 0.5})
    np.testing.assert_allclose(scaled, nir * 0.5)


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "nir.real",
        "nir[0]",
        "lambda: 0",
        "print(nir)",
        "abs",
        "abs(nir, red)",
        "min(nir)",
        "max(*nir)",
        "nir and red",
        "nir < red",
        "'x'",
        "b'x'",
        "1j",
        "x := 1",
        "nir @ red",
        "nir // red",
        "~nir",
        "",
        "a" * 600,
    ],
)
def test_refused(text):
    with pytest.raises(InvalidInputError):
        parse_expression(text)


def test_rescale_pairs():
    assert parse_rescale("0,1", 3) == [(0.0, 1.0)] * 3
    assert parse_rescale("0,1;2,3;4,5", 3) == [(0, 1), (2, 3), (4, 5)]
    assert parse_rescale(None, 3) is None
    with pytest.raises(InvalidInputError, match="2 pairs for 3 bands"):
        parse_rescale("0,1,2,3", 3)


def tile(n: int, tag: str = "") -> CachedTile:
    return CachedTile(b"x" * n, "image/png", f'"{tag}"')


def test_cache_drops_the_least_recently_used_past_its_bound():
    cache = TileCache(100)
    cache.put("a", tile(40))
    cache.put("b", tile(40))
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("c", tile(40))  # drops b
    assert cache.get("b") is None
    assert cache.get("c") is not None and cache.get("a") is not None
    cache.put("huge", tile(101))  # larger than the whole bound: not kept
    assert cache.get("huge") is None
    stats = cache.stats()
    assert stats["bytes"] == 80 and stats["tiles"] == 2
    assert stats["evictions"] == 1
    assert (stats["hits"], stats["misses"]) == (3, 2)
    cache.put("a", tile(10))  # replacing a key counts its new size only
    assert cache.stats()["bytes"] == 50
    assert TileCache(0).stats()["max_bytes"] == 0
    with pytest.raises(InvalidInputError):
        TileCache(-1)


def test_cache_is_safe_between_threads():
    cache = TileCache(5_000)
    errors = []

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for _ in range(2_000):
                key = str(int(rng.integers(0, 200)))
                if cache.get(key) is None:
                    cache.put(key, tile(int(rng.integers(1, 100)), key))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    stats = cache.stats()
    assert stats["bytes"] <= 5_000
    assert stats["hits"] + stats["misses"] == 8 * 2_000
    assert stats["bytes"] == sum(len(t.body) for t in cache._tiles.values())
