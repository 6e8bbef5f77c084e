"""Training throughput (images/s) of satlearn.train on the CPU, against a bare torch loop.

What is measured, in the same run, for ``resnet-classifier`` (single-label,
7 land-cover classes) and ``unet`` (water segmentation), 4 bands, chips of
``--chip`` pixels, batch ``--batch``, model ``width``/``depth`` as printed:

* ``bare``: the ten-line peer: random tensors already in memory, forward,
  the task loss, backward, AdamW step. The ceiling for the model on this CPU.
* ``satlearn``: :func:`satlearn.train.train` end to end on chips of a
  synthetic scene (data loading, flips/rotations, normalisation, validation
  excluded: the time of the training batches only, from the CSV log minus
  the validation pass), with ``num_workers`` 0 and 2.

Images/s = training samples seen / seconds. The ratio satlearn / bare is the
loop's overhead (1.0 = none). torch threads are set with ``--threads``.

Run: ``python benchmarks/bench_training.py [--chip 64] [--batch 16] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

from satlearn.models import build_model
from satlearn.train import TrainConfig, train
from satlearn.train.data import TrainingSet, collate
from satlearn.train.losses import task_loss

MODELS = {
    "resnet-classifier": ("classification", "landcover-chips", {"width": 16, "depth": 3}, 7),
    "unet": ("segmentation", "water", {"width": 16, "depth": 3}, 2),
}


def bare(name: str, chip: int, batch: int, steps: int) -> float:
    task, _, options, classes = MODELS[name]
    torch.manual_seed(0)
    model = build_model(name, in_channels=4, num_classes=classes, **options)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 4, chip, chip)
    if task == "classification":
        target = {"label": torch.randint(0, classes, (batch,))}
    else:
        target = {"mask": torch.randint(0, classes, (batch, chip, chip))}
    model.train()
    for i in range(steps + 2):
        if i == 2:  # two warm-up steps (allocator, first-call paths)
            start = time.perf_counter()
        loss = task_loss(task, model(x), target, num_classes=classes)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * batch / (time.perf_counter() - start)


def satlearn_loop(name: str, chip: int, batch: int, workers: int, size: int) -> tuple[float, int]:
    task, target, options, _ = MODELS[name]
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig.from_dict(
            {
                "task": task,
                "data": {"kind": "synthetic", "target": target, "size": size,
                         "chip_size": chip, "stride": chip // 2, "clouds": False},
                "bands": ["blue", "green", "red", "nir"],
                "model": {"name": name, "options": options},
                "epochs": 2, "batch_size": batch, "num_workers": workers,
                "val_fraction": 0.05, "early_stopping": {"patience": 0},
                "output": {"directory": tmp},
            }
        )  # fmt: skip
        result = train(config, export=False, progress=False)
        # Time epoch 2 only (epoch 1 includes first-call costs): its training
        # part is the epoch's seconds minus one validation pass, timed apart.
        samples = len(result.data.train)
        val = len(result.data.val)
        row = result.history[-1]
        model = result.model

        ds = TrainingSet(result.data.val, result.normalisation["mean"], result.normalisation["std"])
        start = time.perf_counter()
        with torch.no_grad():
            model.eval()
            for i in range(0, val, batch):
                model(collate([ds[j] for j in range(i, min(i + batch, val))])["image"])
        val_seconds = time.perf_counter() - start
        return samples / (row["seconds"] - val_seconds), samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chip", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} cpus; "
          f"chips {args.chip} px, batch {args.batch}, 4 bands")  # fmt: skip
    print(f"{'model':<18} {'options':<22} {'bare img/s':>10} {'workers':>7} "
          f"{'satlearn img/s':>14} {'ratio':>6}")  # fmt: skip
    for name, (_, _, options, _) in MODELS.items():
        ceiling = bare(name, args.chip, args.batch, args.steps)
        for workers in (0, 2):
            rate, n = satlearn_loop(name, args.chip, args.batch, workers, args.size)
            opts = ",".join(f"{k}={v}" for k, v in options.items())
            print(f"{name:<18} {opts:<22} {ceiling:>10.1f} {workers:>7} {rate:>14.1f} "
                  f"{rate / ceiling:>6.2f}   ({n} training chips)")  # fmt: skip


if __name__ == "__main__":
    main()
