"""satlearn.predict with super-resolution bundles: blended on the fine grid, to a float COG.

The bundle's model is an ESPCN (x2) whose learned part is zeroed, so it is its
own bicubic upsampling: the right answer is ``F.interpolate`` of the scene,
mapped back through the bundle's output normalisation.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import rasterio
import torch
import torch.nn.functional as F

from satlearn.predict import predict
from satlearn.raster import save_cog, validate_cog

IN_MEAN, IN_STD, OUT_MEAN, OUT_STD = 100.0, 30.0, 50.0, 10.0


@pytest.fixture(scope="module")
def sr_bundle(tmp_path_factory):
    from satlearn.models import build_model
    from satlearn.models.export import export_bundle

    model = build_model("espcn", in_channels=3, scale=2, width=8)
    with torch.no_grad():  # no learned detail: the model is its bicubic residual
        model.body[-2].weight.zero_()
        model.body[-2].bias.zero_()
    return export_bundle(
        model,
        tmp_path_factory.mktemp("bundles") / "sr" / "1",
        task="super-resolution",
        classes=None,
        bands=["red", "green", "nir"],
        normalisation={"mean": [IN_MEAN] * 3, "std": [IN_STD] * 3},
        output_normalisation={"mean": [OUT_MEAN] * 3, "std": [OUT_STD] * 3},
        tile_size=64,
        exporter="legacy",
    )


def _expected(scene) -> np.ndarray:
    x = torch.as_tensor((scene.values - IN_MEAN) / IN_STD, dtype=torch.float32)[None]
    up = F.interpolate(x, scale_factor=2.0, mode="bicubic", align_corners=False)
    return up[0].numpy() * OUT_STD + OUT_MEAN


def test_one_piece_is_the_model_and_tiles_blend_into_it(sr_bundle, scene_factory):
    scene = scene_factory(150, 190, seed=5)
    whole = predict(sr_bundle, scene, tile_size=512, overlap=64)
    assert whole.dims == ("band", "y", "x") and whole.dtype == np.float32
    assert whole.shape == (3, 300, 380)
    assert list(whole.band.values) == ["red", "green", "nir"]
    # The output normalisation is applied (value = output * std + mean); the
    # scene's outer pixels differ (reflect padding against bicubic's clamping).
    inner = (slice(None), slice(4, -4), slice(4, -4))
    assert np.abs(whole.values[inner] - _expected(scene)[inner]).max() < 2e-3
    tiled = predict(sr_bundle, scene, tile_size=64, overlap=32)
    blended = np.abs(tiled.values - whole.values).mean()
    assert blended <= 1e-3
    plain = np.abs(predict(sr_bundle, scene, tile_size=64, overlap=0).values - whole.values)
    assert plain.mean() > 3 * blended  # without blending, the tile edges show


def test_the_output_grid_is_the_input_grid_scaled(sr_bundle, scene_factory, tmp_path):
    scene = scene_factory(100, 120, seed=6)
    da = predict(sr_bundle, scene, tile_size=64, overlap=16)
    t = scene.rio.transform()
    fine = da.rio.transform()
    assert (fine.a, fine.e, fine.c, fine.f) == (t.a / 2, t.e / 2, t.c, t.f)
    assert da.rio.crs == scene.rio.crs
    folder = predict(sr_bundle, scene, tile_size=64, overlap=16, out=tmp_path / "sr")
    assert {p.name for p in folder.iterdir()} == {"superres.tif", "thumbnail.png", "item.json"}
    with rasterio.open(folder / "superres.tif") as src:
        assert src.dtypes == ("float32",) * 3 and src.shape == (200, 240)
        assert src.transform == fine and src.crs == scene.rio.crs
        assert np.isnan(src.nodata)
        assert np.array_equal(src.read(), da.values)
    assert validate_cog(folder / "superres.tif")[0]
    item = json.loads((folder / "item.json").read_text())
    assert set(item["assets"]) == {"superres", "thumbnail"}
    assert item["properties"]["satlearn:scale"] == 2
    assert item["properties"]["proj:shape"] == [200, 240]


def test_item_validates(sr_bundle, scene_factory, tmp_path):
    from satlearn.catalog.schema_store import schema_available
    from satlearn.catalog.validation import errors_only, validate

    folder = predict(sr_bundle, scene_factory(64, 64), tile_size=64, out=tmp_path / "sr")
    document = json.loads((folder / "item.json").read_text())
    missing = [e for e in document["stac_extensions"] if not schema_available(e)]
    if missing:
        pytest.skip(f"offline STAC schemas missing: {missing} (../shared/stac-schemas)")
    assert errors_only(validate(document, href=str(folder / "item.json"))) == []


def test_dask_input_is_lazy_and_chunk_invariant_and_nodata_is_nan(sr_bundle, scene_factory):
    scene = scene_factory(120, 140, seed=7, nodata=0.0)
    scene.values[:, 30:40, 50:70] = 0.0
    eager = predict(sr_bundle, scene, tile_size=64, overlap=16)
    lazy = predict(sr_bundle, scene.chunk({"y": 50, "x": 70}), tile_size=64, overlap=16)
    assert lazy.chunks is not None  # nothing computed yet
    assert lazy.rio.transform() == eager.rio.transform()
    assert np.array_equal(lazy.values, eager.values, equal_nan=True)
    values = eager.values
    assert np.isnan(values[:, 60:80, 100:140]).all()
    assert np.isfinite(values[:, :60]).all() and np.isfinite(values[:, 80:]).all()


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from satlearn.predict import predict

    bundle, scene, out, after = sys.argv[1:5]
    seen = []

    def on_progress(done, total):
        seen.append(done)
        if len(seen) == int(after):
            os.kill(os.getpid(), signal.SIGKILL)

    predict(bundle, scene, tile_size=64, overlap=16, out=out, on_progress=on_progress)
    """
)


def test_resume_after_sigkill_redoes_nothing_and_matches(sr_bundle, scene_factory, tmp_path):
    # 600 rows at x2: five stretches of 128 input rows in one column band.
    tall = save_cog(scene_factory(600, 90, seed=8), tmp_path / "tall.tif", blocksize=128)
    out = tmp_path / "killed"
    run = subprocess.run(
        [sys.executable, "-c", KILLER, str(sr_bundle), str(tall), str(out), "2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert not (out / "superres.tif").exists()
    state = out / ".satlearn-predict"
    assert (state / "journal.txt").read_text().split() == ["0:0", "0:1"]
    assert (state / "layers.f4").stat().st_size == 3 * 1200 * 180 * 4
    written = []
    predict(sr_bundle, tall, tile_size=64, overlap=16, out=out, resume=True,
            on_progress=lambda done, total: written.append(done))  # fmt: skip
    assert len(written) == 5 - 2  # only the stretches the killed run had not finished
    assert not state.exists()
    fresh = predict(sr_bundle, tall, tile_size=64, overlap=16, out=tmp_path / "fresh")
    with (
        rasterio.open(out / "superres.tif") as a,
        rasterio.open(fresh / "superres.tif") as b,
    ):
        assert np.array_equal(a.read(), b.read())
    assert os.listdir(out)
