"""SpaceNet building footprints: AOI GeoTIFF tiles with GeoJSON labels, and SpaceNet's F1 score.

Published layouts (the SpaceNet AWS buckets, ``s3://spacenet-dataset``)::

    SpaceNet 2 (AOI_2_Vegas_Train/, AOI_3_Paris_Train/, ...):
      RGB-PanSharpen/RGB-PanSharpen_AOI_2_Vegas_img1.tif      (also MUL-PanSharpen, MUL, PAN)
      geojson/buildings/buildings_AOI_2_Vegas_img1.geojson    lon/lat
    SpaceNet 6 (train/AOI_11_Rotterdam/):
      PS-RGB/SN6_Train_AOI_11_Rotterdam_PS-RGB_<date>_tile_3721.tif   (also PS-RGBNIR, PS-MS, PAN,
                                                                       SAR-Intensity)
      geojson_buildings/SN6_Train_AOI_11_Rotterdam_Buildings_<date>_tile_3721.geojson

A tile's labels are found by removing the product from the image name and
``buildings`` from the label name. Labels are reprojected to the raster's CRS
(SpaceNet 2 rasters are in lon/lat, SpaceNet 6 in UTM). Other layouts, e.g.
the solaris test files, are read with ``pairs=[(image, labels), ...]``.

:func:`spacenet_f1` is the challenges' object score: predictions are taken
in the given order and each is matched to the not yet matched truth polygon
of highest IoU, a true positive when that IoU exceeds the threshold (the
matched truth polygon then leaves the pool), as solaris'
``Evaluator.eval_iou`` does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import shapely

from satlearn.datasets.base import Sample, SampleDataset, Transform, register
from satlearn.datasets.labelled_scene import LabelGrid, read_scene_labels
from satlearn.errors import DatasetError, InvalidInputError
from satlearn.prep.labels import rasterize_features

__all__ = ["SpaceNetBuildings", "spacenet_f1"]

_WV3_MS = ("coastal", "blue", "green", "yellow", "red", "rededge", "nir", "nir09")
#: product folder -> band common names (SpaceNet 2 MUL is 8-band WorldView-3; SpaceNet 6 PS-MS
#: is 4-band Blue, Green, Red, NIR; SAR-Intensity is Capella's HH, HV, VH, VV).
PRODUCTS: dict[str, tuple[str, ...]] = {
    "PS-RGB": ("red", "green", "blue"),
    "RGB-PanSharpen": ("red", "green", "blue"),
    "PS-RGBNIR": ("red", "green", "blue", "nir"),
    "PS-MS": ("blue", "green", "red", "nir"),
    "MUL-PanSharpen": _WV3_MS,
    "MUL": _WV3_MS,
    "PAN": ("pan",),
    "SAR-Intensity": ("hh", "hv", "vh", "vv"),
}
_LABEL_DIRS = ("geojson/buildings", "geojson_buildings")


def _geometries(features: Any) -> list[shapely.Geometry]:
    """Shapely geometries of Feature dicts, a FeatureCollection, GeoJSON or shapely geometries."""
    if isinstance(features, Mapping):
        features = features.get("features", [features])
    out = []
    for i, item in enumerate(features):
        if isinstance(item, shapely.Geometry):
            geometry = item
        elif isinstance(item, Mapping):
            mapping = item.get("geometry") if item.get("type") == "Feature" else item
            geometry = shapely.geometry.shape(mapping) if mapping else shapely.Polygon()
        else:
            raise InvalidInputError(f"feature {i} is not a GeoJSON Feature or a geometry")
        out.append(geometry)
    # Hand-drawn and vectorised footprints are often self-intersecting; IoU of an
    # invalid polygon is undefined (GEOS raises), so repair first.
    return list(shapely.make_valid(np.array(out, dtype=object)))


def spacenet_f1(
    pred_features: Any, truth_features: Any, iou_threshold: float = 0.5
) -> tuple[float, float, float]:
    """SpaceNet's building score: precision, recall and F1 of one-to-one IoU matches.

    Parameters
    ----------
    pred_features, truth_features : sequence or FeatureCollection
        Polygons as GeoJSON Feature dicts, geometry mappings or shapely
        geometries, both in the same CRS. Predictions are matched in the
        order given (sort them by confidence first if you have one).
    iou_threshold : float
        A prediction is a true positive when its best IoU with a still
        unmatched truth polygon is above this (SpaceNet uses 0.5).

    Returns
    -------
    tuple of float
        ``(precision, recall, f1)``; each is 0 when undefined (no predictions,
        no truth).

    Examples
    --------
    >>> truth = [shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10)]
    >>> pred = [shapely.box(1, 0, 11, 10), shapely.box(50, 50, 60, 60)]
    >>> spacenet_f1(pred, truth)
    (0.5, 0.5, 0.5)
    """
    if not 0 <= iou_threshold < 1:
        raise InvalidInputError(f"iou_threshold must be in [0, 1), got {iou_threshold}")
    preds = _geometries(pred_features)
    truth = np.array(_geometries(truth_features), dtype=object)
    truth_area = shapely.area(truth)
    tree = shapely.STRtree(truth)
    unmatched = np.ones(len(truth), dtype=bool)
    tp = 0
    for pred in preds:  # greedy and order-dependent by definition: one step per prediction
        if shapely.is_empty(pred) or pred.area == 0:
            continue
        candidates = tree.query(pred, predicate="intersects")
        candidates = candidates[unmatched[candidates]]
        if candidates.size == 0:
            continue
        inter = shapely.area(shapely.intersection(truth[candidates], pred))
        iou = inter / (truth_area[candidates] + pred.area - inter)
        best = int(np.argmax(iou))
        if iou[best] > iou_threshold:
            tp += 1
            unmatched[candidates[best]] = False
    fp = len(preds) - tp
    fn = int(unmatched.sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision * recall else 0.0
    return precision, recall, f1


def _tile_key(stem: str, token: str) -> str:
    """A tile's name with ``token`` (the product, or ``buildings``) removed."""
    return re.sub(rf"(^|_){re.escape(token)}(_|$)", r"\1", stem, flags=re.IGNORECASE).strip("_")


