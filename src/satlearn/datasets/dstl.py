"""DSTL Satellite Imagery Feature Detection (Kaggle, 2017): WorldView-3 scenes and 10 classes.

Published layout (the competition's data page)::

    ROOT/
      train_wkt_v4.csv       ImageId,ClassType,MultipolygonWKT   (ClassType 1..10)
      grid_sizes.csv         ,Xmax,Ymin                          (first column: ImageId, unnamed)
      three_band/<ImageId>.tif               3 x H x W uint16 (RGB, ~3350 x 3400)
      sixteen_band/<ImageId>_M.tif           8 x ~837 x ~848 (WorldView-3 multispectral)
      sixteen_band/<ImageId>_A.tif           8 x ~134 x ~136 (SWIR)
      sixteen_band/<ImageId>_P.tif           1 x ~3350 x ~3400 (panchromatic)

The polygons are in the competition's normalised coordinates: each image's
x runs over ``[0, Xmax]`` and y over ``[Ymin, 0]`` (``Ymin`` is negative),
whatever the product's pixel size. The competition's data-processing tutorial
(https://www.kaggle.com/c/dstl-satellite-imagery-feature-detection/details/data-processing-tutorial,
the formula every public kernel reproduces, e.g. visoft's "export pixel-wise
mask") maps them onto an image of ``W`` columns and ``H`` rows by::

    W' = W * W / (W + 1)        H' = H * H / (H + 1)
    x' = x / Xmax * W'          y' = y / Ymin * H'

so one WKT serves all four products, each scaled with its own ``W``, ``H``.
``x = Xmax`` lands on ``W' = W - 1 + 1/(W + 1)``, i.e. on the centre of the
last column: the pixel coordinates ``(x', y')`` place pixel centres on
integers. A pixel is labelled when its centre lies inside a polygon (GDAL's
rule, the same as the kernels' ``cv2.fillPoly`` on rounded vertices up to the
polygon's boundary pixels).

The ten classes overlap (a vehicle stands on a road, a track runs through
crops; the competition scored each class's Jaccard index separately), so a
sample's ``mask`` is ``(10, H, W)`` uint8, one binary layer per class, rather
than a class-id map that would have to drop labels where classes overlap.
"""

from __future__ import annotations

import csv
import os
import sys
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import rasterio
import shapely
import shapely.errors
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

from satlearn.datasets.base import Sample, SampleDataset, Transform, csv_errors, register
from satlearn.errors import DatasetError
from satlearn.prep.labels import rasterize_features

__all__ = ["DSTL_CLASSES", "Dstl", "dstl_to_pixels"]

DSTL_CLASSES = (
    "buildings",
    "misc_manmade_structures",
    "road",
    "track",
    "trees",
    "crops",
    "waterway",
    "standing_water",
    "vehicle_large",
    "vehicle_small",
)

_WKT_NAME = "train_wkt_v4.csv"
_GRID_NAME = "grid_sizes.csv"
_WKT_HEADER = ["ImageId", "ClassType", "MultipolygonWKT"]
_GRID_HEADER = ["", "Xmax", "Ymin"]

#: product -> (file relative to the root, band common names)
_PRODUCTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "three_band": ("three_band/{}.tif", ("red", "green", "blue")),
    "M": (
        "sixteen_band/{}_M.tif",
        ("coastal", "blue", "green", "yellow", "red", "rededge", "nir", "nir09"),
    ),
    "A": ("sixteen_band/{}_A.tif", tuple(f"swir{i}" for i in range(1, 9))),
    "P": ("sixteen_band/{}_P.tif", ("pan",)),
}

# A pixel (col, row) covers [col - 0.5, col + 0.5): centres sit on integers (see above).
_PIXEL_CENTRES_ON_INTEGERS = Affine.translation(-0.5, -0.5)


def dstl_to_pixels(
    geometry: shapely.Geometry, xmax: float, ymin: float, shape: tuple[int, int]
) -> shapely.Geometry:
    """Scale a geometry from DSTL's normalised coordinates to an image's pixels.

    Parameters
    ----------
    geometry : shapely.Geometry
        Geometry in the competition's coordinates (x in ``[0, Xmax]``, y in
        ``[Ymin, 0]``).
    xmax, ymin : float
        The image's row of ``grid_sizes.csv``.
    shape : tuple of int
        ``(H, W)`` of the product the mask is for.

    Returns
    -------
    shapely.Geometry
        The geometry in pixel coordinates (x = column, y = row, both growing
        from the top-left pixel's centre at ``(0, 0)``).

    Examples
    --------
    >>> g = dstl_to_pixels(shapely.Point(0.009, -0.009), 0.009, -0.009, (100, 200))
    >>> round(g.x, 4), round(g.y, 4)
    (199.005, 99.0099)
    """
    height, width = shape
    sx = width * width / (width + 1) / xmax
    sy = height * height / (height + 1) / ymin
    return shapely.transform(geometry, lambda xy: xy * np.array([sx, sy]))


