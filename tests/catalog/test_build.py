"""build_catalog / item_from_raster: a valid, self-contained catalogue filled from the data."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
import rasterio.warp
from PIL import Image
from shapely.geometry import MultiPoint, shape

import satlearn.catalog.build as build_module
from conftest import CRS, TRANSFORM, write_geotiff
from satlearn.catalog import build_catalog, crawl, item_from_raster, validate_catalog
from satlearn.catalog.build import multihash_sha256
from satlearn.errors import InvalidInputError, RasterIOError, UnknownSensorError

UTC = dt.UTC


def rgbn(seed: int = 0, shape: tuple[int, int] = (40, 50)) -> np.ndarray:
    data = np.random.default_rng(seed).integers(1, 4000, (4, *shape)).astype("uint16")
    data[:, :3, :3] = 0  # a nodata corner
    return data


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two dated 4-band rasters with satlearn band names, one undated single band."""
    src = tmp_path / "data"
    src.mkdir()
    names = ["blue", "green", "red", "nir"]
    for i, date in enumerate(["2021-06-01", "2021-07-15"]):
        write_geotiff(src / f"s2_{date}.tif", rgbn(i), nodata=0, descriptions=names)
    write_geotiff(src / "dem.tif", np.ones((1, 40, 50), "float32"), descriptions=["height"])
    (src / "notes.txt").write_text("not a raster")
    return src


def all_json(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(root.rglob("*.json"))]


def test_catalogue_layout_links_and_validity(folder: Path, tmp_path: Path):
    out = tmp_path / "catalog"
    catalog = build_catalog(folder, out, id="demo", title="Demo")
    assert (out / "catalog.json").is_file()
    assert catalog.get_self_href() == str(out / "catalog.json")
    assert validate_catalog(out) == []
    # Self-contained: every link and asset href is relative, and resolves to a file.
    for path in out.rglob("*.json"):
        doc = json.loads(path.read_text())
        for link in doc["links"]:
            assert not link["href"].startswith("/"), (path, link)
            assert (path.parent / link["href"]).resolve().is_file()
        for asset in doc.get("assets", {}).values():
            assert not asset["href"].startswith("/")
            assert (path.parent / asset["href"]).resolve().is_file()
    # No staging folders left beside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog", "data"]
    result = crawl(out)
    assert sorted(it.id for it in result.items) == ["dem", "s2_2021-06-01", "s2_2021-07-15"]
    assert [c.id for c in result.collections] == ["demo"]  # a flat folder: one collection


def test_item_fields_come_from_the_data(folder: Path, tmp_path: Path):
    build_catalog(folder, tmp_path / "catalog")
    item = pystac.Item.from_file(str(tmp_path / "catalog/data/s2_2021-06-01/s2_2021-06-01.json"))
    assert item.datetime == dt.datetime(2021, 6, 1, tzinfo=UTC)
    props = item.properties
    assert props["proj:code"] == CRS
    assert props["proj:shape"] == [40, 50]
    assert props["proj:transform"] == list(TRANSFORM)[:6]
    assert props["proj:bbox"] == [399960.0, 5000040.0 - 400, 399960.0 + 500, 5000040.0]
    assert props["gsd"] == 10.0
    west, south, east, north = rasterio.warp.transform_bounds(CRS, "EPSG:4326", *props["proj:bbox"])
    assert item.bbox == pytest.approx([west, south, east, north], abs=1e-6)
    # The footprint is the reprojected raster outline: its corners are the raster's corners.
    footprint = shape(item.geometry)
    xs, ys = rasterio.warp.transform(CRS, "EPSG:4326", [399960, 400460, 400460, 399960],
                                     [5000040, 5000040, 4999640, 4999640])  # fmt: skip
    assert footprint.buffer(1e-7).contains(MultiPoint(list(zip(xs, ys, strict=True))))
    assert footprint.bounds == pytest.approx(tuple(item.bbox), abs=1e-6)

    data = item.assets["data"]
    assert data.roles == ["data"]
    # A striped GeoTIFF is no COG (rio-cogeo says so): plain GeoTIFF.
    assert data.media_type == pystac.MediaType.GEOTIFF
    bands = data.extra_fields["eo:bands"]
    assert [b["name"] for b in bands] == ["blue", "green", "red", "nir"]
    assert [b["common_name"] for b in bands] == ["blue", "green", "red", "nir"]
    raster = data.extra_fields["raster:bands"]
    assert {b["data_type"] for b in raster} == {"uint16"}
    assert {b["nodata"] for b in raster} == {0}
    tif = folder / "s2_2021-06-01.tif"
    assert data.extra_fields["file:size"] == tif.stat().st_size
    assert (
        data.extra_fields["file:checksum"] == "1220" + hashlib.sha256(tif.read_bytes()).hexdigest()
    )

    thumb = item.assets["thumbnail"]
    assert thumb.roles == ["thumbnail"] and item.assets["overview"].roles == ["overview"]
    png = Image.open(Path(item.get_self_href()).parent / thumb.href)
    assert png.format == "PNG" and png.mode == "RGB" and max(png.size) <= 256
    rgb = np.asarray(png)
    assert rgb[0, 0].tolist() == [0, 0, 0]  # nodata corner is black
    assert rgb[20:, 20:].std() > 10  # a real picture, not a flat fill


