"""Object detection over whole scenes: boxes from every tile, one per object.

The scene is swept on the same global tile grid as the maps (``_plan``), with
the same reader threads (``_stream.read_ahead``), a row of tiles at a time in
column groups about 2048 pixels wide, so a strip never spans the scene. Each
tile's centernet output is decoded (:func:`satlearn.models.decode_detections`),
its boxes shifted to scene pixels, and boxes whose centre lies outside the
scene (the mirror images of the reflect padding) or on a nodata pixel are
dropped. An object in the overlap of two tiles is found by both, so greedy
non-maximum suppression over the whole scene, per class, keeps the best-scored
box of each group that overlaps by IoU > 0.5.

Only boxes are kept, never the scene or a tile's output beyond its decoding.
With ``out``, each finished unit's boxes (before suppression) are appended to a
journal in the state folder, so ``resume=True`` skips finished units and gives
the same detections as an uninterrupted run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from satlearn.atomic import atomic_output
from satlearn.predict._plan import TilePlan
from satlearn.predict._source import Source
from satlearn.predict._store import open_state
from satlearn.predict._stream import read_ahead, reader_pool, run_row

__all__ = [
    "DETECTIONS_GEOJSON",
    "DETECTIONS_PARQUET",
    "NMS_IOU",
    "BoxJournal",
    "Detections",
    "detect_scene",
    "non_max_suppression",
    "predict_detections",
    "write_detections",
]

DETECTIONS_PARQUET = "detections.parquet"
DETECTIONS_GEOJSON = "detections.geojson"
#: Boxes of one class overlapping a better one by more than this IoU are
#: duplicates. None turns suppression off (tests use it to show it is needed).
NMS_IOU: float | None = 0.5
# Width of a column group of tiles, in pixels: bounds a strip's memory.
_GROUP_WIDTH = 2048
_JOURNAL = "detections.jsonl"


@dataclass(frozen=True)
class Detections:
    """Objects found in a scene: boxes in scene pixels, scores and classes.

    Attributes
    ----------
    boxes : numpy.ndarray
        ``(M, 4)`` float32 ``x0, y0, x1, y1`` in scene pixels (column, row;
        pixel ``(r, c)`` spans ``[c, c + 1) x [r, r + 1)``), best score first.
    scores : numpy.ndarray
        ``(M,)`` float32 heatmap scores.
    class_ids : numpy.ndarray
        ``(M,)`` int64 class ids.
    classes : dict of int to str
        Class names by id.
    crs, transform :
        The scene's grid (rasterio CRS and Affine).
    """

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    classes: Mapping[int, str]
    crs: Any
    transform: Any

    def __len__(self) -> int:
        return len(self.scores)

    def to_geodataframe(self) -> Any:
        """The boxes as polygons in the scene's CRS (``class_id``, ``class_name``, ``score``).

        Returns
        -------
        geopandas.GeoDataFrame
        """
        import geopandas as gpd
        import shapely

        b = self.boxes.astype(np.float64)
        corners = np.stack(
            [b[:, [0, 1]], b[:, [2, 1]], b[:, [2, 3]], b[:, [0, 3]], b[:, [0, 1]]], axis=1
        )
        t = self.transform
        # The affine may rotate: map every corner, not just the bounds.
        xs = t.a * corners[..., 0] + t.b * corners[..., 1] + t.c
        ys = t.d * corners[..., 0] + t.e * corners[..., 1] + t.f
        rings = np.stack([xs, ys], axis=-1).reshape(-1, 5, 2)
        polygons = shapely.polygons(rings) if len(rings) else []
        ids = np.asarray(self.class_ids, dtype=np.int32)
        return gpd.GeoDataFrame(
            {
                "class_id": ids,
                "class_name": [str(self.classes.get(int(c), c)) for c in ids],
                "score": np.asarray(self.scores, dtype=np.float32),
            },
            geometry=gpd.GeoSeries(polygons, crs=self.crs),
            crs=self.crs,
        )


def _pair_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of ``a[i]`` with ``b[i]`` for each ``i``: the diagonal of satlearn.metrics.box_iou."""
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    union = area_a + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def non_max_suppression(
    boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, *, iou_threshold: float
) -> np.ndarray:
    """Indices of the boxes greedy per-class NMS keeps, best score first.

    Candidate pairs come from an R-tree of the boxes (shapely's STRtree), so
    the work grows with the number of overlapping pairs, not with the square
    of the scene's boxes.

    Parameters
    ----------
    boxes : numpy.ndarray
        ``(M, 4)`` ``x0, y0, x1, y1``.
    scores, class_ids : numpy.ndarray
        ``(M,)`` each.
    iou_threshold : float
        A box overlapping a kept box of its class by more than this is dropped.

    Returns
    -------
    numpy.ndarray
        int64 indices into ``boxes``.

    Examples
    --------
    >>> boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]], np.float32)
    >>> non_max_suppression(boxes, np.array([0.8, 0.9, 0.5]), np.zeros(3, int),
    ...                     iou_threshold=0.5).tolist()
    [1, 2]
    """
    import shapely

    n = len(scores)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    if n < 2:
        return order.astype(np.int64)
    b = np.asarray(boxes, dtype=np.float64)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    geoms = shapely.box(b[:, 0], b[:, 1], b[:, 2], b[:, 3])
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    # Keep each pair once, better-ranked first, within one class.
    pair = (rank[i] < rank[j]) & (class_ids[i] == class_ids[j])
    i, j = i[pair], j[pair]
    hit = _pair_iou(b[i], b[j]) > iou_threshold
    i, j = i[hit], j[hit]
    by_first = np.argsort(i, kind="stable")
    i, j = i[by_first], j[by_first]
    starts = np.searchsorted(i, np.arange(n + 1))
    suppressed = np.zeros(n, dtype=bool)
    keep = []
    # Greedy in score order: a box suppresses only while it is itself kept.
    for idx in order:
        if suppressed[idx]:
            continue
        keep.append(idx)
        suppressed[j[starts[idx] : starts[idx + 1]]] = True
    return np.asarray(keep, dtype=np.int64)