def _read_header(reader: Any, path: Path, expected: list[str]) -> None:
    header = next(reader, None)
    cleaned = None if header is None else [h.strip().lstrip("\ufeff") for h in header]
    if cleaned != expected:
        raise DatasetError(f"{path}: header is {header!r}, expected {','.join(expected)}")


@register
class Dstl(SampleDataset):
    """DSTL Satellite Imagery Feature Detection: WorldView-3 scenes with 10 overlapping classes.

    Parameters
    ----------
    root : path
        Folder holding ``train_wkt_v4.csv``, ``grid_sizes.csv`` and
        ``three_band/`` and/or ``sixteen_band/``, as unzipped from Kaggle.
    split : {"train", "test"}, optional
        ``"train"`` (default): the 25 labelled images of ``train_wkt_v4.csv``;
        ``"test"``: the other images of ``grid_sizes.csv`` whose file is
        present, yielded without masks.
    product : {"three_band", "M", "A", "P"}
        Which image to read; the mask is drawn on that image's own grid.
    transforms : callable, optional
        Applied to each sample dict.

    Samples hold ``image`` ``(band, H, W)`` in the file's dtype (uint16),
    ``mask`` ``(10, H, W)`` uint8 (layer ``k`` is class ``k + 1`` of the
    CSV; classes overlap, see the module docstring) and ``meta`` (image id,
    file, product, ``xmax``, ``ymin``). An image listed in the CSV whose file
    is missing is skipped and recorded in ``skipped``.

    Examples
    --------
    >>> ds = Dstl("dstl", product="M")  # doctest: +SKIP
    >>> ds[0]["mask"].shape  # doctest: +SKIP
    (10, 837, 848)
    """

    name: ClassVar[str] = "dstl"
    task: ClassVar[str] = "segmentation"
    source: ClassVar[str] = (
        "Dstl Satellite Imagery Feature Detection, Kaggle 2017 "
        "(https://www.kaggle.com/c/dstl-satellite-imagery-feature-detection); "
        "WorldView-3 imagery, competition data licence"
    )
    manual_download: ClassVar[str] = (
        "Kaggle login required: `kaggle competitions download -c "
        "dstl-satellite-imagery-feature-detection`, then unzip train_wkt_v4.csv.zip, "
        "grid_sizes.csv.zip, three_band.zip and/or sixteen_band.zip so ROOT holds "
        f"{_WKT_NAME}, {_GRID_NAME}, three_band/ and sixteen_band/."
    )
    classes = DSTL_CLASSES

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str | None = None,
        product: str = "three_band",
        transforms: Transform | None = None,
    ) -> None:
        super().__init__(root, split=split or "train", transforms=transforms)
        if self.split not in ("train", "test"):
            raise DatasetError(f"{self.name}: unknown split {self.split!r}; use 'train' or 'test'")
        if product not in _PRODUCTS:
            raise DatasetError(
                f"{self.name}: unknown product {product!r}; use one of {', '.join(_PRODUCTS)}"
            )
        self.product = product
        self._pattern, self.bands = _PRODUCTS[product]
        self._grid = self._read_grid(self.root / _GRID_NAME)
        self._polygons = self._read_wkt(self.root / _WKT_NAME)
        if self.split == "train":
            candidates = list(self._polygons)
        else:
            candidates = [i for i in self._grid if i not in self._polygons]
        self._ids = []
        for image_id in candidates:
            path = self.root / self._pattern.format(image_id)
            if path.is_file():
                self._ids.append(image_id)
            else:
                self.skipped.append((str(path), "image file missing"))
        if not self._ids:
            raise DatasetError(
                f"{self.name}: no {self.split} images found under {self.root} "
                f"(looked for {self._pattern.format('<ImageId>')})"
            )

    def _read_grid(self, path: Path) -> dict[str, tuple[float, float]]:
        if not path.is_file():
            raise DatasetError(f"{self.name}: {path} not found (expected {_GRID_NAME})")
        grid: dict[str, tuple[float, float]] = {}
        with path.open(newline="", encoding="utf-8") as fh, csv_errors(path):
            reader = csv.reader(fh)
            _read_header(reader, path, _GRID_HEADER)
            for line, row in enumerate(reader, start=2):
                try:
                    image_id, xmax, ymin = row[0].strip(), float(row[1]), float(row[2])
                except (IndexError, ValueError):
                    raise DatasetError(
                        f"{path}, line {line}: expected ImageId,Xmax,Ymin, got {row!r}"
                    ) from None
                if not (xmax > 0 and ymin < 0):
                    raise DatasetError(
                        f"{path}, line {line}: {image_id} needs Xmax > 0 and Ymin < 0, "
                        f"got {xmax}, {ymin}"
                    )
                grid[image_id] = (xmax, ymin)
        return grid

    def _read_wkt(self, path: Path) -> dict[str, list[tuple[int, shapely.Geometry]]]:
        if not path.is_file():
            raise DatasetError(f"{self.name}: {path} not found (expected {_WKT_NAME})")
        polygons: dict[str, list[tuple[int, shapely.Geometry]]] = {}
        # The real file holds MultiPolygons of several MB in one field.
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        with path.open(newline="", encoding="utf-8") as fh, csv_errors(path):
            reader = csv.reader(fh)
            _read_header(reader, path, _WKT_HEADER)
            for line, row in enumerate(reader, start=2):
                where = f"{path}, line {line}"
                if len(row) != 3:
                    raise DatasetError(f"{where}: expected 3 columns, got {len(row)}")
                image_id = row[0].strip()
                try:
                    class_type = int(row[1])
                except ValueError:
                    raise DatasetError(f"{where}: ClassType {row[1]!r} is not an integer") from None
                if not 1 <= class_type <= len(DSTL_CLASSES):
                    raise DatasetError(f"{where}: ClassType {class_type} is not in 1..10")
                if image_id not in self._grid:
                    raise DatasetError(f"{where}: ImageId {image_id} is not in {_GRID_NAME}")
                try:
                    geometry = shapely.from_wkt(row[2])
                except shapely.errors.ShapelyError as err:
                    raise DatasetError(
                        f"{where} ({image_id}, class {class_type}): WKT does not parse ({err})"
                    ) from None
                if geometry is None or geometry.geom_type not in ("Polygon", "MultiPolygon"):
                    kind = "nothing" if geometry is None else geometry.geom_type
                    raise DatasetError(
                        f"{where} ({image_id}, class {class_type}): expected a MultiPolygon, "
                        f"got {kind}"
                    )
                entries = polygons.setdefault(image_id, [])
                if not geometry.is_empty:
                    entries.append((class_type, geometry))
        return polygons

    def __len__(self) -> int:
        return len(self._ids)

    def _load(self, index: int) -> Sample:
        image_id = self._ids[index]
        path = self.root / self._pattern.format(image_id)
        try:
            # The labels live on DSTL's normalised grid, not the file's georeferencing,
            # so a TIFF without one is fine here.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                with rasterio.open(path) as src:
                    image = src.read()
        except RasterioIOError as err:
            raise DatasetError(f"{self.name}: {path} is not a readable GeoTIFF ({err})") from err
        if image.shape[0] != len(self.bands):
            raise DatasetError(
                f"{self.name}: {path} has {image.shape[0]} bands, expected {len(self.bands)} "
                f"for product {self.product}"
            )
        xmax, ymin = self._grid[image_id]
        height, width = image.shape[1:]
        sample: dict[str, Any] = {
            "image": image,
            "meta": {
                "id": image_id,
                "file": str(path),
                "product": self.product,
                "xmax": xmax,
                "ymin": ymin,
            },
        }
        if self.split == "test":
            return sample
        mask = np.zeros((len(DSTL_CLASSES), height, width), dtype=np.uint8)
        for class_type, geometry in self._polygons[image_id]:
            pixels = dstl_to_pixels(geometry, xmax, ymin, (height, width))
            # Polygons of one class do not need a burn order: they all burn 1.
            mask[class_type - 1] |= rasterize_features(
                [pixels],
                transform=_PIXEL_CENTRES_ON_INTEGERS,
                shape=(height, width),
                dtype=np.uint8,
            )
        sample["mask"] = mask
        return sample

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["product"] = self.product
        if self.split == "train":
            counts = np.zeros(len(DSTL_CLASSES), dtype=int)
            for image_id in self._ids:
                for class_type, geometry in self._polygons[image_id]:
                    counts[class_type - 1] += shapely.get_num_geometries(geometry)
            info["polygons_per_class"] = dict(zip(DSTL_CLASSES, counts.tolist(), strict=True))
        return info