def test_undated_raster_spans_the_period_of_its_neighbours(folder: Path, tmp_path: Path):
    catalog = build_catalog(folder, tmp_path / "catalog")
    dem = next(it for it in catalog.get_items(recursive=True) if it.id == "dem")
    assert dem.datetime is None
    assert dem.common_metadata.start_datetime == dt.datetime(2021, 6, 1, tzinfo=UTC)
    assert dem.common_metadata.end_datetime == dt.datetime(2021, 7, 15, tzinfo=UTC)
    # "height" is not a satlearn band name: no common name is invented.
    assert "common_name" not in dem.assets["data"].extra_fields["eo:bands"][0]
    (collection,) = catalog.get_children()
    start, end = collection.extent.temporal.intervals[0]
    assert (start, end) == (
        dt.datetime(2021, 6, 1, tzinfo=UTC),
        dt.datetime(2021, 7, 15, tzinfo=UTC),
    )


def test_datetime_from_tiff_tag_then_name_then_argument(tmp_path: Path):
    tagged = write_geotiff(tmp_path / "scene_20200101.tif", rgbn()[:1])
    with rasterio.open(tagged, "r+") as ds:
        ds.update_tags(TIFFTAG_DATETIME="2019:03:04 10:20:30")
    assert item_from_raster(tagged).datetime == dt.datetime(2019, 3, 4, 10, 20, 30, tzinfo=UTC)
    iso = write_geotiff(tmp_path / "iso.tif", rgbn()[:1])
    with rasterio.open(iso, "r+") as ds:
        ds.update_tags(datetime="2018-05-06T07:08:09+02:00")
    assert item_from_raster(iso).datetime == dt.datetime(2018, 5, 6, 5, 8, 9, tzinfo=UTC)
    named = write_geotiff(tmp_path / "S2A_MSIL1C_20210512T102021_N0300.tif", rgbn()[:1])
    assert item_from_raster(named).datetime == dt.datetime(2021, 5, 12, 10, 20, 21, tzinfo=UTC)
    explicit = item_from_raster(named, datetime="2000-01-02T03:04:05Z")
    assert explicit.datetime == dt.datetime(2000, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert item_from_raster(named, datetime=dt.date(2000, 1, 2)).datetime.day == 2
    not_a_date = write_geotiff(tmp_path / "orbit_20219999.tif", rgbn()[:1])
    with pytest.raises(InvalidInputError, match=r"orbit_20219999.tif.*no acquisition time"):
        item_from_raster(not_a_date)


def test_sensor_wavelengths_statistics_and_sidecars(tmp_path: Path):
    path = write_geotiff(
        tmp_path / "x_2021-01-01.tif", rgbn()[[2, 3]], nodata=0, descriptions=["B04", "B08"]
    )
    (tmp_path / "x_2021-01-01.json").write_text("{}")
    item = item_from_raster(
        path, sensor="sentinel2_l1c", statistics=True, metadata=[tmp_path / "x_2021-01-01.json"]
    )
    red, nir = item.assets["data"].extra_fields["eo:bands"]
    assert (red["name"], red["common_name"], nir["common_name"]) == ("B04", "red", "nir")
    assert red["center_wavelength"] == pytest.approx(0.665, abs=0.005)
    stats = item.assets["data"].extra_fields["raster:bands"][0]["statistics"]
    values = rgbn()[2][rgbn()[2] != 0]
    assert stats["minimum"] == values.min() and stats["maximum"] == values.max()
    assert stats["mean"] == pytest.approx(values.mean())
    assert stats["valid_percent"] == pytest.approx(100 * values.size / (40 * 50))
    assert item.assets["metadata"].roles == ["metadata"]
    with pytest.raises(UnknownSensorError):
        item_from_raster(path, sensor="nope")


def test_scale_offset_nan_nodata_and_crs_without_epsg(tmp_path: Path):
    custom = "+proj=tmerc +lat_0=0 +lon_0=13.3 +k=0.9996 +x_0=500000 +y_0=0 +ellps=WGS84 +units=m"
    path = write_geotiff(
        tmp_path / "f_2021-01-01.tif", np.ones((1, 8, 8), "float32"), crs=custom, nodata=np.nan
    )
    with rasterio.open(path, "r+") as ds:
        ds.scales, ds.offsets = (0.5,), (3.0,)
    item = item_from_raster(path)
    band = item.assets["data"].extra_fields["raster:bands"][0]
    assert (band["nodata"], band["scale"], band["offset"]) == ("nan", 0.5, 3.0)
    assert item.properties["proj:code"] is None
    assert "Transverse_Mercator" in item.properties["proj:wkt2"]
    geographic = write_geotiff(
        tmp_path / "g_2021-01-01.tif",
        np.ones((1, 8, 8), "uint8"),
        crs="EPSG:4326",
        transform=rasterio.transform.from_origin(10, 50, 0.1, 0.1),
    )
    item = item_from_raster(geographic)
    assert item.bbox == pytest.approx([10, 49.2, 10.8, 50])
    assert "gsd" not in item.properties  # degrees are not a ground distance


def test_bad_rasters_are_skipped_and_reported(folder: Path, tmp_path: Path):
    write_geotiff(folder / "nocrs_2021-06-01.tif", rgbn()[:1], crs=None)
    (folder / "broken_2021-06-01.tif").write_bytes(b"not a tiff")
    (folder / ".hidden_2021-06-01.tif").write_bytes(b"ignored")
    skipped: list = []
    catalog = build_catalog(folder, tmp_path / "catalog", skipped=skipped)
    reasons = {p.name: why for p, why in skipped}
    assert set(reasons) == {"nocrs_2021-06-01.tif", "broken_2021-06-01.tif"}
    assert "no CRS" in reasons["nocrs_2021-06-01.tif"]
    assert "not a raster" in reasons["broken_2021-06-01.tif"]
    assert len(list(catalog.get_items(recursive=True))) == 3
    with pytest.raises(InvalidInputError, match="no such raster"):
        item_from_raster(folder / "missing.tif")
    with pytest.raises(RasterIOError):
        item_from_raster(folder / "broken_2021-06-01.tif")


def test_folder_errors(folder: Path, tmp_path: Path):
    with pytest.raises(InvalidInputError, match="not a folder"):
        build_catalog(tmp_path / "nope", tmp_path / "c")
    with pytest.raises(InvalidInputError, match="must not contain the rasters"):
        build_catalog(folder, folder)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "precious.txt").write_text("x")
    with pytest.raises(InvalidInputError, match="not a STAC catalogue"):
        build_catalog(folder, tmp_path / "taken")
    assert (tmp_path / "taken" / "precious.txt").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidInputError, match="no rasters"):
        build_catalog(empty, tmp_path / "c")
    undated = tmp_path / "undated"
    undated.mkdir()
    write_geotiff(undated / "a.tif", rgbn()[:1])
    with pytest.raises(InvalidInputError, match=r"no raster could be catalogued.*no acquisition"):
        build_catalog(undated, tmp_path / "c")
    assert build_catalog(undated, tmp_path / "c", datetime="2020-02-02").id == "undated"
    with pytest.raises(InvalidInputError, match="collection_by"):
        build_catalog(folder, tmp_path / "d", collection_by="month")


