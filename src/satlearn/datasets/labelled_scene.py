"""Any raster plus vector labels with a class attribute, as a segmentation dataset.

The everyday case of a practitioner: one scene (GeoTIFF, COG, any format GDAL
reads) and polygons drawn over it in GeoJSON, GeoPackage or a shapefile, with
a class attribute. :class:`LabelledScene` reads the labels in the raster's
CRS (reprojecting them when they are in another one), maps class values to
ids and yields the whole scene, or a grid of chips, with masks burned on the
raster's own pixel grid by :func:`satlearn.prep.labels.rasterize_features`.

Labels that do not overlap the raster at all are an error naming both files
and both CRSs: that is what labels in an undeclared or wrong CRS look like,
and burning them would give an empty mask, a silent wrong label.

Example
-------
>>> ds = LabelledScene("scene.tif", "fields.gpkg", attribute="crop",
...                    chip_size=256)  # doctest: +SKIP
>>> ds.classes  # doctest: +SKIP
('background', 'maize', 'wheat')
>>> ds[0]["mask"].shape  # doctest: +SKIP
(256, 256)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyogrio
import rasterio
import rasterio.windows
import shapely
from affine import Affine
from rasterio._err import CPLE_BaseError  # rasterio exports no public base for GDAL errors
from rasterio.crs import CRS
from rasterio.errors import RasterioIOError

from satlearn.datasets.base import Sample, SampleDataset, Transform, register
from satlearn.errors import DatasetError
from satlearn.prep.labels import rasterize_features, read_vector_labels

__all__ = ["LabelledScene"]

Feature = dict[str, Any]


class LabelGrid:
    """What the readers need of a raster: its path, grid, CRS and band names."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise DatasetError(f"raster {path} not found")
        try:
            with rasterio.open(path) as src:
                self.transform: Affine = src.transform
                self.crs: CRS | None = src.crs
                self.height, self.width = src.height, src.width
                self.count = src.count
                self.descriptions = src.descriptions
        except RasterioIOError as err:
            raise DatasetError(f"{path}: not a raster GDAL can read ({err})") from err
        self.path = path
        if self.crs is None:
            raise DatasetError(
                f"{path} has no CRS: vector labels cannot be placed on it without guessing"
            )
        if self.transform.b or self.transform.d:
            raise DatasetError(f"{path}: rotated rasters are not supported")

    @property
    def footprint(self) -> shapely.Polygon:
        window = rasterio.windows.Window(0, 0, self.width, self.height)
        return shapely.box(*rasterio.windows.bounds(window, self.transform))

    def read(self, window: rasterio.windows.Window | None = None) -> np.ndarray:
        try:
            with rasterio.open(self.path) as src:
                return src.read(window=window)
        except RasterioIOError as err:
            raise DatasetError(f"{self.path}: read failed ({err})") from err


def _labels_crs(path: Path) -> str:
    """The CRS a vector file declares, as text for messages."""
    try:
        crs = pyogrio.read_info(path).get("crs")
    except pyogrio.errors.DataSourceError:  # read_vector_labels has already named the problem
        crs = None
    return str(crs) if crs else "undeclared"


def read_scene_labels(
    grid: LabelGrid, labels_path: Path, attribute: str | None
) -> tuple[list[Feature], np.ndarray]:
    """Features reprojected to the raster's CRS and their shapely geometries.

    Raises when there are features and none touches the raster.
    """
    try:
        features = read_vector_labels(labels_path, attribute=attribute, crs=grid.crs)
    except DatasetError as err:
        if not isinstance(err.__cause__, CPLE_BaseError):
            raise
        # PROJ refused the labels' coordinates: name the raster too.
        raise DatasetError(
            f"labels {labels_path} (CRS {_labels_crs(labels_path)}) cannot be reprojected to "
            f"raster {grid.path} (CRS {grid.crs}): {err.__cause__}; labels in the wrong or an "
            "undeclared CRS?"
        ) from err
    geometries = np.array(
        [shapely.geometry.shape(f["geometry"]) if f.get("geometry") else None for f in features],
        dtype=object,
    )
    present = ~shapely.is_missing(geometries)
    if present.any():
        present &= ~shapely.is_empty(geometries)
    if present.any() and not shapely.intersects(geometries[present], grid.footprint).any():
        raise DatasetError(
            f"labels {labels_path} (CRS {_labels_crs(labels_path)}) do not overlap raster "
            f"{grid.path} (CRS {grid.crs}) anywhere: labels in the wrong or an undeclared CRS?"
        )
    return features, geometries


def _chip_windows(height: int, width: int, size: int | None) -> list[tuple[int, int, int, int]]:
    """``(row, col, height, width)`` windows tiling the scene; the last ones end on its edge."""
    if size is None:
        return [(0, 0, height, width)]
    if size < 1:
        raise DatasetError(f"chip_size must be a positive number of pixels, got {size}")
    if size > min(height, width):
        raise DatasetError(f"chip_size {size} is larger than the {height}x{width} scene")

    def starts(extent: int) -> list[int]:
        # Full-size chips only: the last one is pulled back to end on the edge (it
        # overlaps its neighbour) rather than padded with pixels that do not exist.
        out = list(range(0, extent - size + 1, size))
        if out[-1] + size < extent:
            out.append(extent - size)
        return out

    return [(r, c, size, size) for r in starts(height) for c in starts(width)]


