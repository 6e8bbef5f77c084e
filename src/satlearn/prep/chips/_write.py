"""Chip sets on disk: GeoTIFF chips of a scene and its labels, a CSV index, ``chipset.json``.

Resumable: chips already on disk are counted, not rewritten. Splits are
assigned by spatial blocks of chips (:mod:`._split`) so neighbouring chips
stay in the same split.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
import xarray as xr
from affine import Affine
from rasterio.io import MemoryFile
from rasterio.windows import Window

from satlearn.atomic import atomic_output, write_json
from satlearn.errors import CRSMismatchError, InvalidInputError
from satlearn.prep.chips._grid import as_raster, check_size, cut_chip, fill_value, offsets
from satlearn.prep.chips._split import block_splits
from satlearn.prep.labels import burn_values, rasterize_features, read_vector_labels

#: Suffixes read as vector labels by :func:`write_chip_set` (anything else is a raster).
VECTOR_SUFFIXES = frozenset({".geojson", ".json", ".gpkg", ".shp", ".fgb", ".gml", ".kml"})


@dataclass
class ChipSetSummary:
    """What :func:`write_chip_set` did."""

    out_dir: str
    index: str
    written: int = 0
    resumed: int = 0
    skipped_nodata: int = 0
    skipped_empty: int = 0
    splits: dict[str, int] = field(default_factory=dict)
    class_pixels: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        splits = ", ".join(f"{k} {v}" for k, v in self.splits.items())
        return (
            f"{self.written + self.resumed} chips ({splits}) in {self.out_dir}: "
            f"{self.written} written, {self.resumed} already there, "
            f"{self.skipped_nodata} skipped as nodata, {self.skipped_empty} as unlabelled"
        )


def _open_scene(scene: Any) -> tuple[xr.DataArray, str]:
    if isinstance(scene, xr.DataArray):
        return as_raster(scene, None, None, "scene"), str(scene.attrs.get("source", "scene"))
    from satlearn.raster import open_raster

    # Lazy: each chip reads its own window, never the whole scene.
    return open_raster(scene, chunks={"band": -1, "y": 1024, "x": 1024}), os.fspath(scene)


def _label_source(
    labels: Any,
    scene: xr.DataArray,
    scene_name: str,
    attribute: str | None,
    class_map: Mapping[Any, int] | None,
) -> tuple[Any, dict[int, str], str]:
    """The labels as a (y, x) DataArray on the scene grid, or vector features.

    Returns (source, class names, label name); vector sources come back as
    (features, values, STRtree).
    """
    name = "labels"
    if isinstance(labels, str | os.PathLike):
        name = os.fspath(labels)
        if Path(name).suffix.lower() in VECTOR_SUFFIXES:
            labels = read_vector_labels(labels, attribute=attribute, like=scene)
        else:
            from satlearn.raster import open_raster

            labels = open_raster(labels, chunks={"band": 1, "y": 1024, "x": 1024})
    if isinstance(labels, xr.DataArray):
        if labels.ndim == 3:
            if labels.sizes[labels.dims[0]] != 1:
                raise InvalidInputError(f"{name}: a label raster must have one band")
            labels = labels[0]
        _check_same_grid(labels, scene, name, scene_name)
        return labels, {}, name
    features = list(labels)
    names: dict[int, str] = {}
    if attribute is not None and class_map is None:
        found = {(f.get("properties") or {}).get(attribute) for f in features}
        if any(isinstance(v, str) for v in found):
            # Class names: ids 1..K in sorted order, 0 stays background.
            class_map = {v: i for i, v in enumerate(sorted(map(str, found)), start=1)}
    if class_map is not None:
        names = {int(v): str(k) for k, v in class_map.items()}
    # Check every feature's class once, up front, not at the chip that meets it.
    burn_values(features, attribute, class_map, False)
    geometries = np.array(
        [shapely.geometry.shape(f["geometry"]) if f.get("geometry") else None for f in features],
        dtype=object,
    )
    return _VectorLabels(features, shapely.STRtree(geometries), attribute, class_map), names, name


@dataclass
class _VectorLabels:
    features: list[dict[str, Any]]
    tree: shapely.STRtree
    attribute: str | None
    class_map: Mapping[Any, int] | None


def _check_same_grid(labels: xr.DataArray, scene: xr.DataArray, name: str, scene_name: str) -> None:
    if labels.rio.crs != scene.rio.crs:
        raise CRSMismatchError(
            f"{name}: label raster CRS {labels.rio.crs} differs from {scene_name}'s "
            f"{scene.rio.crs}; reproject it onto the scene's grid first"
        )
    same_shape = (labels.sizes["y"], labels.sizes["x"]) == (scene.sizes["y"], scene.sizes["x"])
    if not same_shape or not labels.rio.transform().almost_equals(scene.rio.transform()):
        raise InvalidInputError(
            f"{name}: label raster grid ({labels.sizes['y']} x {labels.sizes['x']}, "
            f"{tuple(labels.rio.transform())[:6]}) is not {scene_name}'s "
            f"({scene.sizes['y']} x {scene.sizes['x']}, {tuple(scene.rio.transform())[:6]})"
        )


def _write_tif(
    path: Path,
    data: np.ndarray,
    transform: Affine,
    crs: Any,
    nodata: Any,
    names: list[str],
    tags: dict[str, str] | None = None,
) -> None:
    # A plain tiled GeoTIFF: a chip is a single tile, so a COG's overviews and
    # two-step write (save_cog) would only cost time.
    count, height, width = data.shape
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": data.dtype.name,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "compress": "deflate",
    }
    if height % 16 == 0 and width % 16 == 0:
        profile.update(tiled=True, blockxsize=width, blockysize=height)
    # Encoded in memory, then written by Python: GDAL ignores a failed write when
    # it closes a file (disk full left a 0-byte chip under its final name), while
    # Python raises it. A chip is small.
    with MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.write(data)
            for i, name in enumerate(names, start=1):
                dst.set_band_description(i, name)
            if tags:
                dst.update_tags(**tags)
        encoded = memory.read()
    with atomic_output(path) as tmp:
        tmp.write_bytes(encoded)


def crs_text(crs: Any) -> str:
    if crs is None:
        return ""
    authority = crs.to_authority()
    return f"{authority[0]}:{authority[1]}" if authority else crs.to_wkt()


def _valid_pixels(image: np.ndarray, nodata: Any, inside: np.ndarray) -> np.ndarray:
    """Pixels inside the scene where some band holds data."""
    bands = image.reshape(-1, *image.shape[-2:])
    if np.dtype(bands.dtype).kind == "f":
        empty = np.isnan(bands)
        if nodata is not None and not np.isnan(nodata):
            empty |= bands == nodata
    else:
        empty = bands == nodata if nodata is not None else np.zeros(bands.shape, dtype=bool)
    return inside & ~empty.all(axis=0)


def write_chip_set(
    scene: Any,
    labels: Any,
    out_dir: str | os.PathLike[str],
    *,
    size: int = 256,
    overlap: int = 32,
    split: Sequence[float] = (0.8, 0.1, 0.1),
    block: int = 4,
    seed: int = 0,
    attribute: str | None = None,
    class_map: Mapping[Any, int] | None = None,
    all_touched: bool = False,
    max_nodata: float = 0.5,
    skip_empty: bool = False,
    ignore_index: int = 255,
    class_names: Mapping[int, str] | Sequence[str] | None = None,
) -> ChipSetSummary:
    """Cut a scene and its labels into GeoTIFF chips with an index, resumably.

    Parameters
    ----------
    scene : str, path or DataArray
        The image (``(band, y, x)``); a path is read window by window.
    labels : str, path, DataArray or list of Features
        A label raster on the scene's grid (one band of class ids), or vector
        labels (``.geojson``, ``.gpkg``, ``.shp``...: reprojected to the
        scene's CRS and rasterized chip by chip), or GeoJSON Feature dicts in
        the scene's CRS.
    out_dir : str or path
        Receives ``images/ID.tif``, ``masks/ID.tif``, ``index.csv`` and
        ``chipset.json``.
    size, overlap : int
        Chip side and overlap in pixels (:func:`grid_chips`; edge chips are
        padded: nodata in the image, ``ignore_index`` in the mask).
    split : sequence of float
        Fractions of (train, val, test) *blocks*.
    block : int
        Side, in chips, of the square spatial blocks that are assigned to one
        split together (neighbouring chips share a split; only chips on block
        borders share ``overlap`` pixels with another split).
    seed : int
        Seed of the block assignment.
    attribute, class_map, all_touched :
        For vector labels, as in :func:`~satlearn.prep.labels.rasterize_features`.
        String class names without a ``class_map`` become ids 1..K in sorted
        order. Without ``attribute`` every polygon burns 1.
    max_nodata : float
        Chips with a larger fraction of nodata pixels (padding included) are
        skipped and counted.
    skip_empty : bool
        Also skip chips with no labelled pixel (all background).
    ignore_index : int
        Mask value of padded pixels and pixels outside the labels' raster;
        recorded as the mask's nodata.
    class_names : mapping or sequence, optional
        Class id -> name for ``chipset.json`` (default: the names of a
        ``class_map``, else the ids).

    Returns
    -------
    ChipSetSummary

    Raises
    ------
    InvalidInputError
        Bad size/overlap/split, a chip larger than the scene, a label raster
        off the scene's grid.
    CRSMismatchError
        A label raster in another CRS.
    DatasetError
        Vector labels unreadable, without ``attribute``, or outside the scene.

    Examples
    --------
    >>> summary = write_chip_set("scene.tif", "buildings.gpkg", "chips/",
    ...                          size=256, overlap=32, attribute="class")  # doctest: +SKIP
    >>> ChipDataset("chips/", split="train")[0]["mask"].shape  # doctest: +SKIP
    (256, 256)
    """
    image_da, scene_name = _open_scene(scene)
    if image_da.ndim != 3:
        raise InvalidInputError(f"{scene_name}: a chip set needs a (band, y, x) scene")
    height, width = image_da.sizes["y"], image_da.sizes["x"]
    check_size(size, overlap, height, width, scene_name)
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise InvalidInputError(f"block must be a positive int (chips per side), got {block!r}")
    if not 0 <= max_nodata <= 1:
        raise InvalidInputError(f"max_nodata must be a fraction in [0, 1], got {max_nodata!r}")
    source, names_found, label_name = _label_source(
        labels, image_da, scene_name, attribute, class_map
    )
    if class_names is not None:
        given = class_names if isinstance(class_names, Mapping) else dict(enumerate(class_names))
        class_names = {**names_found, **{int(k): str(v) for k, v in given.items()}}
    else:
        class_names = names_found
    rows = offsets(height, size, overlap, False)
    cols = offsets(width, size, overlap, False)
    cell_split, split_names = block_splits(len(rows), len(cols), block, split, seed)
    out = Path(os.fspath(out_dir))
    transform, crs = image_da.rio.transform(), image_da.rio.crs
    nodata = image_da.rio.nodata
    fill = fill_value(image_da, None)
    bands = [str(b) for b in image_da.coords["band"].values] if "band" in image_da.coords else []
    summary = ChipSetSummary(out_dir=str(out), index=str(out / "index.csv"))
    records: list[dict[str, Any]] = []
    class_ids: set[int] = set()
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            window = Window(c, r, min(size, width - c), min(size, height - r))
            chip_id = f"r{i:04d}_c{j:04d}"
            image_path, mask_path = (
                out / "images" / f"{chip_id}.tif",
                out / "masks" / f"{chip_id}.tif",
            )
            chip_transform = transform @ Affine.translation(c, r)
            if image_path.exists() and mask_path.exists():
                with rasterio.open(mask_path) as ds:
                    mask = ds.read(1)
                with rasterio.open(image_path) as ds:
                    valid_fraction = float(ds.tags().get("VALID_FRACTION", "nan"))
                summary.resumed += 1
            else:
                image = cut_chip(image_da, window, size, transform, fill).values
                inside = np.zeros((size, size), dtype=bool)
                inside[: window.height, : window.width] = True
                valid = _valid_pixels(image, nodata, inside)
                valid_fraction = float(valid.mean())
                if 1.0 - valid_fraction > max_nodata:
                    summary.skipped_nodata += 1
                    continue
                mask = _mask_chip(source, window, size, chip_transform, ignore_index, all_touched)
                if skip_empty and not ((mask != 0) & (mask != ignore_index)).any():
                    summary.skipped_empty += 1
                    continue
                mask_dtype = "uint8" if max(int(mask.max()), ignore_index) < 256 else "uint16"
                _write_tif(
                    mask_path,
                    mask[None].astype(mask_dtype),
                    chip_transform,
                    crs,
                    ignore_index,
                    ["mask"],
                )
                # The tag goes in with the pixels: updating the chip in place after
                # its rename left it without one when a run was killed in between.
                tags = {"VALID_FRACTION": f"{valid_fraction:.6f}"}
                _write_tif(image_path, image, chip_transform, crs, nodata, bands, tags)
                summary.written += 1
            counts = np.bincount(mask.ravel().astype(np.int64))
            present = {int(k): int(v) for k, v in enumerate(counts) if v and k != ignore_index}
            class_ids |= set(present)
            left, top = chip_transform.c, chip_transform.f
            right = left + chip_transform.a * size
            bottom = top + chip_transform.e * size
            records.append(
                {
                    "id": chip_id,
                    "image": f"images/{chip_id}.tif",
                    "mask": f"masks/{chip_id}.tif",
                    "row": r,
                    "col": c,
                    "minx": min(left, right),
                    "miny": min(top, bottom),
                    "maxx": max(left, right),
                    "maxy": max(top, bottom),
                    "crs": crs_text(crs),
                    "split": split_names[cell_split[i, j]],
                    "valid_fraction": round(valid_fraction, 6),
                    "counts": present,
                }
            )
    _write_index(out, records, sorted(class_ids))
    for record in records:
        summary.splits[record["split"]] = summary.splits.get(record["split"], 0) + 1
        for k, v in record["counts"].items():
            summary.class_pixels[str(k)] = summary.class_pixels.get(str(k), 0) + v
    summary.splits = {name: summary.splits.get(name, 0) for name in split_names}
    write_json(
        {
            "scene": scene_name,
            "labels": label_name,
            "size": size,
            "overlap": overlap,
            "split": list(split),
            "block": block,
            "seed": seed,
            "crs": crs_text(crs),
            "bands": bands,
            "classes": {
                str(k): class_names.get(k, str(k)) for k in sorted(class_ids | set(class_names))
            },
            "ignore_index": ignore_index,
            "attribute": attribute,
            "summary": summary.as_dict(),
        },
        out / "chipset.json",
    )
    return summary


def _mask_chip(
    source: Any, window: Window, size: int, transform: Affine, ignore: int, all_touched: bool
) -> np.ndarray:
    if isinstance(source, xr.DataArray):
        chip = cut_chip(source, window, size, transform, ignore)
        return np.asarray(chip.values)
    left, top = transform.c, transform.f
    right, bottom = left + transform.a * size, top + transform.e * size
    footprint = shapely.box(min(left, right), min(top, bottom), max(left, right), max(top, bottom))
    hits = np.sort(source.tree.query(footprint))
    mask = rasterize_features(
        [source.features[k] for k in hits],
        transform=transform,
        shape=(size, size),
        attribute=source.attribute,
        class_map=source.class_map,
        all_touched=all_touched,
        dtype="uint16",
    )
    mask[int(window.height) :, :] = ignore
    mask[:, int(window.width) :] = ignore
    return mask


def _write_index(out: Path, records: list[dict[str, Any]], classes: list[int]) -> Path:
    """``index.csv``: one row per chip, with a ``count_K`` column per class K."""
    columns = [
        "id",
        "image",
        "mask",
        "row",
        "col",
        "minx",
        "miny",
        "maxx",
        "maxy",
        "crs",
        "split",
        "valid_fraction",
    ] + [f"count_{k}" for k in classes]
    path = out / "index.csv"
    with atomic_output(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for record in records:
            row = {k: v for k, v in record.items() if k != "counts"}
            row.update({f"count_{k}": record["counts"].get(k, 0) for k in classes})
            writer.writerow(row)
    return path
