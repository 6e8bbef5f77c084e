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
# # 3. Training and predicting a model
#
# A synthetic scene comes with its truths, so it is also a small training set. This
# tutorial teaches a U-Net to find water, on the CPU, in well under a minute:
#
# 1. write a training config (YAML) and run `satlearn train` on it: the scene is cut
#    into chips, the model learns, and it is exported as a *bundle* (ONNX graph,
#    weights and a JSON description, never a pickle);
# 2. make a new scene (another seed: the model never saw it) and save it as a COG;
# 3. run `satlearn predict` over it: tile by tile, overlapping tiles blended, written
#    to disk as a COG;
# 4. check the output is a valid COG and score it against the scene's water truth.
#
# Everything is written into a temporary folder, removed in the last cell.

# %%
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from IPython.display import display
from PIL import Image

import satlearn
from satlearn.raster import validate_cog
from satlearn.synth import make_scene
from satlearn.viz import to_rgb8

workdir = tempfile.TemporaryDirectory(prefix="satlearn-tutorial-")
folder = Path(workdir.name)
satlearn_cli = Path(sys.executable).with_name("satlearn")
print("writing into", folder)

# %% [markdown]
# ## A training config
#
# The config names the task, where the samples come from, the model and the
# optimisation. `data: {kind: synthetic, target: water}` renders scenes with
# `make_scene` (two seeds here, for more variety) and cuts them into 32-pixel chips,
# overlapping by half (`stride: 16`), whose masks are the water truth; pixels under
# thick cloud are left unlabelled.
# `bands` picks five bands: water is dark in the near and short-wave infrared and
# brighter in green, so these are enough, and fewer bands train faster.
#
# The model is a small U-Net (`width` filters in the first layer, `depth` levels);
# eight epochs over some eighty chips (a fifth is held out to validate) take a few
# seconds on two cores; exporting the ONNX graph (and checking that ONNX Runtime
# answers as torch does) takes longer than that.

# %%
bands = ["blue", "green", "red", "nir", "swir16"]
config = {
    "task": "segmentation",
    "data": {
        "kind": "synthetic",
        "target": "water",
        "size": 128,
        "seed": [1, 2],
        "chip_size": 32,
        "stride": 16,
    },
    "bands": bands,
    "model": {"name": "unet", "options": {"width": 8, "depth": 2}},
    "epochs": 8,
    "batch_size": 16,
    "learning_rate": 0.01,
    "device": "cpu",
    "num_workers": 0,
    "output": {"directory": str(folder / "models"), "name": "water"},
}
# JSON is a subset of YAML: the file reads as YAML.
(folder / "water.yaml").write_text(json.dumps(config, indent=2))

# %% [markdown]
# ## Training
#
# `satlearn train water.yaml` (or `satlearn.train.train("water.yaml")` from Python)
# prints one line per epoch with the validation scores, and writes the bundle into
# `models/water/1/`. A second run would write version 2 beside it.
#
# `OMP_NUM_THREADS=1` keeps torch on one thread: on a small machine busy with other
# work, its threads spend more time waiting for each other than computing (tiny
# batches like these gain nothing from a second thread anyway).

# %%
result = subprocess.run(
    [str(satlearn_cli), "train", str(folder / "water.yaml")],
    capture_output=True,
    text=True,
    check=True,
    env={**os.environ, "OMP_NUM_THREADS": "1"},
)
print(result.stdout[-1500:])
bundle = folder / "models" / "water" / "1"
print("the bundle:", sorted(p.name for p in bundle.iterdir()))
description = json.loads((bundle / "bundle.json").read_text())
print("bands:", description["bands"], "| classes:", [c["name"] for c in description["classes"]])

# %% [markdown]
# ## A scene the model never saw
#
# Seed 7 is neither of the training seeds, and this time the day is clear
# (`clouds=False`): under a thick cloud no model can see water, so a cloudy scene
# would score the clouds rather than the model. `save_cog` keeps the band names as
# band descriptions, so `predict` finds the five bands the bundle asks for by name.

# %%
scene = make_scene(192, seed=7, clouds=False)
image = scene.image.isel(time=0)
scene_path = satlearn.save_cog(image, folder / "scene.tif")
water_truth = scene.landcover.values == 0  # class 0 of the land-cover truth is water


def picture(rgb, scale=2):
    """An 8-bit RGB array as a picture, enlarged ``scale`` times."""
    shown = Image.fromarray(rgb)
    return shown.resize((shown.width * scale, shown.height * scale), Image.NEAREST)


display(picture(to_rgb8(image.sel(band=["red", "green", "blue"]).values)))

# %% [markdown]
# ## Predicting, tile by tile
#
# `satlearn predict BUNDLE IMAGE OUT_DIR` runs the model over a scene of any size in
# bounded memory: overlapping tiles are blended with a Hann window (no seams), read by
# windows and streamed to disk. `OUT_DIR` receives `classes.tif` (a COG of class
# ids), the water as polygons (GeoParquet and GeoJSON), a thumbnail and a STAC item.

# %%
subprocess.run(
    [str(satlearn_cli), "predict", str(bundle), str(scene_path), str(folder / "prediction")],
    capture_output=True,
    text=True,
    check=True,
)
print(sorted(p.name for p in (folder / "prediction").iterdir()))

# %% [markdown]
# ## Is it a COG, and is it right?
#
# `satlearn.raster.validate_cog` answers whether a file is a valid Cloud-Optimized
# GeoTIFF, with its errors and warnings. The intersection over union (IoU) of the
# predicted water with the true water is 1 for a perfect answer, 0 for none.

# %%
classes_path = folder / "prediction" / "classes.tif"
is_cog, errors, _warnings = validate_cog(classes_path)
print("classes.tif is a COG:", is_cog, "| errors:", errors)
predicted = satlearn.open_raster(classes_path).values[0] == 1
iou = (predicted & water_truth).sum() / (predicted | water_truth).sum()
print(f"water IoU: {iou:.3f} ({predicted.mean():.1%} of the scene predicted water)")

# %% [markdown]
# Left, the prediction; right, the truth (water in blue). Most differences are along
# the banks, where a 10 m pixel is part water and part land, and at the bridges: the
# truth cuts the river where a road crosses it, the model mostly paints it over.

# %%
blue, land = np.array([30, 90, 220], np.uint8), np.array([235, 230, 215], np.uint8)
pair = np.concatenate(
    [np.where(m[..., None], blue, land) for m in (predicted, water_truth)], axis=1
)
display(picture(pair))

# %% [markdown]
# ## Next
#
# [4. Building and searching a catalogue](04-catalogue.py) puts several scenes in a
# STAC catalogue. The temporary folder is removed here.

# %%
workdir.cleanup()
