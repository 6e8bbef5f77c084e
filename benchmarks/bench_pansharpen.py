"""Pansharpening: satlearn against GDAL's own pansharpening (VRTPansharpenedDataset).

Two parts, both in one run:

1. Throughput. The real Landsat 8 crop (../shared/data/landsat8-l1t-crop: B2, B3, B4
   at 30 m, B8 pan at 15 m) tiled 3 x 3 into a scene of about 3.6k x 3.8k pan pixels,
   written as tiled uint16 GeoTIFFs on nested grids. The same files go through
   (a) GDAL: a weighted-Brovey VRTPansharpenedDataset (cubic MS resampling,
       NumThreads=ALL_CPUS, Float32 output) read whole with rasterio, and
   (b) satlearn: ``pansharpen(method="brovey")`` with the same weights and cubic
       resampling, in memory (numpy) and chunked (dask, 1024-pixel blocks): the
       resampling and the fusion in one compiled pass; and, for a before/after
       in the same run, the two steps apart (``resample_to_pan``, then ``brovey``
       on the resampled array), as ``pansharpen`` ran before that pass.
   The three run interleaved: ``--rounds`` rounds (default 5), each calling all
   three once in an order rotated by one each round, so that load from other
   jobs hits them alike; the first round is also each path's first call in the
   process (imports, numba's cache load, thread pools cold), reported apart.
   Reported: the median over the rounds after the first (and the minimum),
   output megapixels (pan grid) per second, the ratio of medians, the load
   average and CPU model, and the agreement of the Brovey outputs away from
   the edges.
2. Quality. The Wald protocol (degrade MS and pan by the ratio, fuse, compare
   with the original MS) for every satlearn method and for GDAL's Brovey on both
   real pairs: Landsat 8 (B2-B5, B8) and SpaceNet 6 / WorldView-2 (ms1, pan1).
   Reported: ERGAS, SAM (degrees), Q, Q4, SSIM, PSNR (dB).

Run: ``.venv/bin/python benchmarks/bench_pansharpen.py`` (``--throughput`` for part 1 only,
``--rounds N``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
import xarray as xr
from affine import Affine

from _bench import cpu_model
from satlearn.ops.pansharpen import brovey, gdal_pansharpen, pansharpen, resample_to_pan
from satlearn.ops.quality import wald_protocol
from satlearn.raster import open_raster, save_cog

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LANDSAT = DATA / "landsat8-l1t-crop"
SPACENET = DATA / "spacenet6-pan-ms-solaris"
WEIGHTS = [1 / 3, 1 / 3, 1 / 3]


def interleaved(contenders, rounds: int):
    """Per contender: (seconds of every round, last result); all once a round, order rotated."""
    times = {label: [] for label, _ in contenders}
    results = {}
    for round_ in range(rounds):
        shift = round_ % len(contenders)
        for label, func in contenders[shift:] + contenders[:shift]:
            start = time.perf_counter()
            results[label] = func()
            times[label].append(time.perf_counter() - start)
    return times, results


def write_tiled(path: Path, data: np.ndarray, transform: Affine, crs) -> Path:
    profile = {
        "driver": "GTiff",
        "width": data.shape[2],
        "height": data.shape[1],
        "count": data.shape[0],
        "dtype": data.dtype.name,
        "crs": crs,
        "transform": transform,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def throughput(tmp: Path, rounds: int) -> None:
    with rasterio.open(LANDSAT / "l8_B2.tif") as src:
        crs, ms_transform = src.crs, src.transform
    ms = np.stack([rasterio.open(LANDSAT / f"l8_B{b}.tif").read(1) for b in (2, 3, 4)])
    pan = rasterio.open(LANDSAT / "l8_B8.tif").read(1)
    height, width = ms.shape[1:]
    ms = np.tile(ms, (1, 3, 3))
    pan = np.tile(pan[: 2 * height, : 2 * width], (3, 3))[None]
    ms_path = write_tiled(tmp / "ms.tif", ms, ms_transform, crs)
    pan_path = write_tiled(tmp / "pan.tif", pan, ms_transform @ Affine.scale(0.5), crs)
    mpx = pan.shape[1] * pan.shape[2] / 1e6
    load = os.getloadavg()
    print(
        f"input: MS {ms.shape[0]} x {ms.shape[1]} x {ms.shape[2]}, pan {pan.shape[1]} x "
        f"{pan.shape[2]} ({mpx:.1f} Mpx output per band), {os.cpu_count()} CPU cores, "
        f"{cpu_model()}; load average {load[0]:.2f} (1 min), {load[1]:.2f} (5 min)"
    )

    def run_gdal():
        return gdal_pansharpen(ms_path, pan_path, weights=WEIGHTS).values

    def run_numpy():
        return pansharpen(open_raster(ms_path), open_raster(pan_path), weights=WEIGHTS).values

    def run_two_steps():
        # The path before the fused pass (resample_to_pan, then brovey on the
        # resampled array), for a before/after in the same run.
        ms_da, pan_da = open_raster(ms_path), open_raster(pan_path)
        up = resample_to_pan(ms_da, pan_da).values
        return brovey(up, pan_da.values[0].astype(np.float32), weights=WEIGHTS)

    def run_dask():
        chunks = {"band": -1, "y": 1024, "x": 1024}
        ms_da = open_raster(ms_path, chunks=chunks)
        pan_da = open_raster(pan_path, chunks=chunks)
        return pansharpen(ms_da, pan_da, weights=WEIGHTS).values

    # Round one holds each path's first call in this process (imports, numba's
    # cache load, thread pools cold); the median of the other rounds is the warm figure.
    labels = {
        "gdal": "GDAL VRTPansharpenedDataset",
        "numpy": "satlearn brovey (numpy)",
        "dask": "satlearn brovey (dask, 1024 blocks)",
        "two": "satlearn resample_to_pan + brovey",
    }
    times, results = interleaved(
        [
            (labels["gdal"], run_gdal),
            (labels["numpy"], run_numpy),
            (labels["dask"], run_dask),
            (labels["two"], run_two_steps),
        ],
        rounds,
    )
    ref, ours, ours_dask = (results[labels[k]] for k in ("gdal", "numpy", "dask"))
    warm = {label: float(np.median(t[1:] if len(t) > 1 else t)) for label, t in times.items()}
    t_gdal, first_gdal = warm[labels["gdal"]], times[labels["gdal"]][0]
    print(
        f"{'implementation':36s} {'median s':>8s} {'min s':>6s} {'Mpx/s':>6s} {'vs GDAL':>8s} "
        f"{'first s':>8s} {'vs GDAL':>8s}"
    )
    for label, seconds in warm.items():
        first = times[label][0]
        print(
            f"{label:36s} {seconds:8.2f} {min(times[label][1:] or times[label]):6.2f} "
            f"{mpx / seconds:6.1f} {t_gdal / seconds:7.2f}x {first:8.2f} {first_gdal / first:7.2f}x"
        )
    load = os.getloadavg()
    print(
        f"{rounds} interleaved rounds; median of rounds 2-{rounds}; vs GDAL: ratio of medians "
        f"(first: of first calls); load average after: {load[0]:.2f} (1 min)"
    )
    inner = (slice(None), slice(8, -8), slice(8, -8))
    relative = np.abs(ours[inner] - ref[inner]) / np.maximum(np.abs(ref[inner]), 1)
    relative_dask = np.abs(ours_dask[inner] - ours[inner]) / np.maximum(np.abs(ours[inner]), 1)
    print(
        "agreement with GDAL (interior; GDAL works in the uint16 pan type, so it rounds): "
        f"median {np.median(relative):.2e}, 99.9% {np.percentile(relative, 99.9):.2e}, "
        f"max {relative.max():.2e}; dask vs numpy max {relative_dask.max():.2e}"
    )


def landsat_pair() -> tuple[xr.DataArray, xr.DataArray]:
    bands = [open_raster(LANDSAT / f"l8_B{b}.tif") for b in (2, 3, 4, 5)]
    ms = xr.concat(bands, "band").assign_coords(band=["blue", "green", "red", "nir"])
    ms = ms.rio.write_crs(bands[0].rio.crs).rio.write_transform(bands[0].rio.transform())
    return ms, open_raster(LANDSAT / "l8_B8.tif")


def spacenet_pair() -> tuple[xr.DataArray, xr.DataArray]:
    ms = open_raster(SPACENET / "ms1.tif").assign_coords(band=["blue", "green", "red", "nir"])
    return ms, open_raster(SPACENET / "pan1.tif")


def gdal_brovey(ms_low: xr.DataArray, pan_low: xr.DataArray) -> xr.DataArray:
    """GDAL's Brovey on the degraded pair, written as float32 files (GDAL computes in float)."""
    with tempfile.TemporaryDirectory() as tmp:
        save_cog(ms_low.astype("float32"), Path(tmp) / "ms.tif", overviews=None)
        save_cog(pan_low.astype("float32"), Path(tmp) / "pan.tif", overviews=None)
        return gdal_pansharpen(Path(tmp) / "ms.tif", Path(tmp) / "pan.tif").load()