@register
class SpaceNetBuildings(SampleDataset):
    """SpaceNet building footprints as masks and instances in each tile's own CRS.

    Parameters
    ----------
    root : path
        A SpaceNet 2 AOI folder (``AOI_2_Vegas_Train``) or a SpaceNet 6 AOI
        folder (``train/AOI_11_Rotterdam``), as synced from the bucket; or,
        with ``pairs``, the folder the pairs are relative to.
    product : str, optional
        The imagery folder to read (``PS-RGB``, ``RGB-PanSharpen``,
        ``PS-MS``, ``MUL``, ``PAN``, ...). Default: the first of those present.
    pairs : sequence of (image, labels), optional
        Explicit image / GeoJSON pairs (relative to ``root``) for other layouts.
    transforms : callable, optional
        Applied to each sample dict.

    Samples hold ``image`` ``(band, y, x)`` in the file's dtype, ``mask``
    ``(y, x)`` uint8 (1 = building), ``instances`` ``(y, x)`` int32 building
    ids ``1..n`` (burned largest first, so a small building on a large one
    stays visible), ``boxes`` ``(n, 4)`` float32 ``x0, y0, x1, y1`` pixel
    boxes clipped to the tile, and ``meta`` (files, ``crs`` WKT,
    ``transform``). Building ``k`` is the ``k``-th label polygon touching the
    tile. A tile without a label file is skipped and recorded in ``skipped``.

    Examples
    --------
    >>> ds = SpaceNetBuildings("AOI_2_Vegas_Train", product="RGB-PanSharpen")  # doctest: +SKIP
    >>> ds[0]["instances"].max() == len(ds[0]["boxes"])  # doctest: +SKIP
    True
    """

    name: ClassVar[str] = "spacenet-buildings"
    task: ClassVar[str] = "detection"
    source: ClassVar[str] = (
        "SpaceNet 2 / 6 building footprints (https://spacenet.ai), Maxar WorldView imagery, "
        "CC BY-SA 4.0"
    )
    manual_download: ClassVar[str] = (
        "Public, no login, from AWS (requester-free): e.g. `aws s3 cp --no-sign-request "
        "s3://spacenet-dataset/spacenet/SN2_buildings/tarballs/"
        "SN2_buildings_train_AOI_2_Vegas.tar.gz .` then untar; ROOT is the AOI folder "
        "holding the imagery folders and geojson/buildings (SN6: geojson_buildings)."
    )
    classes = ("background", "building")

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        product: str | None = None,
        pairs: Sequence[tuple[str | os.PathLike[str], str | os.PathLike[str]]] | None = None,
        split: str | None = None,
        transforms: Transform | None = None,
    ) -> None:
        super().__init__(root, split=split, transforms=transforms)
        if pairs is not None:
            self.product = product
            self._pairs = [(self.root / image, self.root / labels) for image, labels in pairs]
        else:
            self.product = product or next((p for p in PRODUCTS if (self.root / p).is_dir()), None)
            if self.product is None:
                raise DatasetError(
                    f"{self.name}: no imagery folder ({', '.join(PRODUCTS)}) in {self.root}"
                )
            self._pairs = self._find_pairs()
        if not self._pairs:
            raise DatasetError(f"{self.name}: no image with building labels in {self.root}")
        self.bands = PRODUCTS.get(self.product or "", ())
        if not self.bands:
            self.bands = tuple(
                d or f"b{i}" for i, d in enumerate(LabelGrid(self._pairs[0][0]).descriptions, 1)
            )

    def _find_pairs(self) -> list[tuple[Path, Path]]:
        folder = self.root / str(self.product)
        if not folder.is_dir():
            raise DatasetError(f"{self.name}: product folder {folder} not found")
        labels: dict[str, Path] = {}
        for sub in _LABEL_DIRS:
            for path in (self.root / sub).glob("*.geojson"):
                labels[_tile_key(path.stem, "buildings")] = path
        pairs = []
        for image in sorted(folder.glob("*.tif")):
            key = _tile_key(image.stem, str(self.product))
            if key in labels:
                pairs.append((image, labels[key]))
            else:
                self.skipped.append((str(image), "no building labels for this tile"))
        return pairs

    def __len__(self) -> int:
        return len(self._pairs)

    def _load(self, index: int) -> Sample:
        image_path, labels_path = self._pairs[index]
        grid = LabelGrid(image_path)
        features, geometries = read_scene_labels(grid, labels_path, None)
        present = ~shapely.is_missing(geometries)
        present[present] = shapely.intersects(geometries[present], grid.footprint)
        kept = [features[i] for i in np.flatnonzero(present)]
        shape = (grid.height, grid.width)
        instances = rasterize_features(
            kept, transform=grid.transform, shape=shape, instances=True, dtype=np.int32
        )
        return {
            "image": grid.read(),
            "mask": (instances > 0).astype(np.uint8),
            "instances": instances,
            "boxes": self._boxes(geometries[present], grid),
            "meta": {
                "file": str(image_path),
                "labels": str(labels_path),
                "product": self.product,
                "crs": grid.crs.to_wkt() if grid.crs else None,
                "transform": tuple(grid.transform)[:6],
            },
        }

    @staticmethod
    def _boxes(geometries: np.ndarray, grid: LabelGrid) -> np.ndarray:
        """Pixel boxes of geometries on a north-up grid, clipped to the tile."""
        if geometries.size == 0:
            return np.zeros((0, 4), dtype=np.float32)
        bounds = shapely.bounds(geometries)  # minx, miny, maxx, maxy
        t = grid.transform
        cols = (bounds[:, [0, 2]] - t.c) / t.a
        rows = (bounds[:, [3, 1]] - t.f) / t.e
        cols.sort(axis=1)
        rows.sort(axis=1)
        boxes = np.stack([cols[:, 0], rows[:, 0], cols[:, 1], rows[:, 1]], axis=1)
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, grid.width)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, grid.height)
        return boxes.astype(np.float32)

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["product"] = self.product
        return info
