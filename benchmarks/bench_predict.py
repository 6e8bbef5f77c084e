"""Whole-scene prediction: satlearn.predict against the plain loop users write today.

The plain loop is what TorchGeo / Raster Vision users hand-write: a grid of
windows over the scene, a torch ``Dataset`` reading each window with rasterio
(boundless), a ``DataLoader``, one forward pass per batch in torch, softmax
probabilities summed into a full-size in-memory array, argmax, one GeoTIFF
write. satlearn: ``satlearn.predict.predict`` with the same model (the
bundle's ONNX graph in ONNX Runtime), tile and overlap, streaming to disk.

Scenes: synthetic 3-band uint16 tiled GeoTIFFs (deflate, 512 px blocks) of
smooth random fields, written block by block. Each run is its own process so
that its peak resident memory (``ru_maxrss``) is its own; the model is a UNet
of width 8, depth 2 (random weights: time and memory do not depend on them).

Reported per size: time, megapixels per second and peak RSS of both, and the
ratios; for satlearn also the peak RSS against the smallest scene's, and the
cost and effect of --tta on the smallest scene.

Run: ``.venv/bin/python benchmarks/bench_predict.py [--sizes 2048,4096] [--plain-max 4096]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TILE, OVERLAP, BATCH = 256, 64, 8

CHILD = (
    r"""
import json, resource, sys, time
import numpy as np
mode, bundle, scene, out = sys.argv[1:5]
started = time.perf_counter()
if mode.startswith("satlearn"):
    from satlearn.predict import predict
    predict(bundle, scene, tile_size=TILE, overlap=OVERLAP, batch_size=BATCH, out=out,
            vectors=False, tta=mode == "satlearn-tta")
