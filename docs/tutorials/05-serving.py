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
# # 5. Serving a model
#
# A model is useful when other programs can ask it questions. `satlearn serve` puts
# every bundle of a *model repository* (`MODELS/NAME/VERSION/`, as `satlearn train`
# writes it) behind an HTTP server that speaks the protocols the serving world
# already uses:
#
# * the Open Inference Protocol (KServe V2, as Triton and KServe speak it), with
#   tensors in JSON or in binary after the JSON header;
# * TensorFlow Serving's REST `:predict`;
# * image endpoints for people: upload a GeoTIFF, get a georeferenced mask back.
#
# This tutorial writes a tiny model, starts the server in the background, asks it
# the same question in each protocol, and stops it. Everything is written into a
# temporary folder, removed in the last cell.

# %%
import atexit
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import rasterio
import tritonclient.http as triton
from IPython.display import display
from PIL import Image

import satlearn
from satlearn.bundle import write_bundle
from satlearn.synth import make_scene
from satlearn.viz import to_rgb8

workdir = tempfile.TemporaryDirectory(prefix="satlearn-tutorial-")
folder = Path(workdir.name)
satlearn_cli = Path(sys.executable).with_name("satlearn")
print("writing into", folder)

# %% [markdown]
# ## A model that is a formula
#
# [Tutorial 3](03-train-and-predict.py) trained a U-Net; any ONNX graph will do as
# well, and a small one starts in no time. This one is the normalised difference water
# index written as a graph: NDWI = (green - nir) / (green + nir), positive over water
# (McFeeters 1996). Its two outputs are the *logits* of "other" and "water", so the
# class is whichever is larger: water where NDWI > 0.
#
# `write_bundle` writes `models/ndwi/1/` with `model.onnx` and a `bundle.json` that
# says what the graph reads (the bands, in order) and what its classes are.

# %%
import onnx
from onnx import TensorProto, helper

nodes = [
    helper.make_node("Split", ["image"], ["green", "nir"], axis=1),
    helper.make_node("Sub", ["green", "nir"], ["difference"]),
    helper.make_node("Add", ["green", "nir"], ["total"]),
    helper.make_node("Add", ["total", "tiny"], ["safe_total"]),  # no 0 / 0 on dark pixels
    helper.make_node("Div", ["difference", "safe_total"], ["ndwi"]),
    helper.make_node("Mul", ["ndwi", "steepness"], ["water"]),
    helper.make_node("Neg", ["water"], ["other"]),
    helper.make_node("Concat", ["other", "water"], ["logits"], axis=1),
]
graph = helper.make_graph(
    nodes,
    "ndwi",
    [helper.make_tensor_value_info("image", TensorProto.FLOAT, [None, 2, None, None])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, 2, None, None])],
    [
        helper.make_tensor("tiny", TensorProto.FLOAT, [], [1e-6]),
        helper.make_tensor("steepness", TensorProto.FLOAT, [], [10.0]),
    ],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)

models = folder / "models"
bundle = write_bundle(
    models / "ndwi" / "1",
    model_onnx=model.SerializeToString(),
    metadata={
        "task": "semantic-segmentation",
        "bands": ["green", "nir"],
        "classes": [{"id": 0, "name": "other"}, {"id": 1, "name": "water"}],
        "tile_size": 64,
    },
)
print(sorted(p.relative_to(folder).as_posix() for p in bundle.iterdir()))

# %% [markdown]
# ## Starting the server
#
# `satlearn serve --models models --port PORT` runs until it is stopped, so it is
# started in the background (`subprocess.Popen`), on a free port of this machine
# (127.0.0.1 only, the default), and we wait until `/v2/health/ready` says yes. It
# logs JSON lines on stderr: here into a file, in case something goes wrong.


