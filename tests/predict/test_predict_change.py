"""satlearn.predict on two dates: a change-detection bundle, with or without co-registration."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from affine import Affine

from satlearn.errors import GridMismatchError, InvalidInputError
from satlearn.predict import predict
from satlearn.raster import georeference


def _stacked_reference(change_bundle, before, after):
    """The model on the two dates stacked by hand, in one piece."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(change_bundle / "model.onnx"))
    x = (np.concatenate([before.values, after.values]) - 100.0) / 30.0
    pad = ((0, 0), (0, 512 - x.shape[1]), (0, 512 - x.shape[2]))
    x = np.pad(x, pad, mode="reflect")[None].astype(np.float32)
    (logits,) = session.run(None, {session.get_inputs()[0].name: x})
    return logits[0].argmax(0)[: before.sizes["y"], : before.sizes["x"]]


def test_two_dates_are_stacked_before_then_after(change_bundle, scene_factory):
    before, after = scene_factory(200, 240, seed=1), scene_factory(200, 240, seed=2)
    da = predict(change_bundle, (before, after), tile_size=512, overlap=0)
    assert da.attrs["classes"] == {0: "same", 1: "changed"}
    reference = _stacked_reference(change_bundle, before, after)
    assert (da.values == reference).mean() > 0.99
    swapped = predict(change_bundle, (after, before), tile_size=512, overlap=0)
    assert not np.array_equal(swapped.values, da.values)  # the order is the model's


def test_a_pixel_missing_on_either_date_is_nodata(change_bundle, scene_factory):
    before, after = scene_factory(128, 128, seed=1, nodata=0.0), scene_factory(128, 128, seed=2)
    before.values[:, :20, :20] = 0.0
    da = predict(change_bundle, [before, after], tile_size=64)
    assert (da.values[:20, :20] == 255).all() and (da.values[20:] != 255).all()


def test_register_brings_a_shifted_second_date_onto_the_first(change_bundle, scene_factory):
    before = scene_factory(256, 256, seed=3)
    shifted = before.values.copy()
    shifted = np.roll(shifted, (3, -2), axis=(1, 2))  # the same ground, 3 px down, 2 left
    after = georeference(
        xr.DataArray(shifted, dims=before.dims, coords=before.coords),
        before.rio.crs,
        before.rio.transform(),
        None,
    )
    aligned = predict(change_bundle, (before, before), tile_size=64)
    registered = predict(change_bundle, (before, after), tile_size=64, register=True)
    plain = predict(change_bundle, (before, after), tile_size=64)
    inner = (slice(16, -16), slice(16, -16))
    agree_registered = (registered.values[inner] == aligned.values[inner]).mean()
    agree_plain = (plain.values[inner] == aligned.values[inner]).mean()
    assert agree_registered > 0.97 and agree_registered > agree_plain


def test_pairs_are_checked(change_bundle, seg_bundle, scene_factory):
    before = scene_factory(128, 128)
    with pytest.raises(GridMismatchError, match="one grid"):
        predict(change_bundle, (before, before.isel(x=slice(0, 100))))
    moved = georeference(
        xr.DataArray(before.values, dims=before.dims, coords={"band": before.band}),
        before.rio.crs,
        Affine(10, 0, 600000, 0, -10, 4000000),
        None,
    )
    with pytest.raises(GridMismatchError, match="one grid"):
        predict(change_bundle, (before, moved))
    with pytest.raises(InvalidInputError, match="two scenes"):
        predict(change_bundle, before)
    with pytest.raises(InvalidInputError, match="one scene"):
        predict(seg_bundle, (before, before))