def _core(k: int, n: int, size: int, plan: TilePlan) -> tuple[int, int]:
    """The pixels tile ``k`` of ``n`` stands for along an axis (they partition it)."""
    lo = 0 if k == 0 else k * plan.stride
    hi = size if k == n - 1 else (k + 1) * plan.stride
    return lo, hi


class BoxJournal:
    """A detection run's state: each finished unit's boxes, one ``fsync``-ed JSON line each.

    Parameters
    ----------
    folder : path
        The output folder; the journal lives in its state folder.
    settings : dict
        What the run depends on; a resumed run with other settings is refused.
    resume : bool
        Keep what an earlier run journalled; otherwise start afresh.
    """

    def __init__(self, folder: Path, settings: dict[str, Any], *, resume: bool) -> None:
        self.root = open_state(folder, settings, resume=resume)
        self.path = self.root / _JOURNAL
        self.units: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").split("\n")[:-1]:
                # Only newline-terminated lines: one cut by a kill is ignored.
                entry = json.loads(line)
                self.units[entry["key"]] = (
                    np.asarray(entry["boxes"], dtype=np.float32).reshape(-1, 4),
                    np.asarray(entry["scores"], dtype=np.float32),
                    np.asarray(entry["classes"], dtype=np.int64),
                )
        self.file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def add(self, key: str, boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray) -> None:
        # float32 -> Python float -> JSON -> float32 is exact, so a resumed run
        # sees the very boxes the killed one found.
        line = {
            "key": key,
            "boxes": boxes.tolist(),
            "scores": scores.tolist(),
            "classes": classes.tolist(),
        }
        self.file.write(json.dumps(line) + "\n")
        self.file.flush()
        os.fsync(self.file.fileno())

    def close(self) -> None:
        self.file.close()

    def remove(self) -> None:
        """Delete the state (after the outputs are in place)."""
        import shutil

        self.close()
        shutil.rmtree(self.root, ignore_errors=True)


