"""Ship candidates: CFAR statistics, measures, detection, hooks, dask windows, scoring."""

from __future__ import annotations

import json

import numpy as np
import pytest
from affine import Affine
from skimage.draw import polygon as draw_polygon

from conftest import make_dataarray
from satlearn.errors import CRSMismatchError, InvalidInputError, NoValidDataError, UnknownBandError
from satlearn.metrics import score_ships
from satlearn.ops.ships import (
    ShipDetections,
    cfar_background,
    detect_ships,
    measure_ships,
    ship_mask,
)
from satlearn.synth import make_scene

BANDS = ["green", "nir", "swir16", "cirrus"]
LAND = [0.08, 0.30, 0.20, 0.005]
SEA = [0.06, 0.02, 0.01, 0.004]
DECK = [0.25, 0.25, 0.18, 0.01]
CLOUD = [0.45, 0.45, 0.30, 0.30]


def rectangle(row, col, length, width, bearing_deg):
    """Corner rows/cols of a length x width rectangle whose long axis has this bearing."""
    b = np.radians(bearing_deg)
    along = np.array([-np.cos(b), np.sin(b)]) * length / 2  # (d_row, d_col)
    across = np.array([np.sin(b), np.cos(b)]) * width / 2
    centre = np.array([row, col])
    corners = np.array([centre + along + across, centre + along - across,
                        centre - along - across, centre - along + across])  # fmt: skip
    return corners[:, 0], corners[:, 1]


BOATS = [  # row, col, length px, width px, bearing
    (40, 50, 12, 3, 90.0),
    (70, 100, 16, 3, 0.0),
    (110, 60, 14, 4, 45.0),
    (120, 140, 10, 3, 135.0),
]


def sea_scene(boats=BOATS, cloud=None, shape=(160, 200), seed=0, **kwargs):
    """A sea with land along the top rows and left columns, boats and an optional cloud."""
    rng = np.random.default_rng(seed)
    data = np.empty((len(BANDS), *shape), np.float32)
    land = np.zeros(shape, bool)
    land[:10] = True
    land[:, :10] = True
    boat_mask = np.zeros(shape, bool)
    for row, col, length, width, bearing in boats:
        rr, cc = draw_polygon(*rectangle(row, col, length, width, bearing), shape=shape)
        boat_mask[rr, cc] = True
    for i in range(len(BANDS)):
        band = np.where(land, LAND[i], SEA[i]).astype(np.float32)
        band[boat_mask] = DECK[i]
        if cloud is not None:
            band[cloud] = CLOUD[i]
        data[i] = band + rng.normal(0, 0.003, shape).astype(np.float32)
    return make_dataarray(data, names=BANDS, **kwargs), boat_mask


def truths_of(boats, mask):
    from scipy import ndimage

    labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    out = []
    for row, col, length, width, bearing in boats:
        rows, cols = np.nonzero(labels == labels[row, col])
        out.append({"row": float(row), "col": float(col), "length_px": length,
                    "width_px": width, "bearing": bearing,
                    "bbox": (rows.min(), cols.min(), rows.max() + 1, cols.max() + 1)})  # fmt: skip
    return out


@pytest.fixture(scope="module")
def synthetic():
    scene = make_scene(256, seed=3, n_dates=1)
    return scene, scene.image.isel(time=0)


# --------------------------------------------------------------------------- CFAR statistics


def test_cfar_background_equals_brute_force_ring_statistics():
    rng = np.random.default_rng(3)
    image = rng.normal(0.05, 0.01, (30, 34))
    background = rng.random((30, 34)) > 0.3
    mean, std, count = cfar_background(image, background, guard_px=3, window_px=9)
    for r, c in [(0, 0), (5, 7), (15, 16), (29, 33), (12, 30)]:
        ring = np.zeros_like(background)
        ring[max(r - 4, 0) : r + 5, max(c - 4, 0) : c + 5] = True
        ring[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2] = False
        values = image[ring & background]
        assert count[r, c] == values.size
        assert mean[r, c] == pytest.approx(values.mean(), abs=1e-12)
        assert std[r, c] == pytest.approx(values.std(), abs=1e-9)