def test_rebuild_replaces_and_failure_leaves_the_old_catalogue(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    out = tmp_path / "catalog"
    build_catalog(folder, out)
    (folder / "dem.tif").unlink()
    build_catalog(folder, out)
    assert not (out / "data" / "dem").exists()  # stale items do not linger
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(build_module, "_swap_into_place", boom)
    with pytest.raises(OSError, match="disk full"):
        build_catalog(folder, out, id="other")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog", "data"]


def test_collection_by_folder_stem_and_function(tmp_path: Path):
    src = tmp_path / "src"
    for sub in ("a", "b"):
        (src / sub).mkdir(parents=True)
        write_geotiff(src / sub / "img_2021-01-01.tif", rgbn()[:1])
    write_geotiff(src / "top_2021-01-02.tif", rgbn()[:1])
    by_folder = build_catalog(src, tmp_path / "c1")
    assert sorted(c.id for c in by_folder.get_children()) == ["a", "b", "src"]
    ids = sorted(it.id for it in by_folder.get_items(recursive=True))
    assert ids == ["a-img_2021-01-01", "b-img_2021-01-01", "top_2021-01-02"]  # stems clash
    by_stem = build_catalog(src, tmp_path / "c2", collection_by="stem")
    assert sorted(c.id for c in by_stem.get_children()) == ["img", "top"]
    by_func = build_catalog(src, tmp_path / "c3", collection_by=lambda p: p.suffix[1:])
    assert [c.id for c in by_func.get_children()] == ["tif"]
    single = build_catalog(src, tmp_path / "c4", collection_by="single", id="all")
    assert [c.id for c in single.get_children()] == ["all"]
    for out in ("c1", "c2", "c3", "c4"):
        assert validate_catalog(tmp_path / out) == []


def test_synthetic_scene_catalogue(tmp_path: Path):
    from satlearn.synth import make_scene
    from satlearn.synth.export import write_scene

    scene = make_scene(96, seed=3, n_dates=2)
    written = write_scene(scene, tmp_path / "scene")
    catalog = build_catalog(tmp_path / "scene", tmp_path / "catalog", collection_by="stem")
    assert validate_catalog(tmp_path / "catalog") == []
    tifs = [p for p in written.values() if p.suffix == ".tif"]
    items = {it.id: it for it in catalog.get_items(recursive=True)}
    assert set(items) == {p.stem for p in tifs}
    collections = {c.id: c for c in catalog.get_children()}
    assert {"image", "pan"} <= set(collections)
    assert collections["image"].assets["scene"].roles == ["metadata"]
    image = items[f"image_{scene.image.time.values[0].astype('datetime64[D]')}"]
    bands = image.assets["data"].extra_fields["eo:bands"]
    assert [b["name"] for b in bands] == [str(b) for b in scene.image.band.values]
    # The scene's sensor (from scene.json) gives every band a wavelength.
    assert all("center_wavelength" in b for b in bands)
    assert image.assets["data"].extra_fields["raster:bands"][0]["scale"] == 1e-4
    static = [it for it in items.values() if it.datetime is None]
    assert static and all(it.common_metadata.start_datetime for it in static)


def test_real_rasters_catalogue(shared_data: Path, tmp_path: Path):
    skipped: list = []
    catalog = build_catalog(
        shared_data / "rasterio-testdata",
        tmp_path / "catalog",
        datetime="2020-01-01",
        skipped=skipped,
    )
    assert validate_catalog(tmp_path / "catalog") == []
    items = {it.id: it for it in catalog.get_items(recursive=True)}
    # goes.tif is a geostationary full disk: no lon/lat footprint, so it is reported.
    assert [p.name for p, _ in skipped] == ["goes.tif"]
    assert "longitude/latitude" in skipped[0][1]
    rgb = items["RGB.byte"]
    assert rgb.properties["proj:code"] == "EPSG:32618"
    # SOURCE.md: lon -78.96..-76.58, lat 23.57..25.55
    assert rgb.bbox == pytest.approx([-78.96, 23.565, -76.575, 25.551], abs=0.01)
    assert rgb.assets["data"].extra_fields["raster:bands"][0]["nodata"] == 0
    shade = items["shade"]
    assert shade.assets["data"].extra_fields["raster:bands"][0]["nodata"] == 255
    assert items["rgb1"].properties["proj:wkt2"]  # custom WKT, no EPSG code
    # Checksums match the files on disk.
    path = shared_data / "rasterio-testdata" / "shade.tif"
    assert shade.assets["data"].extra_fields["file:checksum"] == multihash_sha256(path)


def test_fallbacks_sidecars_and_sensor_choices(tmp_path: Path):
    src = tmp_path / "src"
    src.mkdir()
    path = write_geotiff(src / "a_2021-03-04.tif", np.ones((1, 8, 8), "float32"), nodata=-np.inf)
    with rasterio.open(path, "r+") as ds:
        ds.update_tags(TIFFTAG_DATETIME="sometime")  # unreadable: the file name decides
    (src / "a_2021-03-04.tif.aux.xml").write_text("<PAMDataset/>")
    (src / "scene.json").write_text("{broken")  # not a satlearn manifest: ignored
    catalog = build_catalog(src, tmp_path / "c", sensor="sentinel2_l2a")
    (item,) = catalog.get_items(recursive=True)
    assert item.datetime == dt.datetime(2021, 3, 4, tzinfo=UTC)
    assert item.assets["data"].extra_fields["raster:bands"][0]["nodata"] == "-inf"
    assert item.assets["metadata"].title == "a_2021-03-04.tif.aux.xml"
    assert "scene" not in catalog.get_child("src").assets
    with pytest.raises(UnknownSensorError):
        build_catalog(src, tmp_path / "d", sensor="hubble")
    # A synthetic-scene manifest naming a sensor this version does not know: no wavelengths.
    (src / "scene.json").write_text(json.dumps({"generator": "satlearn.synth", "sensor": "x"}))
    catalog = build_catalog(src, tmp_path / "e")
    (item,) = catalog.get_items(recursive=True)
    assert "center_wavelength" not in item.assets["data"].extra_fields["eo:bands"][0]
    assert validate_catalog(tmp_path / "e") == []


def test_a_failed_swap_puts_the_previous_catalogue_back(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    out = tmp_path / "catalog"
    build_catalog(folder, out, id="first")
    real_replace = build_module.os.replace

    def flaky(src, dst):
        if Path(src).name.startswith(".catalog.partial-"):  # the staged catalogue folder
            raise OSError("rename refused")
        return real_replace(src, dst)

    monkeypatch.setattr(build_module.os, "replace", flaky)
    with pytest.raises(OSError, match="rename refused"):
        build_catalog(folder, out, id="second")
    monkeypatch.undo()
    assert json.loads((out / "catalog.json").read_text())["id"] == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog", "data"]


# ------------------------------------------------------------------- what is true (issue 12)


def test_single_band_files_are_named_from_the_file_not_by_position(tmp_path: Path):
    src = tmp_path / "l8"
    src.mkdir()
    for band_id in ("B4", "B5", "BQA"):
        write_geotiff(src / f"LC08_2021-06-01_{band_id}.tif", rgbn()[:1])
    write_geotiff(src / "mystery_2021-06-01.tif", rgbn()[:1])
    catalog = build_catalog(src, tmp_path / "catalog", sensor="landsat8", thumbnails=False)
    bands = {
        it.id: it.assets["data"].extra_fields["eo:bands"][0]
        for it in catalog.get_items(recursive=True)
    }
    # The sensor band id at the end of the name: B4 is red, B5 near infrared.
    assert bands["LC08_2021-06-01_B4"]["name"] == "red"
    assert bands["LC08_2021-06-01_B4"]["common_name"] == "red"
    assert bands["LC08_2021-06-01_B4"]["center_wavelength"] == pytest.approx(0.655, abs=0.01)
    assert bands["LC08_2021-06-01_B5"]["common_name"] == "nir"
    # No id the sensor knows, no description: a positional label and nothing claimed
    # (before, b1 matched Landsat's B1 and every file became coastal, 0.443 um).
    for stem in ("LC08_2021-06-01_BQA", "mystery_2021-06-01"):
        assert bands[stem] == {"name": "b1"}


def test_the_rasters_own_time_wins_over_datetime(tmp_path: Path):
    src = tmp_path / "data"
    src.mkdir()
    write_geotiff(src / "s2_2021-06-01.tif", rgbn()[:1])
    write_geotiff(src / "dem.tif", rgbn()[:1])
    catalog = build_catalog(
        src, tmp_path / "catalog", datetime="2020-01-01T00:00:00Z", thumbnails=False
    )
    items = {it.id: it for it in catalog.get_items(recursive=True)}
    assert items["s2_2021-06-01"].datetime == dt.datetime(2021, 6, 1, tzinfo=UTC)
    assert items["dem"].datetime == dt.datetime(2020, 1, 1, tzinfo=UTC)


def test_undated_rasters_span_only_their_own_collection(tmp_path: Path):
    src = tmp_path / "data"
    for folder, names in {
        "a": ["s2_2021-06-01", "s2_2021-06-11", "dem"],
        "b": ["s2_2023-01-01"],
        "c": ["truth"],
    }.items():
        (src / folder).mkdir(parents=True)
        for name in names:
            write_geotiff(src / folder / f"{name}.tif", rgbn()[:1])
    skipped: list = []
    catalog = build_catalog(src, tmp_path / "catalog", thumbnails=False, skipped=skipped)
    dem = next(it for it in catalog.get_items(recursive=True) if it.id == "dem")
    assert dem.common_metadata.start_datetime == dt.datetime(2021, 6, 1, tzinfo=UTC)
    assert dem.common_metadata.end_datetime == dt.datetime(2021, 6, 11, tzinfo=UTC)
    a = catalog.get_child("data-a") or catalog.get_child("a")
    assert a.extent.temporal.intervals[0][1] == dt.datetime(2021, 6, 11, tzinfo=UTC)
    # Collection c has no dated raster: truth is skipped, not given b's 2023.
    assert [(p.name, why) for p, why in skipped] == [
        ("truth.tif", "no acquisition time in its tags, an MTL or its file name")
    ]


def test_only_validated_cogs_are_labelled_cloud_optimized(tmp_path: Path):
    striped = write_geotiff(tmp_path / "striped_2021-06-01.tif", rgbn(shape=(600, 600)))
    cog = write_geotiff(tmp_path / "cog_2021-06-01.tif", rgbn(shape=(600, 600)), driver="COG")
    assert item_from_raster(striped).assets["data"].media_type == pystac.MediaType.GEOTIFF
    assert item_from_raster(cog).assets["data"].media_type == pystac.MediaType.COG


def test_footprints_wind_counter_clockwise(tmp_path: Path):
    import shapely

    path = write_geotiff(tmp_path / "s2_2021-06-01.tif", rgbn())
    geometry = shape(item_from_raster(path).geometry)
    assert geometry.geom_type == "Polygon"
    assert shapely.is_ccw(geometry.exterior)  # RFC 7946 3.1.6


MTL = """GROUP = L1_METADATA_FILE
  GROUP = PRODUCT_METADATA
    SPACECRAFT_ID = "LANDSAT_8"
    DATE_ACQUIRED = 2015-08-04
    SCENE_CENTER_TIME = "16:19:21.7917421Z"
  END_GROUP = PRODUCT_METADATA
  GROUP = IMAGE_ATTRIBUTES
    SUN_ELEVATION = 62.5
  END_GROUP = IMAGE_ATTRIBUTES
END_GROUP = L1_METADATA_FILE
END
"""


def test_the_time_in_a_landsat_mtl_beside_the_bands(tmp_path: Path):
    src = tmp_path / "scene"
    src.mkdir()
    (src / "LC80200392015216LGN00_MTL.txt").write_text(MTL)
    band = write_geotiff(src / "LC80200392015216LGN00_B4.tif", rgbn()[:1])
    other = write_geotiff(tmp_path / "other_B4.tif", rgbn()[:1])  # no MTL of its scene
    when = item_from_raster(band).datetime
    assert when == dt.datetime(2015, 8, 4, 16, 19, 21, 791742, tzinfo=UTC)
    with pytest.raises(InvalidInputError, match="no acquisition time"):
        item_from_raster(other)


def test_a_folder_of_undated_rasters_says_how_many_and_what_to_do(tmp_path: Path):
    src = tmp_path / "data"
    src.mkdir()
    for i in range(5):
        write_geotiff(src / f"tile{i}.tif", rgbn()[:1])
    with pytest.raises(InvalidInputError) as err:
        build_catalog(src, tmp_path / "catalog", thumbnails=False)
    message = str(err.value)
    assert "no raster could be catalogued, 5 skipped" in message
    assert "and 2 more" in message
    assert message.endswith("5 raster(s) have no acquisition time: give one with --datetime")
    with pytest.raises(InvalidInputError, match=r"^--datetime: datetime 'June'"):
        build_catalog(src, tmp_path / "catalog", datetime="June")


def test_absolute_hrefs_let_the_catalogue_move(tmp_path: Path, folder: Path):
    import shutil

    build_catalog(folder, tmp_path / "rel", thumbnails=False)
    build_catalog(folder, tmp_path / "abs", thumbnails=False, absolute_hrefs=True)
    for name in ("rel", "abs"):
        shutil.move(tmp_path / name, tmp_path / "moved" / name)
    assert validate_catalog(tmp_path / "moved" / "rel") == []  # schemas only
    broken = validate_catalog(tmp_path / "moved" / "rel", check_assets=True)
    assert broken and all("does not resolve to a file" in p.message for p in broken)
    assert len(broken) == 3  # the three data assets (no previews were written)
    assert validate_catalog(tmp_path / "moved" / "abs", check_assets=True) == []
