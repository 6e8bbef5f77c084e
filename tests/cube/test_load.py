"""load_cube and median_composite: STAC items into (time, band, y, x) cubes.

Items are built here with pystac from rasters the tests write, so each test
knows every pixel it should get back; cubes are compared with direct rasterio
reads of the same windows.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
import rasterio.warp
import rasterio.windows
import shapely
from affine import Affine

from conftest import CRS, TRANSFORM, make_dataarray, write_geotiff
from satlearn.cube import load_cube
from satlearn.errors import (
    InvalidInputError,
    NoValidDataError,
    RasterNotFoundError,
    RemoteAccessError,
    UnknownBandError,
)
from satlearn.ops.composite import median_composite
from satlearn.raster import save_cog
from satlearn.testing.http import RangeHTTPServer

# odc-geo (under odc-stac) still multiplies Affine by tuples with `*` (affine >= 3
# prefers `@`) and calls shapely.ops.transform (deprecated in shapely 2.1);
# pyproject.toml ignores the first for rasterio and rioxarray already.
ODC_WARNINGS = [
    pytest.mark.filterwarnings(
        "ignore:Use `@` matmul instead of `\\*` mul operator:PendingDeprecationWarning:odc.*"
    ),
    pytest.mark.filterwarnings(
        "ignore:The 'shapely.ops.transform\\(\\)' function is deprecated:DeprecationWarning"
    ),
]
pytestmark = ODC_WARNINGS

DAY = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)


def stac_item(
    path: Path | str,
    item_id: str,
    when: dt.datetime = DAY,
    *,
    bands: list[tuple[str, str | None]] | None = None,
    layout: str = "multi",
    platform: str | None = None,
    proj: bool = True,
    scale: float | None = None,
    href: str | None = None,
) -> pystac.Item:
    """A STAC item for a raster file, with eo, projection and raster metadata.

    ``bands`` is [(eo name, common name)] in file order. ``layout="multi"``:
    one ``data`` asset with all bands; ``"single"``: the file is single-band
    and its asset key is the first band's name, without eo:bands (found
    through the platform's sensor profile).
    """
    with rasterio.open(path) as src:
        bounds, crs, transform = src.bounds, src.crs, src.transform
        shape, count, dtype, nodata = src.shape, src.count, src.dtypes[0], src.nodata
    bands = bands or [(f"b{i}", None) for i in range(1, count + 1)]
    lonlat = rasterio.warp.transform_bounds(crs, "EPSG:4326", *bounds)
    props = {"platform": platform} if platform else {}
    item = pystac.Item(
        item_id, shapely.geometry.mapping(shapely.box(*lonlat)), list(lonlat), when, props
    )
    raster_band: dict[str, object] = {"data_type": dtype}
    if nodata is not None:
        raster_band["nodata"] = nodata
    if scale is not None:
        raster_band["scale"] = scale
    fields: dict[str, object] = {"raster:bands": [dict(raster_band) for _ in range(count)]}
    if layout == "multi":
        fields["eo:bands"] = [{"name": n, **({"common_name": c} if c else {})} for n, c in bands]
    if proj:
        fields.update(
            {
                "proj:code": crs.to_string(),
                "proj:transform": list(transform)[:6],
                "proj:shape": list(shape),
            }
        )
    key = "data" if layout == "multi" else bands[0][0]
    item.add_asset(
        key,
        pystac.Asset(
            href or str(path), media_type=pystac.MediaType.COG, roles=["data"], extra_fields=fields
        ),
    )
    return item


def _cog(
    path: Path,
    data: np.ndarray,
    *,
    names: list[str],
    transform: Affine = TRANSFORM,
    crs: str = CRS,
    nodata: float | None = 0,
    blocksize: int = 512,
) -> Path:
    da = make_dataarray(data, names=names, transform=transform, crs=crs, nodata=nodata)
    save_cog(da, path, blocksize=blocksize)
    return path


def _read(path: Path, window: rasterio.windows.Window | None = None) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(window=window)


RED_NIR = [("B04", "red"), ("B08", "nir")]


@pytest.fixture
def three_dates(tmp_path: Path) -> list[tuple[Path, pystac.Item]]:
    rng = np.random.default_rng(0)
    out = []
    for t in range(3):
        data = rng.integers(1, 10_000, size=(2, 96, 80), dtype=np.uint16)
        path = _cog(tmp_path / f"d{t}.tif", data, names=["red", "nir"])
        out.append((path, stac_item(path, f"d{t}", DAY + dt.timedelta(days=10 * t), bands=RED_NIR)))
    return out


# --------------------------------------------------------------------------- values


def test_cube_is_lazy_time_band_y_x_and_equals_direct_reads(three_dates) -> None:
    items = [item for _, item in three_dates]
    cube = load_cube(items, bands=["nir", "red"], chunks=32)
    assert cube.dims == ("time", "band", "y", "x")
    assert cube.chunks is not None  # dask-backed until computed
    assert list(cube["band"].values) == ["nir", "red"]
    assert cube.rio.crs == rasterio.crs.CRS.from_string(CRS)
    assert cube.rio.transform() == TRANSFORM
    assert cube.rio.nodata == 0
    values = cube.values
    for t, (path, _) in enumerate(three_dates):
        direct = _read(path)
        np.testing.assert_array_equal(values[t], direct[::-1])  # nir, red order asked


def test_bbox_loads_only_that_window(three_dates) -> None:
    path, _ = three_dates[1]
    # A box in the rasters' CRS: rows 20..50, cols 10..40 of the 10 m grid.
    left, top = TRANSFORM @ (10, 20)
    right, bottom = TRANSFORM @ (40, 50)
    cube = load_cube(
        [item for _, item in three_dates],
        bands=["red"],
        bbox=(left, bottom, right, top),
        bbox_crs=CRS,
    )
    assert cube.shape == (3, 1, 30, 30)
    assert cube.rio.transform() == Affine(10.0, 0.0, left, 0.0, -10.0, top)
    window = rasterio.windows.Window(10, 20, 30, 30)
    np.testing.assert_array_equal(cube.values[1, 0], _read(path, window)[0])


def test_lonlat_bbox_is_the_default(three_dates) -> None:
    path, item = three_dates[0]
    west, south, east, north = item.bbox
    mid_x, mid_y = (west + east) / 2, (south + north) / 2
    cube = load_cube([item], bands="red", bbox=(west, mid_y, mid_x, north))
    # About the north-west quarter of the 96 x 80 raster (the lon/lat box of a
    # UTM footprint reaches a little beyond it: those pixels are nodata).
    assert 40 <= cube.sizes["x"] <= 44 and 48 <= cube.sizes["y"] <= 52
    full = _read(path)[0]
    cols = np.floor((cube.x.values - TRANSFORM.c) / 10).astype(int)
    rows = np.floor((TRANSFORM.f - cube.y.values) / 10).astype(int)
    inside = (rows[:, None] >= 0) & (rows[:, None] < 96) & (cols >= 0) & (cols < 80)
    got = cube.values[0, 0]
    expected = full[np.clip(rows, 0, 95)[:, None], np.clip(cols, 0, 79)]
    np.testing.assert_array_equal(got[inside], expected[inside])
    assert (got[~inside] == 0).all() and inside.mean() > 0.9


def test_items_of_other_resolution_and_crs_are_resampled_onto_one_grid(tmp_path: Path) -> None:
    fine = np.arange(64 * 64, dtype=np.uint16).reshape(1, 64, 64) + 1
    coarse = (np.arange(32 * 32, dtype=np.uint16).reshape(1, 32, 32) + 1) * 3
    p10 = _cog(tmp_path / "fine.tif", fine, names=["red"])
    p20 = _cog(
        tmp_path / "coarse.tif",
        coarse,
        names=["red"],
        transform=Affine(20.0, 0.0, TRANSFORM.c, 0.0, -20.0, TRANSFORM.f),
    )
    # The same ground in Web Mercator: a different CRS altogether.
    with rasterio.open(p10) as src:
        merc_transform, w, h = rasterio.warp.calculate_default_transform(
            src.crs, "EPSG:3857", src.width, src.height, *src.bounds
        )
        merc = np.zeros((1, h, w), np.uint16)
        rasterio.warp.reproject(
            fine,
            merc,
            src_transform=src.transform,
            src_crs=src.crs,
            dst_transform=merc_transform,
            dst_crs="EPSG:3857",
            resampling=rasterio.enums.Resampling.nearest,
        )
    p3857 = _cog(
        tmp_path / "merc.tif", merc, names=["red"], transform=merc_transform, crs="EPSG:3857"
    )
    items = [
        stac_item(p10, "fine", DAY, bands=[("red", "red")]),
        stac_item(p20, "coarse", DAY + dt.timedelta(days=1), bands=[("red", "red")]),
        stac_item(p3857, "merc", DAY + dt.timedelta(days=2), bands=[("red", "red")]),
    ]
    cube = load_cube(items, bands=["red"], crs=CRS, resolution=10)
    assert cube.rio.crs == rasterio.crs.CRS.from_string(CRS)
    assert cube.rio.resolution() == (10.0, -10.0)
    # The grid spans the union of footprints (the Mercator one reaches a little
    # further); pick the fine raster's own pixel centres out of it.
    xs = TRANSFORM.c + 10 * (np.arange(64) + 0.5)
    ys = TRANSFORM.f - 10 * (np.arange(64) + 0.5)
    values = cube.sel(band="red", x=xs, y=ys).values
    np.testing.assert_array_equal(values[0], fine[0])
    # 20 m pixels repeat 2 x 2 on the 10 m grid with nearest resampling.
    np.testing.assert_array_equal(values[1], np.kron(coarse[0], np.ones((2, 2), int)))
    # Reprojected twice (to 3857 and back) with nearest: nearly every pixel returns.
    back = values[2]
    assert np.mean(back == fine[0]) > 0.9
    # And a resolution change: 20 m output averages 2 x 2 blocks of the 10 m item.
    cube20 = load_cube(items[:1], bands="red", resolution=20, resampling="average")
    expected = fine[0].reshape(32, 2, 32, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(cube20.values[0, 0], expected, atol=1)


def test_groupby_solar_day_merges_tiles_of_one_pass(tmp_path: Path) -> None:
    west = np.full((1, 32, 32), 7, np.uint16)
    east = np.full((1, 32, 32), 9, np.uint16)
    pw = _cog(tmp_path / "w.tif", west, names=["red"])
    pe = _cog(
        tmp_path / "e.tif",
        east,
        names=["red"],
        transform=TRANSFORM @ Affine.translation(32, 0),
    )
    items = [
        stac_item(pw, "west", DAY, bands=[("red", "red")]),
        stac_item(pe, "east", DAY + dt.timedelta(minutes=3), bands=[("red", "red")]),
    ]
    merged = load_cube(items, bands="red")
    assert merged.sizes["time"] == 1
    np.testing.assert_array_equal(merged.values[0, 0], np.hstack([west[0], east[0]]))
    separate = load_cube(items, bands="red", groupby=None)
    assert separate.sizes["time"] == 2
    # Each step holds its own tile; the other half is nodata.
    assert (separate.values[0, 0, :, 32:] == 0).all() and (separate.values[1, 0, :, :32] == 0).all()


def test_items_storing_bands_differently_stack_into_one_cube(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    multi = rng.integers(1, 1000, size=(3, 40, 40), dtype=np.uint16)
    pm = _cog(tmp_path / "multi.tif", multi, names=["green", "red", "nir"])
    red = rng.integers(1, 1000, size=(1, 40, 40), dtype=np.uint16)
    nir = rng.integers(1, 1000, size=(1, 40, 40), dtype=np.uint16)
    pr = _cog(tmp_path / "B04.tif", red, names=["B04"])
    pn = _cog(tmp_path / "B08.tif", nir, names=["B08"])
    first = stac_item(pm, "multi", DAY, bands=[("B03", "green"), ("B04", "red"), ("B08", "nir")])
    # A Sentinel-2 item with one asset per band id and no eo:bands: "nir" is
    # found through the sensor profile (B08), named by the item's platform.
    second = stac_item(
        pr,
        "single",
        DAY + dt.timedelta(days=5),
        bands=[("B04", None)],
        layout="single",
        platform="sentinel-2b",
    )
    second.add_asset(
        "B08", stac_item(pn, "x", bands=[("B08", None)], layout="single").assets["B08"]
    )
    cube = load_cube([first, second], bands=["nir", "red"])
    np.testing.assert_array_equal(cube.values[0], multi[[2, 1]])
    np.testing.assert_array_equal(cube.values[1], np.concatenate([nir, red]))


def test_scale_and_offset_travel_as_band_coordinates(tmp_path: Path, three_dates) -> None:
    data = np.ones((1, 16, 16), np.uint16)
    p = _cog(tmp_path / "s.tif", data, names=["red"])
    items = [
        stac_item(p, f"s{i}", DAY + dt.timedelta(days=i), bands=[("red", "red")], scale=1e-4)
        for i in range(2)
    ]
    cube = load_cube(items, bands="red")
    assert float(cube["scale"][0]) == pytest.approx(1e-4)
    assert float(cube["offset"][0]) == 0.0
    # Unscaled items have no scale coordinate, as open_raster does.
    assert "scale" not in load_cube([three_dates[0][1]], bands="red").coords
    items[1].assets["data"].extra_fields["raster:bands"][0]["scale"] = 2e-4
    with pytest.raises(InvalidInputError, match=r"different scale/offset.*'s1'"):
        load_cube(items, bands="red")


def test_a_saved_catalogue_with_relative_links_loads_by_path(tmp_path: Path) -> None:
    data = np.arange(2 * 24 * 24, dtype=np.uint16).reshape(2, 24, 24) + 1
    root = tmp_path / "cat"
    root.mkdir()
    path = _cog(root / "scene.tif", data, names=["red", "nir"])
    catalog = pystac.Catalog("c", "test catalogue")
    item = stac_item(path, "scene", bands=RED_NIR, href="./scene.tif")
    catalog.add_item(item)
    catalog.normalize_hrefs(str(root))
    item.assets["data"].href = "../scene.tif"  # relative to scene/scene.json
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    cube = load_cube(root / "catalog.json", bands=["red", "nir"])
    np.testing.assert_array_equal(cube.values[0], data)
    # The same from item dicts, and from the Catalog object.
    cube2 = load_cube([item.to_dict()], bands="nir")
    np.testing.assert_array_equal(cube2.values[0, 0], data[1])
    assert (
        load_cube(pystac.Catalog.from_file(root / "catalog.json"), bands="red").sizes["time"] == 1
    )


def test_items_without_projection_need_crs_and_resolution(tmp_path: Path) -> None:
    data = np.arange(32 * 32, dtype=np.uint16).reshape(1, 32, 32) + 1
    p = _cog(tmp_path / "np.tif", data, names=["red"])
    item = stac_item(p, "noproj", bands=[("red", "red")], proj=False)
    with pytest.raises(InvalidInputError, match=r"'noproj'.*no projection.*crs= and resolution="):
        load_cube([item], bands="red")
    left, top = TRANSFORM.c, TRANSFORM.f
    right, bottom = TRANSFORM @ (32, 32)
    cube = load_cube(
        [item], bands="red", crs=CRS, resolution=10, bbox=(left, bottom, right, top), bbox_crs=CRS
    )
    np.testing.assert_array_equal(cube.values[0, 0], data[0])


# --------------------------------------------------------------------------- bad input


def test_no_items_is_a_clear_error() -> None:
    with pytest.raises(InvalidInputError, match="no items"):
        load_cube([], bands="red")


def test_a_band_no_item_has_names_it(three_dates) -> None:
    items = [item for _, item in three_dates]
    with pytest.raises(UnknownBandError, match=r"no item has band 'swir16'.*assets data"):
        load_cube(items, bands=["red", "swir16"])


def test_a_band_some_items_lack_names_those_items(three_dates, tmp_path: Path) -> None:
    p = _cog(tmp_path / "g.tif", np.ones((1, 8, 8), np.uint16), names=["green"])
    odd = stac_item(p, "green-only", bands=[("B03", "green")])
    with pytest.raises(UnknownBandError, match=r"1 of \d+ items \('green-only'\) lack band 'red'"):
        load_cube([*(i for _, i in three_dates), odd], bands="red")


def test_a_bbox_that_misses_every_item(three_dates) -> None:
    with pytest.raises(NoValidDataError, match="touches none of the 3 items"):
        load_cube([i for _, i in three_dates], bands="red", bbox=(-60, -10, -59, -9))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bands": []}, "bands must be"),
        ({"bands": ["red", "red"]}, "repeat"),
        ({"bands": "red", "resampling": "sinc"}, "unknown resampling"),
        ({"bands": "red", "groupby": "week"}, "groupby"),
        ({"bands": "red", "resolution": -10}, "resolution must be"),
        ({"bands": "red", "chunks": {"band": 1}}, "chunks"),
        ({"bands": "red", "chunks": True}, "chunks"),
        ({"bands": "red", "bbox": (1, 2, 3)}, "bbox must be four"),
        ({"bands": "red", "bbox": (3, 2, 1, 4)}, "empty or inverted"),
        ({"bands": "red", "bbox": "abcd"}, "four numbers"),
    ],
)
def test_bad_arguments(three_dates, kwargs, match) -> None:
    with pytest.raises(InvalidInputError, match=match):
        load_cube([i for _, i in three_dates], **kwargs)


def test_not_items(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"expected pystac.Item"):
        load_cube([1, 2], bands="red")
    with pytest.raises(InvalidInputError, match="must be STAC items"):
        load_cube(42, bands="red")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InvalidInputError, match=r"bad.json: cannot read as a STAC"):
        load_cube(tmp_path / "bad.json", bands="red")


def test_a_missing_local_asset_names_item_and_file(three_dates, tmp_path: Path) -> None:
    _, item = three_dates[0]
    item.assets["data"].href = str(tmp_path / "missing.tif")
    with pytest.raises(RasterNotFoundError, match=r"item 'd0'.*'data'.*missing.tif"):
        load_cube([item], bands="red")


# --------------------------------------------------------------------------- bytes read


def test_a_small_bbox_over_20_remote_cogs_reads_only_the_windows_it_needs(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    paths = []
    for t in range(20):
        # Noise does not compress: each file really holds ~1 MB of pixels.
        data = rng.integers(1, 60_000, size=(2, 512, 512), dtype=np.uint16)
        paths.append(_cog(tmp_path / f"t{t:02d}.tif", data, names=["red", "nir"], blocksize=128))
    total = sum(p.stat().st_size for p in paths)
    with RangeHTTPServer(tmp_path) as server:
        items = [
            stac_item(
                p, p.stem, DAY + dt.timedelta(days=5 * t), bands=RED_NIR, href=server.url(p.name)
            )
            for t, p in enumerate(paths)
        ]
        left, top = TRANSFORM @ (300, 200)
        right, bottom = TRANSFORM @ (340, 240)  # 40 x 40 pixels of 512 x 512
        cube = load_cube(
            items, bands=["red", "nir"], bbox=(left, bottom, right, top), bbox_crs=CRS, chunks=64
        )
        server.reset_counters()
        values = cube.values
        served = server.bytes_served
    assert values.shape == (20, 2, 40, 40)
    window = rasterio.windows.Window(300, 200, 40, 40)
    np.testing.assert_array_equal(values[7], _read(paths[7], window))
    # Per file: GDAL's first 32 KiB header read plus the one 128 x 128 tile
    # (2 bands x 2 bytes: 64 KiB of noise) the box lies in; not the 1 MiB files.
    assert served <= 20 * (32 * 1024 + 2 * 64 * 1024), (served, total)
    assert served < 0.15 * total, (served, total)


def test_a_remote_asset_that_404s_is_named_before_any_read(tmp_path: Path) -> None:
    data = np.ones((2, 32, 32), dtype=np.uint16)
    path = _cog(tmp_path / "here.tif", data, names=["red", "nir"], blocksize=16)
    with RangeHTTPServer(tmp_path) as server:
        good = stac_item(path, "good", DAY, bands=RED_NIR, href=server.url(path.name))
        gone = stac_item(path, "gone", DAY, bands=RED_NIR, href=server.url("gone.tif"))
        with pytest.raises(RemoteAccessError, match=r"item 'gone'.*gone\.tif: HTTP 404"):
            load_cube([good, gone], bands="red")


def test_write_geotiff_items_without_overviews_also_load(tmp_path: Path) -> None:
    # A plain striped GeoTIFF (not a COG) loads the same way.
    data = np.arange(20 * 20, dtype=np.int16).reshape(1, 20, 20)
    p = write_geotiff(tmp_path / "plain.tif", data)
    cube = load_cube([stac_item(p, "plain", bands=[("red", "red")])], bands="red")
    np.testing.assert_array_equal(cube.values[0], data)


def test_other_inputs_and_options(three_dates, tmp_path: Path) -> None:
    path, item = three_dates[0]
    direct = _read(path)
    # One Item, or an ItemCollection as a GeoJSON dict.
    np.testing.assert_array_equal(load_cube(item, bands="nir").values[0, 0], direct[1])
    collection = pystac.ItemCollection([i for _, i in three_dates]).to_dict()
    assert load_cube(collection, bands="red").sizes["time"] == 3
    # nodata fills what no item covers; dtype converts.
    west = load_cube(
        item, bands="red", nodata=65535, dtype="float32", chunks={"x": 16, "y": 16},
        bbox=(*(TRANSFORM @ (60, 96)), *(TRANSFORM @ (100, 0))), bbox_crs=CRS,
    )  # fmt: skip
    assert west.dtype == np.float32 and west.rio.nodata == 65535
    np.testing.assert_array_equal(west.values[0, 0, :, :20], direct[0, :, 60:])
    assert (west.values[0, 0, :, 20:] == 65535).all()
    with pytest.raises(InvalidInputError, match="bbox_crs"):
        load_cube(item, bands="red", bbox=(0, 0, 1, 1), bbox_crs="EPSG:0")
    with pytest.raises(InvalidInputError, match="cannot load 1 item"):
        load_cube(item, bands="red", crs="not a crs", resolution=10)


def test_a_single_band_asset_wins_over_a_visual_one(tmp_path: Path) -> None:
    rgb = np.stack([np.full((8, 8), v, np.uint16) for v in (1, 2, 3)])
    red = np.full((1, 8, 8), 7, np.uint16)
    p_rgb = _cog(tmp_path / "rgb.tif", rgb, names=["red", "green", "blue"])
    p_red = _cog(tmp_path / "red.tif", red, names=["red"])
    item = stac_item(
        p_rgb, "both", bands=[("r", "red"), ("g", "green"), ("b", "blue")], platform="weird-sat"
    )
    item.add_asset("visual", item.assets.pop("data"))
    item.add_asset("B04", stac_item(p_red, "x", bands=[("B04", "red")]).assets["data"])
    # Two assets carry common name red: the one-band asset is the band itself.
    assert load_cube(item, bands="red").values.max() == 7
    assert load_cube(item, bands="green").values.max() == 2


def test_composite_keeps_scale_and_offset(tmp_path: Path) -> None:
    p = _cog(tmp_path / "s.tif", np.full((1, 8, 8), 5, np.uint16), names=["red"])
    items = [
        stac_item(p, f"s{i}", DAY + dt.timedelta(days=i), bands=[("red", "red")], scale=1e-4)
        for i in range(3)
    ]
    result = median_composite(load_cube(items, bands="red"))
    assert isinstance(result["scale"].data, np.ndarray)
    assert float(result["scale"][0]) == pytest.approx(1e-4)
    np.testing.assert_array_equal(result.values, 5)


def test_one_band_asked_twice_under_two_names(three_dates) -> None:
    _, item = three_dates[0]
    with pytest.raises(InvalidInputError, match=r"'red' and 'B04' are the same band"):
        load_cube(item, bands=["red", "B04"])
