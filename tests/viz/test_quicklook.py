"""Quicklooks: percentile stretch to 8-bit RGB, decimated before loading."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import make_dataarray
from satlearn.errors import InvalidInputError, UnknownBandError
from satlearn.viz import quicklook, to_rgb8


def test_stretch_maps_percentiles_to_the_8bit_range():
    band = np.linspace(0, 1, 101, dtype="float32").reshape(1, 1, 101)
    rgb = to_rgb8(band, percentiles=(10, 90))
    assert rgb.shape == (1, 101, 3)
    assert rgb[0, 10, 0] == 0 and rgb[0, 90, 0] == 255
    assert rgb[0, 50, 0] == pytest.approx(127, abs=1)
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])  # grey in, grey out


def test_nodata_and_nan_pixels_are_black_and_ignored_by_the_stretch():
    data = np.full((3, 4, 4), 100.0)
    data[:, 0, 0] = 0  # nodata
    data[:, 1, 1] = np.nan
    data[:, 2, 2] = 200
    rgb = to_rgb8(data, nodata=0)
    assert (rgb[0, 0] == 0).all() and (rgb[1, 1] == 0).all()
    assert (rgb[2, 2] == 255).all()
    assert to_rgb8(np.full((1, 2, 2), np.nan)).max() == 0  # nothing valid: all black, no warning


@pytest.mark.parametrize(
    ("image", "kwargs"),
    [(np.zeros((2, 4, 4)), {}), (np.zeros((3, 4, 4)), {"percentiles": (50, 10)})],
)
def test_bad_stretch_inputs(image, kwargs):
    with pytest.raises(InvalidInputError):
        to_rgb8(image, **kwargs)


def test_quicklook_writes_a_decimated_rgb_png(tmp_path):
    rng = np.random.default_rng(0)
    da = make_dataarray(
        rng.random((4, 300, 200)).astype("float32"), names=["blue", "green", "red", "nir"]
    )
    path = quicklook(da.chunk({"y": 100}), tmp_path / "q.png", max_size=100)
    with Image.open(path) as img:
        assert img.size == (67, 100)
        assert img.mode == "RGB"


def test_quicklook_falls_back_to_grey_and_checks_band_names(tmp_path):
    da = make_dataarray(np.arange(64, dtype="float32").reshape(1, 8, 8), names=["dem"])
    with Image.open(quicklook(da, tmp_path / "g.png")) as img:
        pixels = np.asarray(img)
    np.testing.assert_array_equal(pixels[..., 0], pixels[..., 1])
    with Image.open(quicklook(da.isel(band=0), tmp_path / "g2.png")) as img:
        assert img.size == (8, 8)
    with pytest.raises(UnknownBandError, match="not 3 bands"):
        quicklook(da, tmp_path / "x.png", bands=["nir", "red"])
    with pytest.raises(InvalidInputError, match="dims"):
        quicklook(da.expand_dims(time=[0]), tmp_path / "x.png")