def test_cfar_background_without_background_is_nan():
    image = np.ones((8, 8))
    mean, std, count = cfar_background(image, np.zeros((8, 8), bool), guard_px=1, window_px=5)
    assert np.isnan(mean).all() and np.isnan(std).all() and (count == 0).all()


# --------------------------------------------------------------------------- measures


@pytest.mark.parametrize("bearing", [0.0, 30.0, 90.0, 135.0])
def test_measure_ships_recovers_a_rasterised_rectangle(bearing):
    from skimage.measure import regionprops_table

    mask = np.zeros((80, 80), bool)
    rr, cc = draw_polygon(*rectangle(40, 40, 30, 5, bearing), shape=mask.shape)
    mask[rr, cc] = True
    props = regionprops_table(mask.astype(int), properties=("centroid", "moments_central"))
    n = mask.sum()
    cov = np.array([[props["moments_central-2-0"][0] / n + 1 / 12,
                     props["moments_central-1-1"][0] / n],
                    [props["moments_central-1-1"][0] / n,
                     props["moments_central-0-2"][0] / n + 1 / 12]])  # fmt: skip
    table = {"row": props["centroid-0"], "col": props["centroid-1"], "pixels": np.array([n]),
             "bbox": np.array([[rr.min(), cc.min(), rr.max() + 1, cc.max() + 1]]),
             "cov": cov[None], "score": np.array([7.0]), "confidence": np.array([0.9])}  # fmt: skip
    [ship] = measure_ships(table, Affine(10, 0, 500000, 0, -10, 4000000))
    assert ship["length_m"] == pytest.approx(300, rel=0.06)
    assert ship["width_m"] == pytest.approx(50, rel=0.2)
    error = abs((ship["orientation_deg"] - bearing + 90) % 180 - 90)
    assert error < 3
    assert ship["area_m2"] == n * 100
    assert ship["confidence"] == 0.9
    # the oriented rectangle is closed, centred on the centroid, and has the measured sides
    ring = np.array(ship["polygon"])
    assert (ring[0] == ring[-1]).all()
    assert ring[:4].mean(axis=0) == pytest.approx([ship["x"], ship["y"]])
    assert np.hypot(*(ring[0] - ring[3])) == pytest.approx(ship["length_m"])
    assert np.hypot(*(ring[0] - ring[1])) == pytest.approx(ship["width_m"])


def test_measure_ships_in_feet_and_rotated_grids():
    cov = np.array([[[1 / 12, 0.0], [0.0, 4 + 1 / 12]]])  # 7 px along columns
    table = {"row": np.array([0.0]), "col": np.array([0.0]), "pixels": np.array([7]),
             "bbox": np.array([[0, -3, 1, 4]]), "cov": cov, "score": np.array([1.0]),
             "confidence": np.array([np.nan])}  # fmt: skip
    [feet] = measure_ships(table, Affine(10, 0, 0, 0, -10, 0), metres_per_unit=0.3048)
    assert feet["length_m"] == pytest.approx(70 * 0.3048)
    assert feet["confidence"] is None
    # a grid rotated by 90 degrees: columns run south, so the ship lies north-south
    [rotated] = measure_ships(table, Affine(0, 10, 0, -10, 0, 0))
    assert rotated["orientation_deg"] == pytest.approx(0.0, abs=1e-6)
    assert measure_ships({**table, **{k: v[:0] for k, v in table.items()}}, Affine.identity()) == []


# --------------------------------------------------------------------------- detection


def test_boats_are_found_and_measured():
    da, mask = sea_scene()
    found = detect_ships(da)
    truths = truths_of(BOATS, mask)
    scores = score_ships(found, truths)
    assert (scores.tp, scores.fp, scores.fn) == (4, 0, 0)
    for d, t in scores.matches:
        ship, truth = found.ships[d], truths[t]
        assert ship["length_m"] == pytest.approx(truth["length_px"] * 10, rel=0.15)
        assert ship["width_m"] == pytest.approx(truth["width_px"] * 10, rel=0.35)
        error = abs((ship["orientation_deg"] - truth["bearing"] + 90) % 180 - 90)
        assert error < 5
        assert ship["score"] > 5
        r0, c0, r1, c1 = ship["bbox_px"]
        assert (r0, c0, r1, c1) == tuple(truth["bbox"])
    assert found.water_fraction == pytest.approx((~mask[10:, 10:]).sum() / mask.size, rel=0.02)
    assert found.method == "cfar"
    assert found.water_index == "MNDWI"


