"""``satlearn predict``: a bundle's model over a whole scene, streamed to disk.

Segmentation and change bundles give a class COG and polygons, object-detection
bundles boxes (GeoParquet, GeoJSON), super-resolution bundles a float COG on a
finer grid; every run a STAC item.

With ``--scheduler tcp://...`` / ``local:N`` (a Dask cluster) the scene is
read lazily and the class map is predicted on the workers (each loads the
bundle once per process) and written by them into ``classes.tif``; that
path makes class maps of one-date bundles only (no resume, probabilities,
polygons or item, which the streamed run writes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from satlearn.cli.app import Scheduler, app, errors_to_one_line, on_scheduler
from satlearn.errors import InvalidInputError


def _predict_on_cluster(
    bundle: Path, scene: str, out_dir: Path, *, tile_size: int | None, overlap: int | None,
    batch_size: int | None, tta: bool, refused: dict[str, bool],
) -> Path:  # fmt: skip
    """The class map of ``scene`` predicted and written by the cluster's workers."""
    from satlearn.bundle import read_bundle
    from satlearn.predict import predict as run_predict
    from satlearn.raster import open_raster, save_cog

    asked = [name for name, given in refused.items() if given]
    if asked:
        raise InvalidInputError(
            f"predict on a Dask cluster (--scheduler) makes a class map only; "
            f"{', '.join(asked)} need(s) the streamed run (no --scheduler)"
        )
    info = read_bundle(bundle)
    if info.task in ("object-detection", "super-resolution"):
        raise InvalidInputError(
            f"bundle {bundle} ({info.task}): on a Dask cluster (--scheduler) only class maps "
            "are predicted; run without --scheduler"
        )
    # Row-and-column blocks of 1024 px: each holds several model tiles, and the
    # lazy form reads each block's halo itself.
    image = open_raster(scene, chunks={"band": -1, "y": 1024, "x": 1024})
    classes = run_predict(
        info, image, tile_size=tile_size, overlap=overlap, batch_size=batch_size, tta=tta
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "classes.tif"
    save_cog(classes, path, nodata=255, resampling="nearest")
    return path


@app.command()
@errors_to_one_line
@on_scheduler
def predict(
    bundle: Annotated[Path, typer.Argument(help="A model bundle folder (ROOT/NAME/VERSION).")],
    scene: Annotated[
        str, typer.Argument(help="A raster path, an http(s):// or s3:// URL, or a STAC item JSON.")
    ],
    out_dir: Annotated[
        Path,
        typer.Argument(
            help="Folder for the outputs: classes.tif and polygons (maps), detections.parquet "
            "(object detection) or superres.tif (super-resolution), and item.json."
        ),
    ],
    tile_size: Annotated[
        int | None, typer.Option(help="Model input tile in pixels (default: the bundle's).")
    ] = None,
    overlap: Annotated[
        int | None, typer.Option(help="Pixels shared by neighbouring tiles (default: tile/4).")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Tiles per model call (default 8).")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(help="Continue an interrupted run into OUT_DIR (no finished row redone)."),
    ] = False,
    tta: Annotated[
        bool, typer.Option(help="Average the 8 flips and rotations of each tile (8x slower).")
    ] = False,
    probabilities: Annotated[
        bool, typer.Option(help="Also write per-class probabilities (uint8, p x 254; maps).")
    ] = False,
    vectors: Annotated[bool, typer.Option(help="Trace the classes as polygons.")] = True,
    after: Annotated[
        str | None,
        typer.Option(help="The second date for a change-detection bundle (path, URL or item)."),
    ] = None,
    register: Annotated[
        bool, typer.Option(help="Co-register --after onto SCENE first (phase correlation).")
    ] = False,
    scheduler: Scheduler = None,
) -> None:
    """Predict a whole scene tile by tile in bounded memory: blended, resumable, with polygons."""
    import json
    import time

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from satlearn.compute import active_client
    from satlearn.predict import predict as run_predict

    started = time.perf_counter()
    if active_client() is not None:
        path = _predict_on_cluster(
            bundle, scene, out_dir, tile_size=tile_size, overlap=overlap, batch_size=batch_size,
            tta=tta, refused={"--resume": resume, "--probabilities": probabilities,
                              "--after": after is not None, "--register": register},
        )  # fmt: skip
        print(f"wrote {path}")
        print(f"predicted {scene} in {time.perf_counter() - started:.1f} s")
        return
    stderr = Console(stderr=True)
    columns = [
        TextColumn("predicting"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=stderr, transient=True, disable=not stderr.is_terminal) as bar:
        task = bar.add_task("predict", total=1, rate="")

        def on_progress(done: int, total: int) -> None:
            rate = done / max(time.perf_counter() - started, 1e-9)
            bar.update(task, completed=done, total=total, rate=f"{rate / 1e6:.2f} Mpx/s")

        folder = run_predict(
            bundle,
            scene if after is None else (scene, after),
            tile_size=tile_size,
            overlap=overlap,
            batch_size=batch_size,
            out=out_dir,
            resume=resume,
            tta=tta,
            probabilities=probabilities,
            vectors=vectors,
            register=register,
            on_progress=on_progress,
        )
    elapsed = time.perf_counter() - started
    # Plain prints: paths must not be wrapped to the terminal's width.
    for path in sorted(Path(folder).iterdir()):
        if not path.name.startswith("."):
            print(f"wrote {path}")
    item = Path(folder) / "item.json"
    found = json.loads(item.read_text(encoding="utf-8"))["properties"].get("satlearn:detections")
    if found is not None:
        print(f"detected {found} objects")
    print(f"predicted {scene} in {elapsed:.1f} s")
