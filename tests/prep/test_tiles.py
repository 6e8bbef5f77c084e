"""XYZ tiles: morecantile's grid, values equal to a direct reprojection, PNG and GeoTIFF trees."""

from __future__ import annotations

import cv2
import morecantile
import numpy as np
import pytest
import rasterio
import rasterio.warp
from rasterio.enums import Resampling

from conftest import make_dataarray
from satlearn.errors import InvalidInputError
from satlearn.prep.tiles import (
    WEB_MERCATOR_QUAD,
    tile_transform,
    write_xyz_tiles,
    xyz_tiles,
)


def scene(dtype=np.float32, nodata=None, bands=3):
    yy, xx = np.mgrid[:120, :150]
    data = np.stack([xx * 3.0 + yy, yy * 2.0, (xx + yy) % 17][:bands]).astype(dtype)
    return make_dataarray(data, names=["red", "green", "blue"][:bands], nodata=nodata)


def test_tiles_cover_the_scene_with_morecantile_bounds():
    da = scene()
    tiles = list(xyz_tiles(da, 15))
    west, south, east, north = rasterio.warp.transform_bounds(
        da.rio.crs, "EPSG:4326", *da.rio.bounds()
    )
    expected = list(WEB_MERCATOR_QUAD.tiles(west, south, east, north, [15]))
    assert [t for t, _ in tiles] == expected
    for tile, tile_da in tiles:
        assert tile_da.shape == (3, 256, 256) and tile_da.rio.crs.to_epsg() == 3857
        np.testing.assert_allclose(tile_da.rio.bounds(), tuple(WEB_MERCATOR_QUAD.xy_bounds(tile)))
    assert tile_transform(morecantile.Tile(0, 0, 0)).c == pytest.approx(-20037508.342789244)


def test_tile_values_match_a_direct_reprojection_of_the_whole_scene():
    da = scene()
    for tile, tile_da in xyz_tiles(da, 16):
        direct = np.full((3, 256, 256), np.nan, dtype=np.float32)
        rasterio.warp.reproject(
            da.values,
            direct,
            src_transform=da.rio.transform(),
            src_crs=da.rio.crs,
            dst_transform=tile_transform(tile),
            dst_crs="EPSG:3857",
            dst_nodata=np.nan,
            resampling=Resampling.bilinear,
        )
        np.testing.assert_allclose(tile_da.values, direct, rtol=1e-5, equal_nan=True)
    # A known point: the scene's pixel (row 60, col 75) centre lands on its own value.
    x, y = da.rio.transform() @ (75.5, 60.5)
    [mx], [my] = rasterio.warp.transform(da.rio.crs, "EPSG:3857", [x], [y])
    lon, lat = rasterio.warp.transform(da.rio.crs, "EPSG:4326", [x], [y])
    tile = WEB_MERCATOR_QUAD.tile(lon[0], lat[0], 17)
    [(_, tile_da)] = [(t, d) for t, d in xyz_tiles(da, 17, resampling="nearest") if t == tile]
    col, row = ~tile_transform(tile) @ (mx, my)
    assert tile_da.values[1, int(row), int(col)] == da.values[1, 60, 75]


def test_tiles_of_a_2d_integer_mask_use_nodata_outside():
    mask = make_dataarray(np.ones((1, 40, 40), dtype=np.uint8), nodata=255)[0]
    tiles = list(xyz_tiles(mask, 16, resampling="nearest", tile_size=64))
    assert all(d.dims == ("y", "x") and d.shape == (64, 64) for _, d in tiles)
    values = np.concatenate([d.values.ravel() for _, d in tiles])
    assert set(np.unique(values)) == {1, 255}


def test_write_png_and_geotiff_trees(tmp_path):
    da = scene()
    png = write_xyz_tiles(da, tmp_path / "png", 16)
    tif = write_xyz_tiles(da, tmp_path / "tif", 16, format="tif")
    files = sorted(p.relative_to(tmp_path / "png") for p in (tmp_path / "png").rglob("*.png"))
    assert png.written == len(files) == tif.written > 0
    tile, tile_da = next(
        (t, d) for t, d in xyz_tiles(da, 16) if np.isfinite(d.values).all(axis=0).any()
    )
    image = cv2.imread(
        str(tmp_path / "png" / f"{tile.z}/{tile.x}/{tile.y}.png"), cv2.IMREAD_UNCHANGED
    )
    assert image.shape == (256, 256, 4)
    valid = np.isfinite(tile_da.values).all(axis=0)
    np.testing.assert_array_equal(image[..., 3] == 255, valid)
    low, high = png.stretch
    expected = np.clip((tile_da.values[0][valid] - low) * 255 / (high - low), 0, 255)
    np.testing.assert_allclose(image[..., 2][valid], expected, atol=1.0)  # red in BGRA
    with rasterio.open(tmp_path / "tif" / f"{tile.z}/{tile.x}/{tile.y}.tif") as ds:
        assert ds.crs.to_epsg() == 3857 and ds.count == 3
        np.testing.assert_allclose(ds.bounds, tuple(WEB_MERCATOR_QUAD.xy_bounds(tile)))
        np.testing.assert_array_equal(ds.read(), tile_da.values)
    grey = write_xyz_tiles(scene(dtype=np.uint8, bands=1, nodata=0), tmp_path / "grey", 14)
    assert grey.stretch is None and grey.written >= 1
    assert "tiles at zoom 14" in str(grey)


def test_tile_errors_name_the_problem(tmp_path):
    da = scene()
    with pytest.raises(InvalidInputError, match="zoom must be"):
        list(xyz_tiles(da, 30))
    with pytest.raises(InvalidInputError, match="tile_size"):
        list(xyz_tiles(da, 10, tile_size=0))
    with pytest.raises(InvalidInputError, match="unknown resampling"):
        list(xyz_tiles(da, 10, resampling="fancy"))
    with pytest.raises(InvalidInputError, match="has no CRS"):
        list(xyz_tiles(make_dataarray(np.zeros((1, 4, 4)), crs=None), 10))
    with pytest.raises(InvalidInputError, match="georeferenced DataArray"):
        list(xyz_tiles(np.zeros((4, 4)), 10))
    with pytest.raises(InvalidInputError, match="format must be"):
        write_xyz_tiles(da, tmp_path, 10, format="jpg")
    empty = make_dataarray(np.full((1, 20, 20), np.nan, dtype=np.float32))
    summary = write_xyz_tiles(empty, tmp_path / "empty", 15)
    assert summary.written == 0 and summary.empty >= 1
