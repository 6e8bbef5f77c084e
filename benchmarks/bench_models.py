"""Forward-pass throughput of every satlearn model: torch eager vs ONNX Runtime.

What is compared, in the same run, for each registered model at its default
width (the sizes training uses):

* torch eager (``torch.no_grad()``, eval mode, ``torch.set_num_threads``
  threads) against ONNX Runtime on the graph :func:`export_bundle` wrote
  (CPUExecutionProvider, the same number of intra-op threads); tiles per
  second, best of N interleaved calls on one fixed batch, and the ratio
  onnxruntime / torch;
* the largest absolute difference between the two on that batch;
* the export itself: exporter used and its wall time.

Inputs: 4 bands; classifiers 64 x 64 chips (EuroSAT size) in batches of 16,
U-Nets and the detector 256 x 256 tiles in batches of 4, super-resolution
64 x 64 low-resolution tiles (x2: 128 x 128 out) in batches of 4.

On a machine shared with other jobs, run with ``--threads 1`` as well: torch's
OpenMP threads spin-wait at every barrier, and on oversubscribed cores two
threads were 2-10x slower than one (ONNX Runtime suffered less).

Run: ``python benchmarks/bench_models.py [--threads 2] [--repeat 5] [--exporter auto]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from satlearn.bundle import read_bundle
from satlearn.models import build_model, export_bundle

BANDS = ["blue", "green", "red", "nir"]
# name, options, dates (inputs stacked on channels), tile, batch
CASES = [
    ("resnet-classifier", {"num_classes": 10}, 1, 64, 16),
    ("unet", {"num_classes": 2}, 1, 256, 4),
    ("siamese-unet", {"num_classes": 1}, 2, 256, 4),
    ("early-fusion-unet", {"num_classes": 1}, 2, 256, 4),
    ("srcnn", {"scale": 2}, 1, 64, 4),
    ("vdsr", {"scale": 2}, 1, 64, 4),
    ("espcn", {"scale": 2}, 1, 64, 4),
    ("centernet", {"num_classes": 1}, 1, 256, 4),
]


def best_of(funcs: dict, repeat: int) -> dict[str, float]:
    """Best time of each function; calls are interleaved so load changes hit all alike."""
    for func in funcs.values():
        func()
    times: dict[str, list[float]] = {name: [] for name in funcs}
    for _ in range(repeat):
        for name, func in funcs.items():
            start = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--exporter", default="auto", choices=["auto", "dynamo", "legacy"])
    parser.add_argument("--only", nargs="*", help="model names to run (default all)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1

    print(
        f"threads={args.threads} repeat={args.repeat} "
        f"torch {torch.__version__} onnxruntime {ort.__version__}"
    )
    header = (
        f"{'model':18} {'input':>18} {'params':>8} {'exporter':>8} {'export s':>8} "
        f"{'torch tiles/s':>13} {'ort tiles/s':>11} {'ort/torch':>9} {'max diff':>9}"
    )
    print(header)
    with tempfile.TemporaryDirectory() as tmp:
        for name, opts, dates, tile, batch in CASES:
            if args.only and name not in args.only:
                continue
            torch.manual_seed(0)
            model = build_model(name, in_channels=len(BANDS) * dates, **opts).eval()
            params = sum(p.numel() for p in model.parameters())
            x = torch.randn(batch, len(BANDS) * dates, tile, tile)
            start = time.perf_counter()
            path = export_bundle(
                model,
                Path(tmp) / name,
                task=model.task,
                classes=None,
                bands=BANDS,
                normalisation=None,
                tile_size=tile,
                exporter=args.exporter,
            )
            export_s = time.perf_counter() - start
            bundle = read_bundle(path)
            session = ort.InferenceSession(
                str(bundle.model_path), options, providers=["CPUExecutionProvider"]
            )
            feed = {"input": x.numpy()}

            def run_torch(model=model, x=x):
                with torch.no_grad():
                    return model(x)

            def run_ort(session=session, feed=feed):
                return session.run(None, feed)[0]

            times = best_of({"torch": run_torch, "ort": run_ort}, args.repeat)
            diff = float(np.max(np.abs(run_ort() - run_torch().numpy())))
            shape = "x".join(map(str, x.shape))
            exporter = bundle.metadata["export"]["exporter"]
            print(
                f"{name:18} {shape:>18} {params / 1e6:7.2f}M {exporter:>8} "
                f"{export_s:8.1f} {batch / times['torch']:13.1f} {batch / times['ort']:11.1f} "
                f"{times['torch'] / times['ort']:9.2f} {diff:9.1e}",
                flush=True,
            )


if __name__ == "__main__":
    main()