# %%
def free_port():
    """A port nothing listens on now (the system picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


port = free_port()
url = f"http://127.0.0.1:{port}"
log = (folder / "serve.log").open("w")
server = subprocess.Popen(
    [str(satlearn_cli), "serve", "--models", str(models), "--port", str(port)],
    stdout=log,
    stderr=log,
)
atexit.register(server.terminate)  # stopped with this kernel, even if a later cell fails
deadline = time.monotonic() + 60
while True:
    try:
        if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
            break
    except httpx.HTTPError:
        pass
    if server.poll() is not None or time.monotonic() > deadline:
        raise RuntimeError((folder / "serve.log").read_text()[-2000:])
    time.sleep(0.2)
print("ready at", url)
print(httpx.get(f"{url}/v2/models/ndwi").json())

# %% [markdown]
# ## The question: a small tile of a real-looking scene
#
# A 32 x 32 tile of a synthetic scene, its green and near-infrared bands, shaped as
# the model reads it: `(batch, band, y, x)`, float32.

# %%
scene = make_scene(128, seed=3)
image = scene.image.isel(time=0)
tile = image.sel(band=["green", "nir"]).values[None, :, 40:72, 40:72].astype(np.float32)
print("tile:", tile.shape, tile.dtype)

# %% [markdown]
# ## Open Inference Protocol, JSON and binary
#
# `tritonclient.http` is Triton's own client; it speaks the protocol to any server.
# With `binary_data=False` the tensor travels as a JSON list of numbers; with `True`
# as raw bytes after the JSON header (the `Inference-Header-Content-Length` header
# says where the JSON ends), which is several times smaller and faster to parse.

# %%
client = triton.InferenceServerClient(f"127.0.0.1:{port}")
answers = {}
for binary in (False, True):
    request = triton.InferInput("image", list(tile.shape), "FP32")
    request.set_data_from_numpy(tile, binary_data=binary)
    wanted = triton.InferRequestedOutput("logits", binary_data=binary)
    result = client.infer("ndwi", [request], outputs=[wanted])
    answers[binary] = result.as_numpy("logits")
client.close()
print("logits:", answers[True].shape, answers[True].dtype)
print("JSON and binary answers agree:", bool(np.array_equal(answers[False], answers[True])))

# %% [markdown]
# ## TensorFlow Serving's REST API
#
# `POST /v1/models/NAME:predict` with `{"instances": [...]}`, one entry per example,
# answers `{"predictions": [...]}` in the same layout.

# %%
response = httpx.post(f"{url}/v1/models/ndwi:predict", json={"instances": tile.tolist()})
response.raise_for_status()
predictions = np.asarray(response.json()["predictions"], dtype=np.float32)
agrees = bool(np.allclose(predictions, answers[True], atol=1e-5))
print("TF-Serving answer agrees:", agrees)

# %% [markdown]
# ## An image in, a mask out
#
# `POST /v1/models/NAME:segment` takes a file upload (a GeoTIFF, PNG or JPEG) and
# answers a class mask: for a GeoTIFF, a GeoTIFF on the same grid, so it lands in
# the right place on a map. A GeoTIFF whose band descriptions name the model's bands
# is matched by name; an image larger than the model's tile runs through the same
# sliding window as `satlearn predict`.

# %%
upload = satlearn.save_cog(image.sel(band=["green", "nir"]), folder / "upload.tif")
response = httpx.post(
    f"{url}/v1/models/ndwi:segment",
    files={"file": ("upload.tif", upload.read_bytes(), "image/tiff")},
    timeout=60,
)
response.raise_for_status()
with rasterio.MemoryFile(response.content) as memory, memory.open() as mask_file:
    mask = mask_file.read(1)
    print(
        response.headers["content-type"],
        mask.shape,
        "| same grid:",
        mask_file.transform == image.rio.transform(),
    )
water = scene.landcover.values == 0
found = mask == 1
print(f"water IoU of the NDWI model: {(found & water).sum() / (found | water).sum():.2f}")

# %% [markdown]
# The scene (left) and the mask the server answered (right, water in blue). NDWI
# finds the river and the lake; it misses the river where a cloud hides it, and calls
# a few specks beside the clouds (their shadows) water.

# %%
rgb = to_rgb8(image.sel(band=["red", "green", "blue"]).values)
painted = np.where(found[..., None], np.array([30, 90, 220], np.uint8), np.uint8(235))
pair = np.concatenate([rgb, painted], axis=1)
display(Image.fromarray(pair).resize((pair.shape[1] * 2, pair.shape[0] * 2), Image.NEAREST))

# %% [markdown]
# ## Stopping the server
#
# SIGTERM asks the server to stop: it stops accepting, answers every request it has
# accepted, then exits with code 143 (128 + 15, SIGTERM's number: the shell's way of
# saying "stopped by SIGTERM"). The temporary folder is removed here.
#
# ## Next
#
# [6. Scaling on Dask](06-dask.py) runs the lazy pipelines on a cluster.

# %%
server.send_signal(signal.SIGTERM)
print("server stopped, exit code", server.wait(timeout=60))
log.close()
workdir.cleanup()
