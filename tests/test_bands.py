"""Band names and sensor profiles: lookup both ways, clear errors for unknown names."""

import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

from satlearn.bands import (
    SENSORS,
    STAC_COMMON_NAMES,
    get_sensor,
    known_band_names,
    stac_common_name,
)
from satlearn.errors import UnknownBandError, UnknownSensorError

EXPECTED_COUNTS = {
    "sentinel2_l1c": 13,
    "sentinel2_l2a": 12,
    "landsat8": 11,
    "landsat9": 11,
    "planetscope4": 4,
    "planetscope8": 8,
    "naip": 4,
    "deepsat": 4,
    "worldview3": 9,
}


@pytest.mark.parametrize(("key", "count"), EXPECTED_COUNTS.items())
def test_each_sensor_has_its_published_band_count(key, count):
    assert len(get_sensor(key).bands) == count


def test_sentinel2_ids_and_names_map_both_ways():
    s2 = get_sensor("sentinel2_l1c")
    assert s2.to_name("B08") == "nir"
    assert s2.to_id("nir") == "B08"
    assert s2.to_name("B8A") == "nir08"
    assert s2.to_name("B10") == "cirrus"
    assert s2.to_id("swir22") == "B12"
    assert [s2.to_name(i) for i in ("B05", "B06", "B07")] == ["rededge1", "rededge2", "rededge3"]


def test_band_ids_match_without_case_or_leading_zeros():
    s2 = get_sensor("sentinel2_l1c")
    assert s2.band("b8").id == "B08"
    assert s2.band("B8").id == "B08"
    assert s2.band("b8a").id == "B8A"
    assert "B8" in s2
    assert "B13" not in s2
    assert 8 not in s2


def test_l2a_has_no_cirrus_band():
    l2a = get_sensor("sentinel2_l2a")
    assert "cirrus" not in l2a.names
    with pytest.raises(UnknownBandError, match="B10"):
        l2a.band("B10")


def test_landsat_broad_nir_is_named_nir_but_keeps_its_stac_name():
    l8 = get_sensor("landsat8")
    band5 = l8.band("B5")
    assert band5.name == "nir"
    assert band5.common_name == "nir08"
    assert l8.to_id("pan") == "B8"
    assert l8.band("pan").resolution == 15
    assert l8.to_name("B10") == "lwir11"


def test_worldview3_has_pan_at_quarter_resolution():
    wv3 = get_sensor("wv3")
    assert wv3.band("pan").resolution * 4 == pytest.approx(wv3.band("red").resolution)
    assert wv3.to_name("BAND_N2") == "nir09"


def test_unknown_band_names_the_sensor_and_lists_known_bands():
    with pytest.raises(UnknownBandError) as info:
        get_sensor("landsat8").band("nir2")
    message = str(info.value)
    assert "'nir2'" in message
    assert "landsat8" in message
    assert "B5" in message
    assert "swir16" in message


def test_unknown_sensor_lists_known_sensors():
    with pytest.raises(UnknownSensorError) as info:
        get_sensor("modis")
    assert "'modis'" in str(info.value)
    for key in SENSORS:
        assert key in str(info.value)


@pytest.mark.parametrize(
    ("alias", "key"),
    [
        ("Sentinel-2", "sentinel2_l1c"),
        ("Sentinel-2 L2A", "sentinel2_l2a"),
        ("S2", "sentinel2_l1c"),
        ("l9", "landsat9"),
        ("SAT6", "deepsat"),
        ("WorldView3", "worldview3"),
    ],
)
def test_sensor_aliases(alias, key):
    assert get_sensor(alias).key == key


@pytest.mark.parametrize("sensor", SENSORS.values(), ids=list(SENSORS))
def test_names_unique_and_common_names_valid_stac(sensor):
    assert len(set(sensor.names)) == len(sensor.names)
    assert len(set(sensor.ids)) == len(sensor.ids)
    for band in sensor.bands:
        assert band.common_name is None or band.common_name in STAC_COMMON_NAMES
        assert band.center_wavelength > 0
        assert band.full_width_half_max > 0
        assert band.resolution > 0


