"""Fuzzing the viewer's tile parameters (view/_style.py): bands, rescale, colormap, class_id."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fixtures_fuzz import FUZZ, NASTY_TOKENS, expect_clean, finite, mutated_text
from satlearn.view._render import AssetMeta, colormap_names
from satlearn.view._style import TileStyle, check_id, parse_style

pytestmark = pytest.mark.timeout(120)

META = AssetMeta(
    href="/data/scene.tif",
    count=4,
    dtype="uint16",
    nodata=0.0,
    width=256,
    height=256,
    bounds=(2.0, 48.0, 2.1, 48.1),
    minzoom=10,
    maxzoom=14,
    names=("red", "green", "blue", "nir"),
    descriptions=("", "", "", ""),
    ranges=((0.0, 3000.0),) * 4,
    stats=({},) * 4,
    scales=(1.0,) * 4,
    offsets=(0.0,) * 4,
)
VALID = {"bands": "nir,red,3", "rescale": "0,3000;10,20;0,1e4", "class_id": "2"}
PARAMS = ("bands", "rescale", "colormap", "class_id", "layer", "model")

_text = st.one_of(st.text(max_size=12), st.sampled_from(NASTY_TOKENS))
_band = st.one_of(st.sampled_from(["1", "4", "5", "nir", "RED", " blue "]), _text)
_bands = st.lists(_band, max_size=5).map(",".join)
_number = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(str), _text)
_rescale = st.lists(st.lists(_number, max_size=4).map(",".join), max_size=4).map(";".join)
_colormap = st.one_of(st.sampled_from(["viridis", " MAGMA", "rdylgn_r"]), _text)
_params = st.fixed_dictionaries(
    {},
    optional={
        "bands": st.one_of(_bands, mutated_text(VALID["bands"])),
        "rescale": st.one_of(_rescale, mutated_text(VALID["rescale"])),
        "colormap": _colormap,
        "class_id": st.one_of(_text, mutated_text(VALID["class_id"])),
        "layer": st.one_of(st.sampled_from(["classes", "probability"]), _text),
        "model": st.one_of(st.sampled_from(["unet", "a/../b"]), _text),
    },
)


def _check(params: dict[str, str]) -> None:
    names = [*PARAMS, *(v[:20] for v in params.values())]
    style = expect_clean(lambda: parse_style(META, params), names)
    if style is None:
        return
    assert isinstance(style, TileStyle)
    assert all(1 <= i <= META.count for i in style.indexes)
    if style.model is None:
        assert len(style.indexes) in (1, 3)
    if style.rescale is not None:
        assert all(finite(lo) and finite(hi) and lo < hi for lo, hi in style.rescale)
    assert style.colormap is None or style.colormap in colormap_names()
    assert style.class_id is None or style.class_id >= 0
    style.key()  # the ETag's parts: every one JSON-able


@FUZZ
@given(params=_params)
@example(params={"bands": "²"})  # str.isdigit accepts it, int() refuses it (ValueError)
@example(params={"bands": "9" * 5000})  # int() refuses more than 4300 digits (ValueError)
@example(params={"class_id": "²"})
@example(params={"class_id": "9" * 5000})
def test_tile_parameters_parse_or_name_the_parameter(params):
    _check(params)


@FUZZ
@given(value=st.one_of(_text, mutated_text("unet-v2.onnx")))
def test_ids_are_checked(value):
    checked = expect_clean(lambda: check_id(value, "model"), ["model"])
    if checked is not None:
        assert ".." not in checked and "/" not in checked
