# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. First steps: a scene, a COG, a window and two indices
#
# This tutorial walks through the data model of satlearn on a synthetic scene, so
# it needs no downloads:
#
# 1. make a small Sentinel-2-like scene with `satlearn.synth.make_scene`;
# 2. save it as a Cloud-Optimized GeoTIFF (COG) with `satlearn.save_cog`;
# 3. read it back with `satlearn.open_raster`: whole, one window, lazily in chunks;
# 4. compute NDVI and NDWI with `satlearn.ops.indices.compute_index`;
# 5. check that the file is a valid COG (`satlearn.raster.info`, or `satlearn info`).
#
# Everything is written into a temporary folder, removed in the last cell.

# %%
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from IPython.display import display
from PIL import Image

import satlearn
from satlearn.raster import info
from satlearn.synth import make_scene
from satlearn.viz import to_rgb8

workdir = tempfile.TemporaryDirectory(prefix="satlearn-tutorial-")
folder = Path(workdir.name)
print("writing into", folder)

# %% [markdown]
# ## A synthetic scene
#
# `make_scene(size, seed=...)` renders a river valley (forest, crops, towns, roads,
# ships, clouds and their shadows) on two dates, with every truth alongside. It is
# deterministic: the same seed gives the same pixels. The image is an
# `xarray.DataArray` with dims `(time, band, y, x)`; the `band` coordinate holds the
# STAC common names (`blue`, `red`, `nir`, ...), and the CRS and transform travel with
# it through rioxarray (`da.rio`).

# %%
scene = make_scene(128, seed=7)
first = scene.image.isel(time=0)  # (band, y, x) float32 top-of-atmosphere reflectance
print(dict(first.sizes))
print("bands:", [str(b) for b in first.band.values])
print("CRS:", first.rio.crs, " pixel size:", first.rio.resolution())

# %% [markdown]
# ## Looking at it
#
# `satlearn.viz.to_rgb8` stretches three bands (each between its 2nd and 98th
# percentile) into an 8-bit RGB array; Pillow turns it into a picture. Look for the
# river, the crop parcels and the white clouds with their dark shadows.


# %%
def picture(da, scale=3):
    """An RGB picture of a (band, y, x) DataArray, enlarged ``scale`` times."""
    rgb = to_rgb8(da.values)
    image = Image.fromarray(rgb)
    return image.resize((image.width * scale, image.height * scale), Image.NEAREST)


display(picture(first.sel(band=["red", "green", "blue"])))

# %% [markdown]
# ## Saving a COG
#
# `save_cog` writes a Cloud-Optimized GeoTIFF: tiled, with overviews, and the band
# names stored as band descriptions. It writes to a temporary name and renames at the
# end, so a crash never leaves half a file under the final name.

# %%
path = satlearn.save_cog(first, folder / "scene.tif")
print(path.name, f"{path.stat().st_size / 1e6:.1f} MB")

# %% [markdown]
# ## Reading it back: whole, a window, or lazily
#
# `open_raster` returns the same kind of DataArray. `bands=` picks bands by name,
# `window=((row0, row1), (col0, col1))` reads only the blocks the window touches
# (a remote COG is read with HTTP range requests the same way), and `chunks=` gives a
# dask-backed array: nothing is read until something is computed.

# %%
whole = satlearn.open_raster(path, bands=["red", "nir"])
window = satlearn.open_raster(path, window=((0, 64), (0, 64)))
lazy = satlearn.open_raster(path, chunks=64)
print("whole :", dict(whole.sizes))
print("window:", dict(window.sizes), "origin", window.rio.transform()[2], window.rio.transform()[5])
print("lazy  :", type(lazy.data).__name__, "chunks", lazy.data.chunksize)
assert np.array_equal(window.values, first.values[:, :64, :64])

# %% [markdown]
# ## Spectral indices
#
# `compute_index(da, name)` evaluates any index of the Awesome Spectral Indices
# catalogue (through `spyndex`'s formulas) with the bands the array holds. NDVI is high
# over vegetation; NDWI (green vs. near infrared) is high over water. On the lazy array
# the result is lazy too and is computed chunk by chunk (blockwise, no halo).

# %%
from satlearn.ops.indices import compute_index

ndvi = compute_index(whole, "ndvi")
ndwi = compute_index(lazy, "ndwi").compute()
print(f"NDVI mean {float(ndvi.mean()):.2f}, NDWI mean {float(ndwi.mean()):.2f}")
water = scene.landcover.values == 0  # class 0 of the land-cover truth is water
print(
    f"NDWI over water {float(ndwi.values[water].mean()):.2f}, elsewhere "
    f"{float(ndwi.values[~water].mean()):.2f}"
)

# %% [markdown]
# Two pictures side by side: NDVI (left, bright = green vegetation) and NDWI (right,
# bright = water). The river should stand out on the right.

# %%
pair = np.concatenate([to_rgb8(ndvi.values), to_rgb8(ndwi.values)], axis=1)
display(Image.fromarray(pair).resize((pair.shape[1] * 2, pair.shape[0] * 2), Image.NEAREST))

# %% [markdown]
# ## Is it a valid COG?
#
# `satlearn.raster.info` describes a raster and validates it as a COG (rio-cogeo's
# checks, plus a check that no block lies past the end of the file, which catches a
# truncated copy). The command line says the same: `satlearn info scene.tif`.

# %%
described = info(path)
print("is a COG:", described["is_cog"], "| errors:", described["cog_errors"])
print("size", described["width"], "x", described["height"], "| overviews", described["overviews"])

# %%
satlearn_cli = Path(sys.executable).with_name("satlearn")
result = subprocess.run(
    [str(satlearn_cli), "info", str(path), "--json"], capture_output=True, text=True, check=True
)
print("satlearn info --json says is_cog =", json.loads(result.stdout)["is_cog"])

# %% [markdown]
# ## Next
#
# [2. Clouds and change on two dates](02-clouds-and-change.py) uses the second date.
# The temporary folder is removed here.

# %%
workdir.cleanup()