ROWS = [
    ("GDAL Brovey (VRT)", gdal_brovey, {}),
    ("brovey", "brovey", {}),
    ("brovey weights=auto", "brovey", {"weights": "auto"}),
    ("mean", "mean", {}),
    ("ihs", "ihs", {}),
    ("ihs weights=auto", "ihs", {"weights": "auto"}),
    ("gram_schmidt", "gram-schmidt", {}),
    ("gram_schmidt weights=auto (GSA)", "gram-schmidt", {"weights": "auto"}),
    ("pca", "pca", {}),
    ("hpf (local gains, default)", "hpf", {}),
    ("hpf injection=global", "hpf", {"injection": "global"}),
    ("hpf injection=modulation", "hpf", {"injection": "modulation"}),
]


def quality_tables() -> None:
    for title, loader in [
        ("Landsat 8 (B2-B5 30 m, B8 15 m)", landsat_pair),
        ("SpaceNet 6 / WorldView-2 (4 bands 1 m, pan 0.5 m)", spacenet_pair),
    ]:
        ms, pan = loader()
        print(f"\nWald protocol, {title}: reduced resolution, ratio 2")
        print(
            f"{'method':34s} {'ERGAS':>7s} {'SAM':>7s} {'Q':>7s} {'Q4':>7s} {'SSIM':>7s} "
            f"{'PSNR':>7s} {'s':>5s}"
        )
        for label, method, options in ROWS:
            start = time.perf_counter()
            scores = wald_protocol(ms, pan, method=method, **options)
            seconds = time.perf_counter() - start
            print(
                f"{label:34s} {scores['ergas']:7.3f} {scores['sam']:7.3f} {scores['q']:7.4f} "
                f"{scores['q2n']:7.4f} {scores['ssim']:7.4f} {scores['psnr']:7.2f} {seconds:5.1f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--throughput", action="store_true", help="part 1 only")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    args = parser.parse_args()
    if not LANDSAT.is_dir() or not SPACENET.is_dir():
        raise SystemExit(f"real data not found under {DATA}")
    with tempfile.TemporaryDirectory(prefix="bench-pansharpen-") as tmp:
        throughput(Path(tmp), max(args.rounds, 2))
    if not args.throughput:
        quality_tables()


if __name__ == "__main__":
    main()
