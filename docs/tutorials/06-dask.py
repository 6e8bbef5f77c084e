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
# # 6. Scaling on Dask
#
# A year of images of a country does not fit in memory. satlearn's operations are
# *lazy* on dask-backed arrays: they build a graph of small tasks, one per chunk, and
# nothing is read or computed until the end. What runs the graph is chosen in one
# place, `satlearn.compute.scheduler`: the threads of this machine by default, or a
# Dask cluster. This tutorial
#
# 1. writes four dates of a synthetic scene as COGs and opens them as a chunked
#    `(time, band, y, x)` cube;
# 2. builds a lazy pipeline: clouds found on each date, a cloud-free median
#    composite, NDVI of the composite;
# 3. runs it on the threaded scheduler, then on a local Dask cluster of two worker
#    processes, and checks that both give the same pixels.
#
# Everything is written into a temporary folder, removed in the last cell.

# %%
import contextlib
import tempfile
from pathlib import Path

import dask
import numpy as np
import xarray as xr
from IPython.display import display
from PIL import Image

import satlearn
from satlearn.compute import scheduler
from satlearn.ops.composite import median_composite
from satlearn.ops.indices import compute_index
from satlearn.synth import make_scene
from satlearn.viz import to_rgb8

workdir = tempfile.TemporaryDirectory(prefix="satlearn-tutorial-")
folder = Path(workdir.name)
print("writing into", folder)

# %% [markdown]
# ## A chunked cube
#
# Four dates, spring to summer, each with its own clouds. Each date is saved as a COG,
# then opened with `chunks=`: a dask array of blocks of 128 x 128 pixels (all the
# bands together, as the cloud rules read every band of a pixel) that reads its pixels
# from the file only when a task needs them. Only the seven bands the pipeline uses
# are opened. On a cluster this matters:
# each worker reads its own blocks, instead of the whole image travelling from this
# notebook to the workers. `xr.concat` stacks the dates along a new `time` dimension.

# %%
scene = make_scene(256, seed=5, n_dates=4)
paths = []
for t, date in enumerate(scene.dates):
    path = folder / f"image_{str(date)[:10]}.tif"
    paths.append(satlearn.save_cog(scene.image.isel(time=t), path))
bands = ["blue", "green", "red", "nir", "swir16", "swir22", "cirrus"]
chunks = {"band": -1, "y": 128, "x": 128}
dates = [satlearn.open_raster(p, bands=bands, chunks=chunks) for p in paths]
cube = xr.concat(dates, dim=xr.Variable("time", scene.dates))
print(dict(cube.sizes), "| chunks of", cube.data.chunksize, "|", cube.data.npartitions, "blocks")

# %% [markdown]
# ## A lazy pipeline
#
# `median_composite(cube, cloud_mask="rules")` finds the clouds of each date with the
# Fmask rules (tutorial 2), leaves them out, and takes the per-pixel median of what
# remains. `compute_index` then computes NDVI on the composite. Both return at once:
# they only added tasks to the graph.

# %%
composite = median_composite(cube, cloud_mask="rules")
ndvi = compute_index(composite, "ndvi")
graph = ndvi.data.__dask_graph__()
print("lazy:", type(ndvi.data).__name__, "| tasks in the graph:", len(graph))
print("layers:", len(graph.layers), "e.g.", sorted(graph.layers)[:3])

# %% [markdown]
# ## On the threads of this machine
#
# `scheduler("threads")` (the default, also when `SATLEARN_SCHEDULER` is unset)
# runs the tasks on a pool of one thread per core. `dask.compute` computes several
# results together, so tasks they share (reading the COGs, the cloud masks) run once.

# %%
with scheduler("threads"):
    threaded_composite, threaded_ndvi = dask.compute(composite, ndvi)
print("composite", threaded_composite.shape, "| NDVI mean", f"{float(threaded_ndvi.mean()):.3f}")

# %% [markdown]
# ## On a Dask cluster
#
# `scheduler("local:2")` starts a `distributed.LocalCluster` of two worker processes,
# one thread each, on 127.0.0.1, and connects a client to it; `scheduler("tcp://HOST:
# PORT")` would connect to a cluster that is already running (`dask scheduler` and
# `dask worker`, or a managed one). Every satlearn command that computes takes the
# same choice as `--scheduler`.
#
# The scheduler serves a dashboard (task stream, memory, progress) at the link below;
# it needs `bokeh` installed to draw (`pip install "bokeh>=3.1"`). The cluster stays up
# across the next cells: an `ExitStack` keeps the `with` block open, and the last cell
# closes it.

# %%
cluster = contextlib.ExitStack()
client = cluster.enter_context(scheduler("local:2"))
print("workers:", len(client.scheduler_info()["workers"]))
print("dashboard:", client.dashboard_link)

# %% [markdown]
# The same graph, computed by the workers. Each worker opens the COGs itself (they are
# on this machine's disk; on a real cluster the paths must be reachable from every
# worker: a shared filesystem or object-store URLs).

# %%
cluster_composite, cluster_ndvi = dask.compute(composite, ndvi)
same = np.array_equal(cluster_ndvi.values, threaded_ndvi.values, equal_nan=True) and (
    np.array_equal(cluster_composite.values, threaded_composite.values, equal_nan=True)
)
print("identical to the threaded result:", same)

# %% [markdown]
# ## What it made
#
# From left to right: the first date (with its clouds), the cloud-free composite of
# the four dates, and its NDVI (bright = green vegetation, dark = water and towns).
# Where the rules found cloud on every date the composite has no value (black): some
# are clouds that stayed, some are bright roofs the rules take for cloud. Each picture
# is stretched on its own, so the colours of the first two differ.

# %%
cloudy = to_rgb8(cube.isel(time=0).sel(band=["red", "green", "blue"]).values)
clear = to_rgb8(cluster_composite.sel(band=["red", "green", "blue"]).values)
greenness = to_rgb8(cluster_ndvi.values)
row = np.concatenate([cloudy, clear, greenness], axis=1)
display(Image.fromarray(row).resize((row.shape[1] * 2, row.shape[0] * 2), Image.NEAREST))

# %% [markdown]
# ## Closing the cluster
#
# Closing the stack closes the client and the cluster (its worker processes exit).
# The temporary folder is removed here.
#
# ## Next
#
# That is the last tutorial. `README.md` lists the command-line verbs, and
# `docs/architecture.md` explains how the pieces fit together.

# %%
cluster.close()
workdir.cleanup()
print("cluster closed")
