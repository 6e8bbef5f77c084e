"""``satlearn landcover``: k-means and supervised maps as COGs, model bundles, errors."""

from __future__ import annotations

import json

import numpy as np
import rasterio
from typer.testing import CliRunner

from conftest import TRANSFORM, write_geotiff
from satlearn.cli import app
from satlearn.pixelml import PixelClassifier
from satlearn.raster import open_raster, validate_cog
from satlearn.synth import make_scene

RUNNER = CliRunner()
BANDS = ["blue", "green", "red", "nir", "swir16", "swir22"]


def scene_files(tmp_path):
    scene = make_scene(64, seed=2, clouds=False, ships=False, n_dates=1)
    data = scene.image.isel(time=0).sel(band=BANDS).values.astype(np.float32)
    path = write_geotiff(tmp_path / "scene.tif", data, descriptions=BANDS)
    labels = (scene.landcover.values + 1).astype(np.uint8)[None]
    labels_path = write_geotiff(tmp_path / "labels.tif", labels)
    return path, labels_path, labels[0]


def test_kmeans_writes_a_cog_of_cluster_ids(tmp_path):
    path, _, _ = scene_files(tmp_path)
    out = tmp_path / "clusters.tif"
    result = RUNNER.invoke(app, ["landcover", str(path), str(out), "--k", "4", "--chunk", "32"])
    assert result.exit_code == 0, result.output
    assert validate_cog(out)[0]
    with rasterio.open(out) as ds:
        assert ds.dtypes[0] == "int16"
        assert ds.nodata == -1
        assert set(np.unique(ds.read(1))) == {0, 1, 2, 3}


def test_supervised_from_a_label_raster_saves_a_bundle(tmp_path):
    path, labels_path, labels = scene_files(tmp_path)
    out, model = tmp_path / "classes.tif", tmp_path / "models" / "lc" / "1"
    result = RUNNER.invoke(
        app,
        ["landcover", str(path), str(out), "--labels", str(labels_path), "--save-model",
         str(model), "--model", "naive-bayes", "--no-texture", "--indices", "ndvi"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as ds:
        classes = ds.read(1)
    assert np.mean(classes == labels) > 0.6
    clf = PixelClassifier.load(model)
    assert clf.feature_names == [*BANDS, "NDVI"]
    image = open_raster(path)
    np.testing.assert_array_equal(clf.predict(image).values, classes)


def test_supervised_from_polygons(tmp_path):
    path, _, _ = scene_files(tmp_path)
    features = []
    for cls, (r, c) in ((1, (2, 2)), (2, (40, 40))):
        x0, y0 = TRANSFORM.c + 10 * c, TRANSFORM.f - 10 * r
        ring = [[x0, y0], [x0 + 100, y0], [x0 + 100, y0 - 100], [x0, y0 - 100], [x0, y0]]
        features.append(
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
             "properties": {"kind": cls}}
        )  # fmt: skip
    geojson = tmp_path / "labels.geojson"
    crs = {"type": "name", "properties": {"name": "EPSG:32633"}}
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": features, "crs": crs}))
    out = tmp_path / "classes.tif"
    result = RUNNER.invoke(
        app,
        ["landcover", str(path), str(out), "--labels", str(geojson), "--class-property", "kind",
         "--model", "sgd", "--no-texture"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as ds:
        assert set(np.unique(ds.read(1))) <= {1, 2}


def test_errors_are_one_line(tmp_path):
    path, _, _ = scene_files(tmp_path)
    out = tmp_path / "x.tif"
    bad = RUNNER.invoke(app, ["landcover", str(path), str(out), "--save-model", "m"])
    assert bad.exit_code == 1
    assert "--save-model needs --labels" in bad.output
    unknown = RUNNER.invoke(app, ["landcover", str(path), str(out), "--indices", "ndre"])
    assert unknown.exit_code == 1
    assert unknown.output.startswith("error: unknown spectral index 'ndre'; did you mean NDREI")
    missing = RUNNER.invoke(app, ["landcover", str(path), str(out), "--indices", "ndrei"])
    assert missing.exit_code == 1
    assert missing.output.startswith("error: NDREI needs band(s)")
    assert not out.exists()
