"""Fuzzing DSTL's two CSVs: train_wkt_v4.csv (WKT MultiPolygons) and grid_sizes.csv."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import write_geotiff
from fixtures_fuzz import FUZZ, NASTY_TOKENS, expect_clean, mutated_bytes
from satlearn.datasets.dstl import Dstl

pytestmark = pytest.mark.timeout(120)

IMAGE = "6120_2_2"
RECT = "((0.001 -0.002, 0.0025 -0.002, 0.0025 -0.005, 0.001 -0.005, 0.001 -0.002))"
WKT = (
    "ImageId,ClassType,MultipolygonWKT\n"
    f'{IMAGE},1,"MULTIPOLYGON ({RECT})"\n'
    f"{IMAGE},2,MULTIPOLYGON EMPTY\n"
    f'{IMAGE},5,"POLYGON {RECT}"\n'
)
GRID = f",Xmax,Ymin\n{IMAGE},0.0093,-0.009\n6010_0_0,0.009,-0.0091\n"
NAMES = ["train_wkt_v4.csv", "grid_sizes.csv", "dstl", "6120_2_2"]

_coord = st.one_of(
    st.floats(-0.01, 0.01),
    st.sampled_from(["1e309", "-1e309", "nan", "1e300", "0"]),
).map(str)
_ring = st.lists(st.tuples(_coord, _coord), min_size=0, max_size=6).map(
    lambda pts: "(" + ", ".join(f"{x} {y}" for x, y in pts) + ")"
)
_wkt_field = st.one_of(
    _ring.map(lambda r: f"MULTIPOLYGON (({r}))"),
    _ring.map(lambda r: f"POLYGON ({r})"),
    st.sampled_from(["POINT (0 0)", "MULTIPOLYGON EMPTY", "GEOMETRYCOLLECTION EMPTY", "", "x"]),
    st.sampled_from(NASTY_TOKENS),
)
_structured_wkt = st.lists(
    st.tuples(st.sampled_from([IMAGE, "6010_0_0", "nope"]), st.integers(-1, 12), _wkt_field),
    min_size=1,
    max_size=4,
).map(
    lambda rows: (
        "ImageId,ClassType,MultipolygonWKT\n" + "".join(f'{i},{c},"{w}"\n' for i, c, w in rows)
    )
)


@pytest.fixture(scope="module")
def image_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("dstl") / "img.tif"
    write_geotiff(path, np.ones((3, 20, 30), dtype=np.uint16))
    return path.read_bytes()


def _check(wkt: bytes, grid: bytes, image: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "train_wkt_v4.csv").write_bytes(wkt)
        (root / "grid_sizes.csv").write_bytes(grid)
        (root / "three_band").mkdir()
        (root / "three_band" / f"{IMAGE}.tif").write_bytes(image)
        ds = expect_clean(lambda: Dstl(root), NAMES)
        if ds is None:
            return
        sample = expect_clean(lambda: ds[0], NAMES)
        if sample is not None:
            assert sample["mask"].shape == (10, 20, 30) and sample["mask"].max() <= 1


@FUZZ
@given(wkt=st.one_of(mutated_bytes(WKT.encode()), _structured_wkt.map(str.encode)))
def test_wkt_rows_parse_or_name_the_file(wkt, image_bytes):
    _check(wkt, GRID.encode(), image_bytes)


@FUZZ
@given(grid=mutated_bytes(GRID.encode()))
def test_grid_sizes_parse_or_name_the_file(grid, image_bytes):
    _check(WKT.encode(), grid, image_bytes)