def test_synthetic_scene_ships_are_found(synthetic):
    scene, image = synthetic
    found = detect_ships(image)
    scores = score_ships(found, scene.ships)
    assert scores.recall == 1.0
    assert scores.precision == 1.0
    for d, t in scores.matches:
        truth = scene.ships[t]
        assert found.ships[d]["length_m"] == pytest.approx(truth["length_m"], rel=0.35)


def test_felzenszwalb_path_finds_the_same_boats():
    da, mask = sea_scene()
    found = detect_ships(da, method="felzenszwalb")
    scores = score_ships(found, truths_of(BOATS, mask))
    assert (scores.tp, scores.fp, scores.fn) == (4, 0, 0)
    assert found.method == "felzenszwalb"


def test_felzenszwalb_on_the_synthetic_scene(synthetic):
    scene, image = synthetic
    scores = score_ships(detect_ships(image, method="felzenszwalb"), scene.ships)
    assert scores.recall >= 0.6 and scores.precision >= 0.6


def test_a_cloud_over_water_is_not_a_ship():
    cloud = np.zeros((160, 200), bool)
    cloud[140:144, 170:178] = True  # a small cloud, ship-sized, in open water
    da, _ = sea_scene(cloud=cloud)
    assert len(detect_ships(da)) == 4
    # without the cirrus-band test, it is a candidate
    assert len(detect_ships(da, max_cloud_ratio=None)) == 5
    no_cirrus = da.sel(band=["green", "nir", "swir16"])
    assert len(detect_ships(no_cirrus)) == 5  # the default band is used only where it exists
    with pytest.raises(UnknownBandError, match="no 'coastal' band"):
        detect_ships(da, cloud_band="coastal")


def test_min_contrast_and_size_limits():
    da, _ = sea_scene()
    assert len(detect_ships(da, min_contrast=0.5)) == 0
    assert len(detect_ships(da, max_length_m=120)) == 1  # only the 100 m boat
    assert len(detect_ships(da, min_pixels=50)) == 1  # only the 14 x 4 boat


def test_boats_next_to_the_shore_are_inside_the_water():
    boats = [(16, 60, 12, 3, 90.0)]  # 2 pixels off the land along the top rows
    da, mask = sea_scene(boats=boats)
    scores = score_ships(detect_ships(da), truths_of(boats, mask))
    assert scores.tp == 1 and scores.fp == 0


# --------------------------------------------------------------------------- confirm hook


def test_confirm_hook_gets_chips_and_filters():
    da, _mask = sea_scene()
    seen = []

    def reject_all(chips):
        seen.append(chips)
        return np.zeros(len(chips), bool)

    assert len(detect_ships(da, confirm=reject_all, chip_px=16)) == 0
    [chips] = seen
    assert chips.shape == (4, 4, 16, 16) and chips.dtype == np.float32
    # each chip is centred on a boat: its centre is deck, its corner sea
    assert chips[:, 1, 8, 8] == pytest.approx(0.25, abs=0.02)

    def probability(chips):  # brighter chips are likelier ships
        return np.clip(chips[:, 1].max(axis=(1, 2)) * 3, 0, 1)

    found = detect_ships(da, confirm=probability, confirm_threshold=0.5)
    assert len(found) == 4
    assert all(0.5 <= ship["confidence"] <= 1 for ship in found.ships)
    assert len(detect_ships(da, confirm=probability, confirm_threshold=0.99)) == 0


