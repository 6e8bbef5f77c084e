"""Tests of satlearn.synth: structure, determinism, inputs, and truth/image consistency."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from scipy import ndimage

from satlearn.bands import SENSORS, get_sensor
from satlearn.errors import InvalidInputError, UnknownSensorError
from satlearn.synth import CHANGE_TYPES, LAND_COVER_CLASSES, SyntheticScene, make_scene
from satlearn.synth.atmosphere import shadow_offset

WATER, FOREST, BUILT_UP = 0, 1, 5


@pytest.fixture(scope="module")
def scene() -> SyntheticScene:
    return make_scene(256, seed=11)


def _band(scene: SyntheticScene, name: str, t: int) -> np.ndarray:
    return scene.image.sel(band=name).values[t]


def _clear(scene: SyntheticScene, t: int, grow: int = 3) -> np.ndarray:
    """Pixels far from clouds, cirrus, shadows and ships on date t."""
    dirty = (
        scene.cloud_mask.values[t]
        | scene.shadow_mask.values[t]
        | scene.cirrus_mask.values[t]
        | scene.ship_mask.values[t]
    )
    return ~ndimage.binary_dilation(dirty, iterations=grow)


def _core(mask: np.ndarray, grow: int = 3) -> np.ndarray:
    return ndimage.binary_erosion(mask, iterations=grow)


# --- structure -------------------------------------------------------------------------


def test_image_dims_coords_crs_transform(scene: SyntheticScene) -> None:
    img = scene.image
    assert img.dims == ("time", "band", "y", "x")
    assert img.shape == (2, 13, 256, 256)
    assert img.dtype == np.float32
    assert tuple(img["band"].values) == get_sensor("sentinel2_l1c").names
    times = img["time"].values
    assert np.issubdtype(times.dtype, np.datetime64)
    assert times[0] < times[1]
    assert str(times[0])[:4] == "2024"
    expected = Affine(10.0, 0.0, 399960.0, 0.0, -10.0, 5000040.0)
    assert scene.transform == expected
    assert img.rio.transform() == expected
    assert img.rio.crs.to_epsg() == 32633
    np.testing.assert_allclose(img["x"].values[:2], [399965.0, 399975.0])
    np.testing.assert_allclose(img["y"].values[:2], [5000035.0, 5000025.0])
    assert scene.crs == "EPSG:32633"
    assert np.isfinite(img.values).all()
    assert float(img.min()) >= 0.0
    assert float(img.max()) < 1.5


def test_truth_dtypes_and_grids(scene: SyntheticScene) -> None:
    truths = scene.truths()
    for name in (
        "landcover", "landcover_after", "change_mask", "change_type", "cloud_mask",
        "cirrus_mask", "shadow_mask", "ship_mask", "buildings_mask", "dem", "disparity",
    ):  # fmt: skip
        da = truths[name]
        assert da.shape[-2:] == (256, 256), name
        assert da.rio.crs.to_epsg() == 32633, name
        assert da.rio.transform() == scene.transform, name
    for name in ("change_mask", "cloud_mask", "cirrus_mask", "shadow_mask", "ship_mask",
                 "buildings_mask"):  # fmt: skip
        assert truths[name].dtype == np.bool_, name
    assert truths["landcover"].dtype == np.uint8
    assert truths["landcover_after"].dims == ("time", "y", "x")
    assert truths["dem"].dtype == np.float32
    np.testing.assert_array_equal(scene.landcover_after.values[0], scene.landcover.values)
    # every class is present in a 256 x 256 scene
    assert set(np.unique(scene.landcover.values)) == set(range(len(LAND_COVER_CLASSES)))


def test_rectangular_size() -> None:
    s = make_scene((96, 160), seed=2, n_dates=1)
    assert s.image.shape[-2:] == (96, 160)
    assert s.pan.shape == (1, 192, 320)
    assert s.stereo_left.shape == (96, 160)
    assert s.misregistration == ((0.0, 0.0),)
    assert not s.change_mask.values.any()


def test_three_dates_and_intermediate_misregistration() -> None:
    s = make_scene(96, seed=5, n_dates=3, misregistration=(0.4, -0.2))
    assert s.image.sizes["time"] == 3
    assert np.all(np.diff(s.image["time"].values) > np.timedelta64(0, "D"))
    assert s.misregistration == ((0.0, 0.0), (0.2, -0.1), (0.4, -0.2))


# --- determinism -------------------------------------------------------------------------


def test_same_seed_identical_different_seed_different() -> None:
    a = make_scene(96, seed=3)
    b = make_scene(96, seed=3)
    c = make_scene(96, seed=4)
    for name in ("image", "pan", "landcover", "cloud_mask", "dem", "stereo_right"):
        np.testing.assert_array_equal(getattr(a, name).values, getattr(b, name).values)
    assert a.ships == b.ships
    assert not np.array_equal(a.image.values, c.image.values)
    assert not np.array_equal(a.landcover.values, c.landcover.values)


# --- spectral consistency -------------------------------------------------------------------


def test_clear_water_is_dark_in_nir(scene: SyntheticScene) -> None:
    for t in range(2):
        water = _core(scene.landcover_after.values[t] == WATER) & _clear(scene, t)
        assert water.sum() > 500
        nir, green = _band(scene, "nir", t)[water], _band(scene, "green", t)[water]
        assert (nir < 0.1).mean() > 0.99
        assert (nir < green).mean() > 0.99


def test_forest_ndvi_high(scene: SyntheticScene) -> None:
    for t in range(2):
        forest = _core(scene.landcover_after.values[t] == FOREST) & _clear(scene, t)
        assert forest.sum() > 500
        nir, red = _band(scene, "nir", t)[forest], _band(scene, "red", t)[forest]
        ndvi = (nir - red) / (nir + red)
        assert np.median(ndvi) > 0.6
        assert (ndvi > 0.5).mean() > 0.95


def test_clouds_bright_in_visible_bands(scene: SyntheticScene) -> None:
    for t in range(2):
        cloud = scene.cloud_mask.values[t]
        assert 0.03 < cloud.mean() < 0.35
        for band in ("coastal", "blue", "green", "red", "nir"):
            values = _band(scene, band, t)[_core(cloud, 1)]
            assert (values > 0.3).mean() > 0.99, band
            assert np.median(values) > 0.5, band


def test_cirrus_shows_in_cirrus_band(scene: SyntheticScene) -> None:
    t = int(np.argmax(scene.cirrus_mask.values.sum(axis=(1, 2))))
    cirrus = _core(scene.cirrus_mask.values[t], 1)
    clear = _clear(scene, t)
    assert cirrus.sum() > 50
    b10 = _band(scene, "cirrus", t)
    assert np.median(b10[cirrus]) > np.median(b10[clear]) + 0.04


@pytest.mark.parametrize("sensor", ["sentinel2_l1c", "landsat8"])
def test_cirrus_band_clear_sky_level_and_truth_match_fmask_test(sensor: str) -> None:
    # Real clear Sentinel-2 B10 reads about 0.001 (water vapour absorbs the
    # ground), so Fmask's "cirrus > 0.01" test separates clear from cirrus;
    # the cirrus truth is defined as what that test can see.
    scene = make_scene(128, seed=5, sensor=sensor, ships=False)
    for t in range(scene.image.sizes["time"]):
        b10 = _band(scene, "cirrus", t)
        truth = scene.cirrus_mask.values[t] | scene.cloud_mask.values[t]
        # Truths live on date 0's grid; the image of a later date is shifted by
        # a sub-pixel misregistration and blurred by the PSF, so boundary
        # pixels are left out.
        inside = _core(truth, 1)
        outside = ~ndimage.binary_dilation(truth, iterations=3)
        assert 0.0005 < np.median(b10[outside]) < 0.003
        assert (b10[outside] > 0.01).mean() < 0.002
        assert (b10[inside & scene.cirrus_mask.values[t]] > 0.01).mean() > 0.99


def test_shadows_darker_than_class_mean(scene: SyntheticScene) -> None:
    checked = 0
    for t in range(2):
        shadow = _core(scene.shadow_mask.values[t], 1) & ~scene.cirrus_mask.values[t]
        clear = _clear(scene, t)
        lc = scene.landcover_after.values[t]
        nir = _band(scene, "nir", t)
        for c in range(1, len(LAND_COVER_CLASSES)):  # land: water is mostly path radiance
            sel = shadow & (lc == c)
            if sel.sum() < 30 or (clear & (lc == c)).sum() < 100:
                continue
            assert nir[sel].mean() < 0.75 * nir[clear & (lc == c)].mean(), LAND_COVER_CLASSES[c]
            checked += 1
    assert checked >= 2


def test_shadows_are_clouds_projected_away_from_sun(scene: SyntheticScene) -> None:
    dy, dx = shadow_offset(scene.cloud_height_m, scene.sun_azimuth, scene.sun_zenith, 10.0)
    assert (dy, dx) != (0, 0)
    assert dy < 0
    assert dx < 0
    for t in range(2):
        rows, cols = np.nonzero(scene.shadow_mask.values[t])
        src_r, src_c = rows - dy, cols - dx
        inside = (src_r >= 0) & (src_r < 256) & (src_c >= 0) & (src_c < 256)
        assert inside.sum() > 20
        assert scene.cloud_mask.values[t][src_r[inside], src_c[inside]].all()


# --- objects ----------------------------------------------------------------------------------


def test_ships_on_water_and_bright(scene: SyntheticScene) -> None:
    assert len(scene.ships) >= 2
    for ship in scene.ships:
        t = ship["date_index"]
        assert 0.5 * 50.0 <= ship["length_m"] <= 300.0  # 50-300 m, shrunk if no room
        assert ship["width_m"] < ship["length_m"]
        assert 0.0 <= ship["heading_deg"] < 360.0
        r0, c0, r1, c1 = ship["bbox"]
        assert r0 <= round(ship["row"]) < r1
        assert c0 <= round(ship["col"]) < c1
        mine = np.zeros((256, 256), bool)
        mine[r0:r1, c0:c1] = scene.ship_mask.values[t][r0:r1, c0:c1]
        assert mine.any()
        lc = scene.landcover_after.values[t]
        assert (lc[mine] == WATER).all()
        assert not scene.cloud_mask.values[t][mine].any()
        ring = ndimage.binary_dilation(mine, iterations=4) & ~ndimage.binary_dilation(
            scene.ship_mask.values[t], iterations=2
        )
        nir = _band(scene, "nir", t)
        assert nir[mine].max() > nir[ring].mean() + 0.05
        minx, miny, maxx, maxy = ship["bounds"]
        x, y = scene.transform @ (ship["col"] + 0.5, ship["row"] + 0.5)
        assert minx < x < maxx
        assert miny < y < maxy
        assert max(maxx - minx, maxy - miny) <= ship["length_m"] + ship["width_m"]


def test_ships_geojson(scene: SyntheticScene) -> None:
    fc = scene.ships_geojson()
    assert fc["type"] == "FeatureCollection"
    assert len(fc["features"]) == len(scene.ships)
    for feat, ship in zip(fc["features"], scene.ships, strict=True):
        ring = np.array(feat["geometry"]["coordinates"][0])
        assert ring.shape == (5, 2)
        np.testing.assert_allclose(ring[0], ring[-1])
        minx, miny, maxx, maxy = ship["bounds"]
        np.testing.assert_allclose(ring.min(0), [minx, miny])
        np.testing.assert_allclose(ring.max(0), [maxx, maxy])
        assert feat["properties"]["date"].startswith("2024-")


def test_buildings_on_built_up(scene: SyntheticScene) -> None:
    for t in range(2):
        b = scene.buildings_mask.values[t]
        assert b.sum() > 50
        assert (scene.landcover_after.values[t][b] == BUILT_UP).all()
    # new buildings appear on the last date
    assert scene.buildings_mask.values[1].sum() > scene.buildings_mask.values[0].sum()


def test_change_mask_matches_landcover_after(scene: SyntheticScene) -> None:
    change = scene.change_mask.values
    assert change.any()
    after = scene.landcover_after.values
    np.testing.assert_array_equal(after[-1] != after[0], change)
    ctype = scene.change_type.values
    np.testing.assert_array_equal(ctype > 0, change)
    assert set(np.unique(ctype[change])) == {1, 2, 3}
    assert CHANGE_TYPES[3] == "flooding"
    assert (after[-1][ctype == 3] == WATER).all()
    assert (after[0][ctype == 2] == FOREST).all()


def test_seasonal_change_outside_change_mask(scene: SyntheticScene) -> None:
    # crops change greenness between dates though their class does not
    crop = _core(scene.landcover.values == 2) & _clear(scene, 0) & _clear(scene, 1)
    crop &= ~scene.change_mask.values
    ndvi = []
    for t in range(2):
        nir, red = _band(scene, "nir", t), _band(scene, "red", t)
        ndvi.append((nir - red) / (nir + red))
    delta = np.abs(ndvi[1] - ndvi[0])[crop]
    assert (delta > 0.2).mean() > 0.2


# --- sensors and inputs ---------------------------------------------------------------------


@pytest.mark.parametrize("sensor", sorted(SENSORS))
def test_every_sensor_generates(sensor: str) -> None:
    s = make_scene(64, seed=1, sensor=sensor, n_dates=1)
    assert tuple(s.image["band"].values) == SENSORS[sensor].names
    assert s.sensor == sensor
    assert np.isfinite(s.image.values).all()
    if any(b.center_wavelength > 3 for b in SENSORS[sensor].bands):
        assert "thermal_scaling" in s.image.attrs
        lwir = s.image.sel(band="lwir11").values
        assert 0.0 < float(np.median(lwir)) < 1.0


def test_sensor_alias_accepted() -> None:
    assert make_scene(64, sensor="Sentinel-2_L2A", n_dates=1).sensor == "sentinel2_l2a"


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"size": 10}, "size"),
        ({"size": 0}, "size"),
        ({"size": -64}, "size"),
        ({"size": 63}, "size"),
        ({"size": (64,)}, "size"),
        ({"size": "big"}, "size"),
        ({"size": 64.0}, "size"),
        ({"size": 64, "n_dates": 0}, "n_dates"),
        ({"size": 64, "n_dates": 1.5}, "n_dates"),
        ({"size": 64, "resolution": 0}, "resolution"),
        ({"size": 64, "resolution": -10.0}, "resolution"),
        ({"size": 64, "seed": -1}, "seed"),
        ({"size": 64, "crs": "not a crs"}, "crs"),
        ({"size": 64, "origin": ("a", 1)}, "origin"),
        ({"size": 64, "misregistration": (0.1,)}, "misregistration"),
        ({"size": 64, "sensor": 3}, "sensor"),
    ],
)
def test_bad_inputs_raise_invalid_input(kwargs: dict, word: str) -> None:
    size = kwargs.pop("size")
    with pytest.raises(InvalidInputError, match=word):
        make_scene(size, **kwargs)


def test_unknown_sensor_raises() -> None:
    with pytest.raises(UnknownSensorError, match="sensor"):
        make_scene(64, sensor="hubble")


def test_no_clouds_no_ships() -> None:
    s = make_scene(96, seed=8, clouds=False, ships=False)
    assert not s.cloud_mask.values.any()
    assert not s.shadow_mask.values.any()
    assert not s.cirrus_mask.values.any()
    assert s.ships == []
    assert not s.ship_mask.values.any()