def detect_scene(
    source: Source,
    run: Callable[[np.ndarray], np.ndarray],
    plan: TilePlan,
    *,
    fill: np.ndarray,
    classes: Mapping[int, str],
    stride: int,
    threshold: float = 0.3,
    max_per_tile: int = 100,
    batch_size: int = 8,
    journal: Any = None,
    on_unit: Callable[[tuple[int, int], tuple[int, int]], None] | None = None,
) -> Detections:
    """Detect objects over the whole scene, tile by tile, de-duplicated.

    Global: every tile is decoded on its own, then the scene's boxes are
    suppressed together (NMS per class at IoU :data:`NMS_IOU`).

    Parameters
    ----------
    source : Source
        The scene.
    run : callable
        ``(N, C, T, T)`` stored values -> ``(N, K + 4, T/s, T/s)`` centernet outputs.
    plan : TilePlan
        The tiling.
    fill : numpy.ndarray
        ``(C, 1, 1)`` values that replace invalid input pixels.
    classes : dict of int to str
        Class names.
    stride : int
        The model's output stride (``bundle.json`` ``output.stride``).
    threshold, max_per_tile : float, int
        Lowest heatmap score kept; most boxes decoded per tile.
    batch_size : int
        Tiles per model call.
    journal : optional
        Where finished units' boxes go and come back from (resume).
    on_unit : callable, optional
        ``on_unit(rows, cols)`` with the scene pixels a finished unit stands for.

    Returns
    -------
    Detections
    """
    from satlearn.models import decode_detections

    height, width, tile = source.height, source.width, plan.tile
    n_rows, n_cols = plan.rows, plan.cols
    per_group = max(1, (_GROUP_WIDTH - tile) // plan.stride + 1)
    groups = [range(g, min(g + per_group, n_cols)) for g in range(0, n_cols, per_group)]
    found = dict(journal.units) if journal is not None else {}
    units = [
        (ky, g) for ky in range(n_rows) for g in range(len(groups)) if f"{ky}:{g}" not in found
    ]
    windows = [
        (
            (plan.start(ky), plan.start(ky) + tile),
            (plan.start(groups[g][0]), plan.start(groups[g][-1]) + tile),
        )
        for ky, g in units
    ]
    with reader_pool() as pool:
        strips = read_ahead(pool, source, windows, fill)
        for (ky, g), ((top, _), (left0, _)), (data, valid) in zip(
            units, windows, strips, strict=True
        ):
            outputs = run_row(data, run, plan, groups[g], left0, batch_size)
            kept: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
            for out, kx in zip(outputs, groups[g], strict=True):
                boxes, scores, ids = decode_detections(
                    out, k=max_per_tile, threshold=threshold, stride=stride
                )
                left = plan.start(kx)
                boxes = boxes + np.array([left, top, left, top], dtype=np.float32)
                cx = (boxes[:, 0] + boxes[:, 2]) / 2
                cy = (boxes[:, 1] + boxes[:, 3]) / 2
                # Centres beyond the scene are the reflect padding's mirror images.
                inside = (cx >= 0) & (cx < width) & (cy >= 0) & (cy < height)
                row = np.clip(cy.astype(np.int64) - top, 0, valid.shape[0] - 1)
                col = np.clip(cx.astype(np.int64) - left0, 0, valid.shape[1] - 1)
                inside &= valid[row, col]
                kept.append((boxes[inside], scores[inside], ids[inside]))
            unit = (
                np.concatenate([k[0] for k in kept]).reshape(-1, 4),
                np.concatenate([k[1] for k in kept]),
                np.concatenate([k[2] for k in kept]),
            )
            key = f"{ky}:{g}"
            found[key] = unit
            if journal is not None:
                journal.add(key, *unit)
            if on_unit is not None:
                first, last = (
                    _core(groups[g][0], n_cols, width, plan),
                    _core(groups[g][-1], n_cols, width, plan),
                )
                on_unit(_core(ky, n_rows, height, plan), (first[0], last[1]))
    # Units in scene order, whatever order they were found in (resume).
    ordered = [found[f"{ky}:{g}"] for ky in range(n_rows) for g in range(len(groups))]
    boxes = np.concatenate([u[0] for u in ordered]).reshape(-1, 4).astype(np.float32)
    scores = np.concatenate([u[1] for u in ordered]).astype(np.float32)
    ids = np.concatenate([u[2] for u in ordered]).astype(np.int64)
    if NMS_IOU is None:
        keep = np.argsort(-scores, kind="stable")
    else:
        keep = non_max_suppression(boxes, scores, ids, iou_threshold=NMS_IOU)
    return Detections(
        boxes=boxes[keep],
        scores=scores[keep],
        class_ids=ids[keep],
        classes=dict(classes),
        crs=source.crs,
        transform=source.transform,
    )


def _footprint(source: Source) -> tuple[dict[str, Any], list[float]]:
    """The scene's outline in WGS 84 (edges densified) and its bbox."""
    import shapely
    from rasterio.transform import array_bounds
    from rasterio.warp import transform_bounds, transform_geom

    south, west, north, east = array_bounds(source.height, source.width, source.transform)
    native = shapely.box(west, south, east, north)
    dense = shapely.segmentize(native, max(native.length / 32, 1e-9))
    geometry = shapely.geometry.shape(
        transform_geom(source.crs, "EPSG:4326", shapely.geometry.mapping(dense))
    )
    bbox = transform_bounds(source.crs, "EPSG:4326", west, south, east, north, densify_pts=21)
    geometry = shapely.orient_polygons(shapely.set_precision(geometry, 1e-7))
    return json.loads(shapely.to_geojson(geometry)), [round(float(v), 7) for v in bbox]


def write_detections(
    detections: Detections,
    source: Source,
    folder: Path,
    *,
    item_id: str,
    properties: Mapping[str, Any],
) -> dict[str, Path]:
    """``detections.parquet`` (scene CRS), ``detections.geojson`` (WGS 84), ``item.json``."""
    import pystac
    from pystac.extensions.projection import ProjectionExtension
    from rasterio.transform import array_bounds

    from satlearn.predict._outputs import save_item

    frame = detections.to_geodataframe()
    parquet = folder / DETECTIONS_PARQUET
    with atomic_output(parquet) as tmp:
        frame.to_parquet(tmp, index=False)
    geojson = folder / DETECTIONS_GEOJSON
    wgs84 = frame.to_crs("EPSG:4326") if frame.crs is not None else frame
    with atomic_output(geojson) as tmp:
        tmp.write_text(wgs84.to_json(drop_id=True), encoding="utf-8")

    geometry, bbox = _footprint(source)
    item = pystac.Item(
        id=item_id,
        geometry=geometry,
        bbox=bbox,
        datetime=dt.datetime.now(dt.UTC),
        properties={
            **dict(properties),
            "satlearn:detections": len(detections),
            "satlearn:classes": {str(k): str(v) for k, v in sorted(detections.classes.items())},
        },
    )
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    epsg = source.crs.to_epsg()
    if epsg is not None:
        proj.code = f"EPSG:{epsg}"
    else:
        proj.code = None
        proj.wkt2 = source.crs.to_wkt()
    proj.shape = [source.height, source.width]
    proj.transform = [float(v) for v in list(source.transform)[:6]]
    south, west, north, east = array_bounds(source.height, source.width, source.transform)
    proj.bbox = [float(west), float(south), float(east), float(north)]
    for key, path, media, title in (
        ("detections", parquet, "application/vnd.apache.parquet", "Detected objects (boxes)"),
        ("detections_geojson", geojson, "application/geo+json", "Detected objects, WGS 84"),
    ):
        item.add_asset(key, pystac.Asset(href=path.name, media_type=media, roles=["data"],
                                         title=title))  # fmt: skip
    path = save_item(item, folder)
    return {"detections": parquet, "detections_geojson": geojson, "item": path}


def predict_detections(
    bundle: Any,
    runner: Any,
    source: Source,
    plan: TilePlan,
    *,
    fill: np.ndarray,
    batch_size: int,
    out: Path | None,
    resume: bool,
    advance: Callable[[tuple[int, int], tuple[int, int]], None],
) -> Detections | Path:
    """An object-detection bundle over the scene: :class:`Detections`, or files in ``out``."""
    output = runner.output
    stride = int(output.get("stride", 4))
    threshold = float(output.get("score_threshold", 0.3))
    max_per_tile = int(output.get("max_detections", 100))
    n = int(output.get("classes") or len(bundle.classes) or 1)
    classes = dict(bundle.classes) or {i: str(i) for i in range(n)}
    options = dict(fill=fill, classes=classes, stride=stride, threshold=threshold,
                   max_per_tile=max_per_tile, batch_size=batch_size, on_unit=advance)  # fmt: skip
    if out is None:
        return detect_scene(source, runner, plan, **options)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    settings = {
        "bundle": bundle.metadata.get("sha256") or str(bundle.path),
        "scene": source.fingerprint,
        "task": bundle.task,
        "tile_size": plan.tile,
        "overlap": plan.overlap,
        "batch_size": batch_size,
        "threshold": threshold,
        "max_per_tile": max_per_tile,
        "group_width": _GROUP_WIDTH,
    }
    journal = BoxJournal(folder, settings, resume=resume)
    try:
        detections = detect_scene(source, runner, plan, journal=journal, **options)
        write_detections(
            detections,
            source,
            folder,
            item_id=f"detections-{Path(source.name).stem}",
            properties={
                "satlearn:model": bundle.metadata.get("name") or bundle.path.name,
                "satlearn:task": bundle.task,
                "satlearn:tile_size": plan.tile,
                "satlearn:overlap": plan.overlap,
                "satlearn:score_threshold": threshold,
                "satlearn:nms_iou": NMS_IOU,
                "satlearn:execution_providers": runner.providers,
            },
        )
    except BaseException:
        journal.close()
        raise
    journal.remove()
    return folder