def test_confirm_hook_mirrors_at_the_scene_edge():
    boats = [(40, 50, 12, 3, 90.0), (150, 185, 10, 3, 0.0)]
    da, _ = sea_scene(boats=boats)
    chips = []
    detect_ships(da, confirm=lambda c: chips.append(c) or np.ones(len(c), bool), chip_px=32)
    assert np.isfinite(chips[0]).all() and chips[0].shape == (2, 4, 32, 32)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda c: np.ones(len(c) + 1, bool), r"confirm returned shape \(5,\) for 4 chips"),
        (lambda c: np.array(["yes"] * len(c)), "expected bool or float"),
    ],
)
def test_confirm_hook_bad_answers(answer, message):
    da, _ = sea_scene()
    with pytest.raises(InvalidInputError, match=message):
        detect_ships(da, confirm=answer)
    with pytest.raises(InvalidInputError, match="confirm must be callable"):
        detect_ships(da, confirm=3)


# --------------------------------------------------------------------------- outputs


def test_geojson_features_in_wgs84_and_in_the_scene_crs(tmp_path):
    da, _ = sea_scene()
    found = detect_ships(da)
    path = found.to_geojson(tmp_path / "ships.geojson")
    collection = json.loads(path.read_text())
    assert collection["type"] == "FeatureCollection" and "crs" not in collection
    assert len(collection["features"]) == 4
    feature = collection["features"][0]
    lon, lat = np.array(feature["geometry"]["coordinates"][0]).T
    assert ((lon > 13) & (lon < 14) & (lat > 45) & (lat < 45.2)).all()
    props = feature["properties"]
    for key in ("length_m", "width_m", "orientation_deg", "area_m2", "score", "bbox_px",
                "bbox_map"):  # fmt: skip
        assert key in props
    minx, miny, maxx, maxy = props["bbox_map"]
    assert 399960 <= minx < maxx <= 399960 + 2000 and 5000040 - 1600 <= miny < maxy <= 5000040
    native = json.loads(found.to_geojson(tmp_path / "utm.geojson", to_wgs84=False).read_text())
    assert "32633" in native["crs"]["properties"]["name"]
    x, _y = np.array(native["features"][0]["geometry"]["coordinates"][0]).T
    assert (minx - 10 < x).all() and (x < maxx + 10).all()


def test_no_water_gives_an_empty_feature_collection(tmp_path):
    da, _ = sea_scene(boats=[])
    da = da.copy()
    for i, value in enumerate(LAND):
        da.values[i] = value  # all land
    found = detect_ships(da)
    assert len(found) == 0 and found.water_fraction == 0.0
    collection = json.loads(found.to_geojson(tmp_path / "none.geojson").read_text())
    assert collection == {"type": "FeatureCollection", "features": []}


def test_all_nodata_raises_no_valid_data():
    da, _ = sea_scene()
    da = da.copy(data=np.full(da.shape, np.nan, np.float32))
    with pytest.raises(NoValidDataError, match="all nodata"):
        detect_ships(da)


# --------------------------------------------------------------------------- bad input


def test_missing_bands_are_named():
    da, _ = sea_scene()
    with pytest.raises(UnknownBandError, match="no 'nir' band"):
        detect_ships(da.sel(band=["green", "swir16", "cirrus"]))
    with pytest.raises(UnknownBandError, match="no 'red' band"):
        detect_ships(da, band="red")


def test_given_water_mask_must_share_the_grid():
    da, boat_mask = sea_scene()
    sea = np.zeros(boat_mask.shape, bool)
    sea[10:, 10:] = True
    found = detect_ships(da, water=sea)
    assert len(found) == 4 and found.water_index == "given"
    assert found.water_fraction == pytest.approx(sea.mean())
    with pytest.raises(InvalidInputError, match=r"water mask has shape \(5, 5\)"):
        detect_ships(da, water=np.ones((5, 5), bool))
    other = make_dataarray(sea[None].astype(np.uint8), crs="EPSG:4326")
    with pytest.raises(CRSMismatchError, match="water mask is in EPSG:4326"):
        detect_ships(da, water=other)
    half = np.ones(boat_mask.shape, bool)
    half[:, 120:] = False
    assert len(detect_ships(da, water=sea, valid=half)) == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "yolo"}, "unknown ship method 'yolo'"),
        ({"k": 0}, "k must be > 0"),
        ({"min_contrast": float("nan")}, "min_contrast must be a finite number"),
        ({"guard_m": -1.0}, "guard_m must be > 0"),
        ({"shore_px": -1}, "shore_px must be an int >= 0"),
        ({"min_pixels": 0}, "min_pixels must be an int >= 1"),
        ({"chip_px": True}, "chip_px must be an int >= 2"),
        ({"max_cloud_ratio": "x"}, "max_cloud_ratio must be a finite number"),
    ],
)
def test_bad_arguments(kwargs, message):
    da, _ = sea_scene()
    with pytest.raises(InvalidInputError, match=message):
        detect_ships(da, **kwargs)


