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
# # 4. Building and searching a catalogue
#
# Once there are more than a handful of images, you want to ask "which images cover
# this place, at this time?" without opening every file. A STAC catalogue
# (SpatioTemporal Asset Catalog) answers it: one JSON *item* per image, with its
# footprint, its date, its bands and links to the files (*assets*). This tutorial
#
# 1. makes four neighbouring synthetic scenes on two dates (eight COGs);
# 2. builds a static STAC catalogue of them (`satlearn stac build`, or
#    `satlearn.catalog.build_catalog`);
# 3. searches it in this process by place and time (`CatalogIndex`);
# 4. serves it as a STAC API (`satlearn view`) and searches that with
#    `pystac-client`, the client any STAC user already has.
#
# Everything is written into a temporary folder, removed in the last cell.

# %%
import atexit
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from IPython.display import display
from PIL import Image, ImageDraw
from pystac_client import Client
from shapely.geometry import shape

import satlearn
from satlearn.catalog.search import CatalogIndex
from satlearn.synth import make_scene

workdir = tempfile.TemporaryDirectory(prefix="satlearn-tutorial-")
folder = Path(workdir.name)
satlearn_cli = Path(sys.executable).with_name("satlearn")
print("writing into", folder)

# %% [markdown]
# ## Four scenes side by side
#
# `make_scene` takes the north-west corner of the scene (`origin`, in the scene's UTM
# coordinates). Four scenes of 96 x 96 pixels of 10 m, each 960 m further east or
# south, tile a square; each has two dates. The file names carry the date, which is
# where `stac build` reads it from (a raster's own `TIFFTAG_DATETIME` would win).

# %%
scenes = folder / "scenes"
size, pixel = 96, 10.0
for row in range(2):
    for col in range(2):
        origin = (399960.0 + col * size * pixel, 5000040.0 - row * size * pixel)
        scene = make_scene(size, seed=10 * row + col, origin=origin, ships=False)
        for t, date in enumerate(scene.dates):
            day = str(date)[:10]
            image = scene.image.isel(time=t).sel(band=["blue", "green", "red", "nir"])
            satlearn.save_cog(image, scenes / f"tile-{row}{col}_{day}.tif")
print(sorted(p.name for p in scenes.iterdir()))

# %% [markdown]
# ## Building the catalogue
#
# `satlearn stac build FOLDER --out CATALOGUE` describes every raster under the
# folder: footprint (in WGS 84), date, bands (with their STAC common names), the
# projection, a checksum of each file, a thumbnail. The catalogue is self-contained:
# `catalog.json` at the root, links relative, so it can be copied beside the data.

# %%
catalogue = folder / "catalog"
subprocess.run(
    [str(satlearn_cli), "stac", "build", str(scenes), "--out", str(catalogue)],
    capture_output=True,
    text=True,
    check=True,
)
index = CatalogIndex.from_catalog(catalogue / "catalog.json")
everything = index.search()
print("items in the catalogue:", len(everything))
first = everything[0]
print(first.id, first.datetime.date(), "bbox", [round(v, 4) for v in first.bbox])
print("assets:", sorted(first.assets))

# %% [markdown]
# ## Where are they?
#
# Each item's footprint, drawn from its GeoJSON geometry (longitude to the right,
# latitude up): four squares, each one carrying two items (two dates). Inside each,
# the item's own `thumbnail` asset, a small PNG that `stac build` drew from the COG's
# overviews.

# %%
april = index.search(datetime="2024-04-01/2024-04-30")
lons = [x for item in april for x in item.bbox[0::2]]
lats = [y for item in april for y in item.bbox[1::2]]
margin = 20
scale = 360 / max(max(lons) - min(lons), max(lats) - min(lats))  # canvas pixels per degree


def to_canvas(lon, lat):
    """Canvas pixel of a longitude and latitude (north up)."""
    return margin + (lon - min(lons)) * scale, margin + (max(lats) - lat) * scale


canvas_size = to_canvas(max(lons), min(lats))
canvas = Image.new("RGB", (int(canvas_size[0]) + margin, int(canvas_size[1]) + margin), "white")
draw = ImageDraw.Draw(canvas)
for item in april:
    corners = [to_canvas(*xy) for xy in shape(item.geometry).exterior.coords]
    (left, top), (right, bottom) = (
        to_canvas(item.bbox[0], item.bbox[3]),
        to_canvas(item.bbox[2], item.bbox[1]),
    )
    thumbnail = Image.open(Path(item.assets["thumbnail"].get_absolute_href())).convert("RGB")
    canvas.paste(thumbnail.resize((int(right - left), int(bottom - top))), (int(left), int(top)))
    draw.polygon(corners, outline="red", width=2)
    draw.text((left + 4, top + 4), item.id.split("_")[0], fill="yellow")
display(canvas)

# %% [markdown]
# ## Searching in this process
#
# `CatalogIndex.search` takes the parameters of the STAC API's item search: `bbox`
# (west, south, east, north in degrees), `datetime` (an instant or an interval,
# open with `..`), `filter` (CQL2 on the item properties), `collections`, `ids`.
# Here: the images of the western column, in July.

# %%
west = min(item.bbox[0] for item in everything)
middle = sum(item.bbox[2] for item in everything) / len(everything)
south = min(item.bbox[1] for item in everything)
north = max(item.bbox[3] for item in everything)
bbox = [west, south, (west + middle) / 2, north]
july = "2024-07-01/2024-07-31"
found_here = index.search(bbox=bbox, datetime=july)
print("in the west, in July:", [item.id for item in found_here])

# %% [markdown]
# ## A STAC API
#
# `satlearn view CATALOGUE` serves a browser page for the catalogue and, under
# `/stac`, the STAC API (item search, collections, queryables, paging). It runs until
# stopped, so we start it in the background on a free port of this machine
# (127.0.0.1 only) and wait until it answers. Its log goes into a file, in case
# something goes wrong.


# %%
def free_port():
    """A port nothing listens on now (the system picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


port = free_port()
log = (folder / "view.log").open("w")
server = subprocess.Popen(
    [str(satlearn_cli), "view", str(catalogue), "--port", str(port)],
    stdout=log,
    stderr=log,
)
atexit.register(server.terminate)  # stopped with this kernel, even if a later cell fails
api = f"http://127.0.0.1:{port}/stac/"
deadline = time.monotonic() + 60
while True:
    try:
        if httpx.get(api, timeout=2).status_code == 200:
            break
    except httpx.HTTPError:
        pass
    if server.poll() is not None or time.monotonic() > deadline:
        raise RuntimeError((folder / "view.log").read_text()[-2000:])
    time.sleep(0.2)
print("the STAC API answers at", api)

# %% [markdown]
# ## Searching it with pystac-client
#
# `pystac_client.Client.open` reads the API's landing page; `search` sends the same
# parameters and follows the `next` links page by page (`limit=2` makes it page).
# The answer should be the same items as the search in this process.

# %%
client = Client.open(api)
print("collections:", [c.id for c in client.get_collections()])
found_there = list(client.search(bbox=bbox, datetime=july, limit=2).items())
print("pystac-client found:", [item.id for item in found_there])
same = [i.id for i in found_there] == [i.id for i in found_here] and len(found_here) > 0
print("pystac-client found the same items:", same)

# %% [markdown]
# ## Stopping the server
#
# `terminate()` sends SIGTERM: the server finishes what it is answering and exits.
# The temporary folder is removed here.
#
# ## Next
#
# [5. Serving a model](05-serving.py) puts a model behind an HTTP API.

# %%
server.terminate()
print("server stopped, exit code", server.wait(timeout=30))
log.close()
workdir.cleanup()