@register
class LabelledScene(SampleDataset):
    """A raster and a vector label file with a class attribute, as a segmentation dataset.

    Parameters
    ----------
    raster_path : path
        The scene (anything GDAL reads, with a CRS).
    labels_path : path
        GeoJSON, GeoPackage, shapefile or another vector format GDAL reads, in
        any CRS (reprojected to the raster's).
    attribute : str or None
        The class attribute every feature must carry. ``None``: every feature
        is class 1 (``classes`` is then ``("background", "object")``).
    classes : sequence or mapping, optional
        Class values in id order (ids ``1..n``; 0 is background), or a mapping
        ``value -> id``. Default: the sorted distinct values found. A feature
        whose value is not listed is an error naming it.
    chip_size : int, optional
        Yield square chips of this size on a regular grid (the last row and
        column end on the scene's edge) instead of the whole scene.
    transforms : callable, optional
        Applied to each sample dict.

    Samples hold ``image`` ``(band, y, x)`` in the raster's dtype, ``mask``
    ``(y, x)`` class ids (uint8, or wider when ids need it) where overlapping
    polygons are burned largest first so smaller ones stay visible, and
    ``meta`` with the chip's ``transform`` (6 floats), ``crs`` (WKT),
    ``window`` ``(row, col, height, width)`` and both file names.

    Examples
    --------
    >>> ds = LabelledScene("scene.tif", "labels.geojson", attribute="class")  # doctest: +SKIP
    >>> ds[0]["mask"].max() <= len(ds.classes) - 1  # doctest: +SKIP
    True
    """

    name: ClassVar[str] = "labelled-scene"
    task: ClassVar[str] = "segmentation"
    source: ClassVar[str] = "Your own raster and vector labels (GeoJSON, GeoPackage, shapefile)"

    def __init__(
        self,
        raster_path: str | os.PathLike[str],
        labels_path: str | os.PathLike[str],
        *,
        attribute: str | None = "class",
        classes: Sequence[Any] | Mapping[Any, int] | None = None,
        chip_size: int | None = None,
        transforms: Transform | None = None,
    ) -> None:
        raster = Path(os.fspath(raster_path))
        super().__init__(raster.parent, transforms=transforms)
        self.labels_path = Path(os.fspath(labels_path))
        self._grid = LabelGrid(raster)
        self.raster_path = raster
        self.attribute = attribute
        self.bands = tuple(d or f"b{i}" for i, d in enumerate(self._grid.descriptions, start=1))
        self._features, geometries = read_scene_labels(self._grid, self.labels_path, attribute)
        self._class_map = self._class_ids(classes)
        keep = ~shapely.is_missing(geometries)
        self._index = np.flatnonzero(keep)
        self._tree = shapely.STRtree(geometries[keep])
        self._windows = _chip_windows(self._grid.height, self._grid.width, chip_size)
        self.chip_size = chip_size

    def _class_ids(self, classes: Sequence[Any] | Mapping[Any, int] | None) -> dict[Any, int]:
        if self.attribute is None:
            self.classes = ("background", "object")
            return {}
        if isinstance(classes, Mapping):
            mapping = {value: int(i) for value, i in classes.items()}
            if any(i < 1 for i in mapping.values()):
                raise DatasetError(f"{self.name}: class ids must be >= 1 (0 is background)")
            names = ["background"] + [""] * max(mapping.values())
            for value, i in mapping.items():
                names[i] = str(value)
            self.classes = tuple(names)
        else:
            if classes is None:
                found = {f["properties"][self.attribute] for f in self._features}
                classes = sorted(found, key=lambda v: (isinstance(v, str), v))
            mapping = {value: i for i, value in enumerate(classes, start=1)}
            self.classes = ("background", *map(str, classes))
        for row, feature in enumerate(self._features):
            value = feature["properties"][self.attribute]
            if value not in mapping:
                raise DatasetError(
                    f"{self.labels_path}: feature {row} has {self.attribute}={value!r}, not one "
                    f"of the classes {list(mapping)}"
                )
        return mapping

    def __len__(self) -> int:
        return len(self._windows)

    def _load(self, index: int) -> Sample:
        row, col, height, width = self._windows[index]
        window = rasterio.windows.Window(col, row, width, height)
        transform = rasterio.windows.transform(window, self._grid.transform)
        box = shapely.box(*rasterio.windows.bounds(window, self._grid.transform))
        hits = self._index[np.sort(self._tree.query(box))]  # file order, for a stable burn
        features = [self._features[i] for i in hits]
        mask = rasterize_features(
            features,
            transform=transform,
            shape=(height, width),
            attribute=self.attribute,
            class_map=self._class_map or None,
            dtype=np.uint8 if len(self.classes) <= 256 else np.uint16,
        )
        return {
            "image": self._grid.read(window),
            "mask": mask,
            "meta": {
                "file": str(self.raster_path),
                "labels": str(self.labels_path),
                "window": (row, col, height, width),
                "transform": tuple(transform)[:6],
                "crs": self._grid.crs.to_wkt() if self._grid.crs else None,
            },
        }

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(
            raster=str(self.raster_path),
            labels=str(self.labels_path),
            features=len(self._features),
            chip_size=self.chip_size,
        )
        return info