else:
    import rasterio, torch
    from rasterio.windows import Window
    from satlearn.bundle import read_bundle
    from satlearn.models.export import load_torch_model
    b = read_bundle(bundle)
    model = load_torch_model(bundle).eval()
    mean = np.asarray(b.metadata["normalisation"]["mean"], np.float32)[:, None, None]
    std = np.asarray(b.metadata["normalisation"]["std"], np.float32)[:, None, None]
    src = rasterio.open(scene)
    H, W = src.height, src.width
    S = TILE - OVERLAP
    origins = [(y, x) for y in range(-OVERLAP // 2, H, S) for x in range(-OVERLAP // 2, W, S)]

    class Windows(torch.utils.data.Dataset):
        def __len__(self):
            return len(origins)
        def __getitem__(self, i):
            y, x = origins[i]
            a = src.read(window=Window(x, y, TILE, TILE), boundless=True).astype(np.float32)
            return torch.from_numpy((a - mean) / std), torch.tensor([y, x])

    loader = torch.utils.data.DataLoader(Windows(), batch_size=BATCH, num_workers=0)
    K = len(b.classes)
    total = np.zeros((K, H, W), np.float32)
    with torch.inference_mode():
        for x, yx in loader:
            p = torch.softmax(model(x), 1).numpy()
            for (y0, x0), tile in zip(yx.tolist(), p):
                ys, xs = max(y0, 0), max(x0, 0)
                ye, xe = min(y0 + TILE, H), min(x0 + TILE, W)
                total[:, ys:ye, xs:xe] += tile[:, ys - y0 : ye - y0, xs - x0 : xe - x0]
    classes = total.argmax(0).astype(np.uint8)
    profile = dict(driver="GTiff", width=W, height=H, count=1, dtype="uint8", crs=src.crs,
                   transform=src.transform, tiled=True, compress="deflate")
    with rasterio.open(out + ".tif", "w", **profile) as dst:
        dst.write(classes, 1)
print(json.dumps({"seconds": time.perf_counter() - started,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""".replace("TILE", str(TILE))
    .replace("OVERLAP", str(OVERLAP))
    .replace("BATCH", str(BATCH))
)


def write_scene(path: Path, size: int) -> Path:
    """A 3-band uint16 tiled GeoTIFF of smooth fields, written 512 rows at a time."""
    import rasterio
    from affine import Affine
    from scipy.ndimage import zoom

    profile = dict(driver="GTiff", width=size, height=size, count=3, dtype="uint16",
                   crs="EPSG:32633", transform=Affine(10, 0, 300000, 0, -10, 5000000),
                   tiled=True, blockxsize=512, blockysize=512, compress="deflate",
                   BIGTIFF="IF_SAFER")  # fmt: skip
    rng = np.random.default_rng(size)
    with rasterio.open(path, "w", **profile) as dst:
        for y in range(0, size, 512):
            coarse = rng.uniform(500, 3000, (3, 512 // 32, size // 32))
            block = zoom(coarse, (1, 32, 32), order=1)[:, : min(512, size - y), :size]
            dst.write(block.astype(np.uint16), window=((y, y + block.shape[1]), (0, size)))
    return path


def make_bundle(folder: Path) -> Path:
    import torch

    from satlearn.models import build_model
    from satlearn.models.export import export_bundle

    torch.manual_seed(0)
    model = build_model("unet", in_channels=3, num_classes=4, width=8, depth=2)
    return export_bundle(model, folder / "seg" / "1", task="semantic-segmentation",
                         classes=["a", "b", "c", "d"], bands=["b1", "b2", "b3"],
                         normalisation={"mean": [1750.0] * 3, "std": [700.0] * 3},
                         tile_size=TILE, exporter="legacy")  # fmt: skip


def run(mode: str, bundle: Path, scene: Path, out: Path) -> dict[str, float]:
    result = subprocess.run([sys.executable, "-c", CHILD, mode, str(bundle), str(scene), str(out)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"{mode} on {scene.name} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2048,8192,16384")
    parser.add_argument(
        "--plain-max", type=int, default=8192, help="largest size for the plain loop"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    import rasterio

    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        root = Path(tmp)
        bundle = make_bundle(root)
        print(f"tile {TILE}, overlap {OVERLAP}, batch {BATCH}, {os.cpu_count()} CPUs")
        print(f"{'size':>6} {'who':>9} {'s':>8} {'Mpx/s':>7} {'RSS MB':>8}")
        base_rss = None
        for size in sizes:
            t0 = time.perf_counter()
            scene = write_scene(root / f"scene_{size}.tif", size)
            print(f"  (scene {size}^2 written in {time.perf_counter() - t0:.0f} s)")
            mpx = size * size / 1e6
            ours = run("satlearn", bundle, scene, root / f"ours_{size}")
            base_rss = base_rss or ours["rss_mb"]
            print(f"{size:>6} {'satlearn':>9} {ours['seconds']:8.1f} {mpx / ours['seconds']:7.2f} "
                  f"{ours['rss_mb']:8.0f}  (peak RSS {ours['rss_mb'] / base_rss:.2f}x the "
                  f"{sizes[0]}^2 run)")  # fmt: skip
            if size <= args.plain_max:
                plain = run("plain", bundle, scene, root / f"plain_{size}")
                print(f"{size:>6} {'plain':>9} {plain['seconds']:8.1f} "
                      f"{mpx / plain['seconds']:7.2f} {plain['rss_mb']:8.0f}  "
                      f"(satlearn {plain['seconds'] / ours['seconds']:.2f}x the throughput, "
                      f"{ours['rss_mb'] / plain['rss_mb']:.2f}x the memory)")  # fmt: skip
                with (
                    rasterio.open(root / f"ours_{size}" / "classes.tif") as a,
                    rasterio.open(root / f"plain_{size}.tif") as b,
                ):
                    agree = float((a.read(1) == b.read(1)).mean())
                print(f"{'':>6} {'':>9} class agreement satlearn vs plain loop: {agree:.4f}")
            scene.unlink()
            if size == sizes[0]:
                tta = run("satlearn-tta", bundle, write_scene(root / "tta.tif", size), root / "tta")
                with (
                    rasterio.open(root / f"ours_{size}" / "classes.tif") as a,
                    rasterio.open(root / "tta" / "classes.tif") as b,
                ):
                    changed = float((a.read(1) != b.read(1)).mean())
                print(f"{size:>6} {'+tta':>9} {tta['seconds']:8.1f} {mpx / tta['seconds']:7.2f} "
                      f"{tta['rss_mb']:8.0f}  ({tta['seconds'] / ours['seconds']:.1f}x the time; "
                      f"{100 * changed:.1f} % of pixels change class)")  # fmt: skip


if __name__ == "__main__":
    main()