def test_a_scene_without_crs_is_refused():
    da, _ = sea_scene(crs=None)
    with pytest.raises(InvalidInputError, match="no CRS"):
        detect_ships(da)


# --------------------------------------------------------------------------- windows and dask


def test_dask_windows_find_each_ship_once_across_seams(synthetic):
    _scene, image = synthetic
    eager = detect_ships(image)
    lazy = detect_ships(image.chunk({"band": -1, "y": 100, "x": 100}))
    assert len(lazy) == len(eager) > 0
    for a, b in zip(eager.ships, lazy.ships, strict=True):
        assert a["bbox_px"] == b["bbox_px"] and a["pixels"] == b["pixels"]
        assert a["length_m"] == pytest.approx(b["length_m"])
        assert a["score"] == pytest.approx(b["score"], rel=1e-6)
    assert lazy.water_fraction == pytest.approx(eager.water_fraction)


def test_boat_on_a_block_seam_is_found_once():
    boats = [(80, 100, 16, 3, 90.0)]  # straddles the seam at column 100
    da, mask = sea_scene(boats=boats)
    found = detect_ships(da.chunk({"y": 80, "x": 100}))
    scores = score_ships(found, truths_of(boats, mask))
    assert (scores.tp, scores.fp) == (1, 0)


def test_large_numpy_scenes_are_cut_into_blocks(monkeypatch):
    from satlearn.ops.ships import _detect

    da, mask = sea_scene()
    monkeypatch.setattr(_detect, "_SINGLE_WINDOW", 100)
    monkeypatch.setattr(_detect, "_BLOCK", 64)
    scores = score_ships(detect_ships(da), truths_of(BOATS, mask))
    assert (scores.tp, scores.fp, scores.fn) == (4, 0, 0)


def test_ship_detections_length_and_features_without_ships():
    da, _ = sea_scene(boats=[])
    found = detect_ships(da)
    assert isinstance(found, ShipDetections) and len(found) == 0 and found.features() == []


# --------------------------------------------------------------------------- one shape for results


def test_ship_mask_is_the_short_form_of_detect_ships():
    da, mask = sea_scene()
    found = detect_ships(da)
    short = ship_mask(da)
    assert short.dims == ("y", "x") and short.dtype == bool
    np.testing.assert_array_equal(short.values, found.mask.values)
    # every ship's centre pixel is inside its footprint, and nothing outside the sea is
    for ship in found.ships:
        assert short.values[round(ship["row"]), round(ship["col"])]
    assert 0 < int(short.values.sum()) <= int(mask.sum()) * 2


def test_detections_score_and_vectorise_like_every_result():
    da, mask = sea_scene()
    found = detect_ships(da)
    truths = truths_of(BOATS, mask)
    assert found.scores(truths) == score_ships(found, truths)
    assert found.to_features() == found.features()


def test_no_ship_gives_an_empty_mask():
    da, _ = sea_scene()
    found = detect_ships(da, k=1e6)
    assert len(found) == 0
    assert not found.mask.values.any()


def test_scoring_moved_to_metrics_with_the_old_names_deprecated():
    import satlearn.ops.ships

    with pytest.warns(DeprecationWarning, match=r"satlearn\.metrics\.score_ships"):
        old = satlearn.ops.ships.score_ships
    assert old is score_ships
    with pytest.raises(AttributeError):
        _ = satlearn.ops.ships.no_such_name
