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
# # 2. Clouds and change on two dates
#
# A synthetic scene has two dates (18 April and 27 July 2024) and the truths of both:
# where the thick clouds, the thin cirrus and the cloud shadows are, and which pixels
# changed between the dates (new buildings, clearings, floods). This tutorial
#
# 1. finds the clouds and shadows of each date (`detect_clouds`, and its short form
#    `cloud_mask`) and scores them against the truth;
# 2. co-registers the second date onto the first (`coregister`);
# 3. detects change between them where both are clear (`detect_change`), and scores it.
#
# Every operation follows one convention: the image first, everything else by keyword;
# a short form returns a DataArray, a detailed form returns a result object with
# `.mask`, its extra layers, `.scores(truth)` and `.to_features()`.

# %%
import numpy as np
from IPython.display import display
from PIL import Image

from satlearn.ops.change import detect_change
from satlearn.ops.clouds import cloud_mask, detect_clouds
from satlearn.ops.registration import coregister
from satlearn.synth import make_scene
from satlearn.viz import to_rgb8

scene = make_scene(192, seed=1)
dates = [scene.image.isel(time=i) for i in range(2)]
print("dates:", [str(d) for d in np.datetime_as_string(scene.dates, unit="D")])


def overlay(da, layers, scale=2):
    """An RGB picture of ``da`` with each (mask, colour) of ``layers`` painted over it."""
    rgb = to_rgb8(da.sel(band=["red", "green", "blue"]).values)
    for mask, colour in layers:
        rgb[np.asarray(mask)] = colour
    image = Image.fromarray(rgb)
    return image.resize((image.width * scale, image.height * scale), Image.NEAREST)


display(Image.fromarray(np.concatenate([np.asarray(overlay(d, [])) for d in dates], axis=1)))

# %% [markdown]
# ## Clouds and shadows
#
# `cloud_mask(image, method="rules")` is the short form: a boolean DataArray, True on
# thick cloud or thin cirrus. The rules are Fmask's published tests (Zhu & Woodcock
# 2012) and need blue, green, red, nir, swir16, swir22 and cirrus. Other methods:
# `"hollstein"`, `"s2cloudless"` and `"model:PATH"` (a trained bundle).
#
# `detect_clouds` is the detailed form. Its result holds class codes (clear, cloud,
# cirrus, shadow, snow, water), and shadows found by projecting the clouds along the
# sun's direction at the cloud height that best explains the dark pixels.

# %%
mask = cloud_mask(dates[0], method="rules")
print("cloudy share of date 1:", f"{float(mask.mean()):.1%}")

found = [detect_clouds(d, method="rules").compute() for d in dates]
for i, clouds in enumerate(found):
    truth = scene.cloud_mask.values[i] | scene.cirrus_mask.values[i]
    scores = clouds.scores(truth)
    shadow = clouds.scores(scene.shadow_mask.values[i], layer="shadow")
    print(
        f"date {i + 1}: cloud IoU {scores.iou:.2f} (F1 {scores.f1:.2f}), "
        f"shadow IoU {shadow.iou:.2f}, shadows cast from {clouds.cloud_height_m:.0f} m"
    )

# %% [markdown]
# What to look at: clouds in yellow, shadows in purple. The detector misses some thin
# cloud edges and calls some bright roofs cloudy; shadows are harder (the projection
# works only where the cloud is found).

# %%
yellow, purple = (255, 230, 0), (160, 40, 200)
display(
    Image.fromarray(
        np.concatenate(
            [
                np.asarray(overlay(d, [(c.mask.values, yellow), (c.shadow.values, purple)]))
                for d, c in zip(dates, found, strict=True)
            ],
            axis=1,
        )
    )
)

# %% [markdown]
# ## Co-registration
#
# Two acquisitions never lie exactly on top of each other. `coregister(reference,
# moving, resample=True)` measures the shift (phase correlation, sub-pixel) and
# resamples the second date onto the first. The synthetic scene knows the true shift.

# %%
after = coregister(dates[0], dates[1], resample=True)
print("true shift (dy, dx) in pixels:", scene.misregistration[-1])
print("date 2 now on the grid of date 1:", after.rio.transform() == dates[0].rio.transform())

# %% [markdown]
# ## Change
#
# `detect_change(before, after, method="cva")` computes a change magnitude per pixel
# (change vector analysis: the length of the difference of the band vectors) and
# splits it with Otsu's threshold, never below the level the images' own noise
# reaches. `valid=` leaves out the pixels cloudy or shadowed on either date: a cloud is
# not a change.
#
# The truth holds only the explicit change events. Between April and July the crops
# and the vegetation change too, and that is real change in the pixels, so the
# precision against this truth is low while the recall (how many true events are
# found) is high.

# %%
clear = np.logical_and.reduce([c.valid.values & ~c.mask.values & ~c.shadow.values for c in found])
change = detect_change(dates[0], after, method="cva", valid=clear).compute()
scores = change.scores(scene.change_mask.values)
print(f"threshold {change.threshold:.3f}; {float(change.mask.mean()):.1%} of the scene changed")
print(f"change recall {scores.recall:.2f}, precision {scores.precision:.2f}, F1 {scores.f1:.2f}")
print("changed areas as GeoJSON features:", len(change.to_features(min_pixels=4)))

# %% [markdown]
# Over the second date: green, the truth's events (new buildings, clearings, floods)
# that were found; cyan, those missed; red, change found outside the events. Most red
# is fields that were sown or harvested between the dates.

# %%
events = scene.change_mask.values
green, cyan, red = (40, 255, 40), (0, 230, 255), (255, 40, 40)
display(
    overlay(
        after,
        [
            (change.mask.values & ~events, red),
            (events & change.mask.values, green),
            (events & ~change.mask.values, cyan),
        ],
        scale=3,
    )
)

# %% [markdown]
# ## Next
#
# [3. Training and predicting a model](03-train-and-predict.py) learns water from the
# scene's own labels.
