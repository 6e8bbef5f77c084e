"""Test-time augmentation: what ``predict(..., tta=True)`` costs and gains on a trained model.

The model is the U-Net ``satlearn demo`` trains on its scene's land-cover
labels (the northern half), saved under ``demo-output/segmentation/bundle``;
run ``make demo`` first, or pass another bundle, scene and truth. Both runs
predict the whole first date; accuracy is scored on the southern half (held
out from training) against the land-cover truth.

Run: ``.venv/bin/python benchmarks/bench_predict_tta.py [--demo demo-output]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import rasterio

from satlearn.predict import predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, default=Path("demo-output"))
    args = parser.parse_args()
    bundle = next((args.demo / "segmentation" / "bundle").glob("*/*/bundle.json")).parent
    scene = sorted((args.demo / "scene").glob("image_*.tif"))[0]
    with rasterio.open(args.demo / "scene" / "landcover.tif") as src:
        truth = src.read(1)
    south = slice(truth.shape[0] // 2, None)
    plain, plain_seconds = None, 1.0
    for tta in (False, True):
        started = time.perf_counter()
        classes = predict(bundle, str(scene), tta=tta).values
        seconds = time.perf_counter() - started
        accuracy = float((classes[south] == truth[south]).mean())
        line = f"tta={tta!s:5} {seconds:6.1f} s  accuracy (south) {accuracy:.4f}"
        if plain is not None:
            changed = float((classes != plain).mean())
            line += f"  {seconds / plain_seconds:.1f}x the time, {100 * changed:.1f} % changed"
        else:
            plain, plain_seconds = classes, seconds
        print(line)


if __name__ == "__main__":
    main()