@given(st.sampled_from([(s, b) for s in SENSORS.values() for b in s.bands]))
def test_round_trip_id_to_name_to_id(sensor_band):
    sensor, band = sensor_band
    assert sensor.to_id(sensor.to_name(band.id)) == band.id
    assert sensor.to_name(sensor.to_id(band.name)) == band.name


def test_stac_common_name_maps_numbered_rededge():
    assert stac_common_name("rededge3") == "rededge"
    assert stac_common_name("nir") == "nir"
    assert stac_common_name("green1") is None
    assert stac_common_name("b1") is None


def test_known_band_names_cover_all_sensors():
    names = known_band_names()
    assert {"red", "nir", "rededge2", "pan", "lwir12", "green1"} <= names


class TestReflectance:
    """bands.reflectance: the one place stored values become physical values."""

    @staticmethod
    def _stored(nodata=0, scale=(1e-4, 2e-4), offset=(-0.1, 0.0)):
        import rioxarray  # noqa: F401

        da = xr.DataArray(
            np.array([[[0, 1000]], [[2000, 3000]]], np.uint16),
            dims=("band", "y", "x"),
            coords={
                "band": ["red", "nir"],
                "scale": ("band", list(scale)),
                "offset": ("band", list(offset)),
            },
        )
        return da.rio.write_nodata(nodata)

    def test_scale_offset_and_nodata(self):
        from satlearn.bands import reflectance

        out = reflectance(self._stored())
        assert out.dtype == np.float32
        np.testing.assert_allclose(out.values, [[[np.nan, 0.0]], [[0.4, 0.6]]], atol=1e-6)
        assert "scale" not in out.coords and "offset" not in out.coords

    def test_selects_bands_in_order(self):
        from satlearn.bands import reflectance

        out = reflectance(self._stored(), ["nir", "red"])
        assert out.coords["band"].values.tolist() == ["nir", "red"]
        np.testing.assert_allclose(out.values[0], [[0.4, 0.6]], atol=1e-6)

    def test_a_missing_band_names_the_bands_present(self):
        from satlearn.bands import reflectance
        from satlearn.errors import UnknownBandError

        with pytest.raises(UnknownBandError, match="no 'swir16' band; its bands are red, nir"):
            reflectance(self._stored(), ["swir16"])

    def test_lazy_input_stays_lazy_and_agrees(self):
        import dask.array as dsa

        from satlearn.bands import reflectance

        stored = self._stored()
        lazy = reflectance(stored.chunk({"x": 1}))
        assert isinstance(lazy.data, dsa.Array)
        np.testing.assert_array_equal(lazy.values, reflectance(stored).values)

    def test_time_series_scale_along_band(self):
        from satlearn.bands import reflectance

        stored = self._stored()
        series = xr.concat([stored, stored], dim="time")
        out = reflectance(series)
        assert out.dims == ("time", "band", "y", "x")
        np.testing.assert_allclose(out.values[1, 1], [[0.4, 0.6]], atol=1e-6)

    def test_no_scale_keeps_values(self):
        from satlearn.bands import reflectance

        da = xr.DataArray(np.full((1, 2, 2), 0.25, np.float64), dims=("band", "y", "x"))
        np.testing.assert_array_equal(reflectance(da).values, np.full((1, 2, 2), 0.25, np.float32))


def test_reflectance_of_a_scene_chunked_along_band_scales_each_band():
    import xarray as xr

    from satlearn.bands import reflectance

    data = np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5) + 1
    da = xr.DataArray(
        data,
        dims=("band", "y", "x"),
        coords={"band": ["red", "green", "nir"], "scale": ("band", [1e-4, 2e-4, 3e-4]),
                "offset": ("band", [0.0, -0.1, 0.1])},
    )  # fmt: skip
    expected = reflectance(da).values
    lazy = reflectance(da.chunk({"band": 1, "y": 2}))
    assert lazy.chunks is not None
    np.testing.assert_allclose(lazy.values, expected, rtol=1e-6)
    np.testing.assert_allclose(expected[2], data[2] * np.float32(3e-4) + np.float32(0.1), rtol=1e-6)
