"""Sentinel-2 ``.SAFE`` products (Level-1C and Level-2A) opened as DataArrays.

A ``.SAFE`` folder is ESA's distribution format: a product metadata file
(``MTD_MSIL1C.xml`` or ``MTD_MSIL2A.xml``), one ``GRANULE/<id>/`` folder per
tile with its own ``MTD_TL.xml`` (sun and view angles), and one JPEG 2000
file per band::

    S2B_MSIL1C_20230601T103629_N0509_R008_T32TNS_20230601T124142.SAFE/
        MTD_MSIL1C.xml
        GRANULE/L1C_T32TNS_A032577_20230601T103629/
            MTD_TL.xml
            IMG_DATA/T32TNS_20230601T103629_B02.jp2          (L1C: native resolution)
            IMG_DATA/R10m/T32TNS_20230601T103629_B02_10m.jp2 (L2A: R10m, R20m, R60m)

Bands come at 10, 20 and 60 m. :func:`open_safe` puts the requested bands on
one grid of the chosen resolution: a band the product already holds at that
resolution (Level-2A ships most bands at 20 and 60 m too) is read as is;
otherwise the band's finest file is resampled with a GDAL ``WarpedVRT``:
**nearest** when upsampling (a 20 m value is repeated over its 2 x 2 10 m
cells, no invented detail) and **average** when downsampling (the mean of the
valid fine pixels; nodata 0 is left out of the mean).

Values stay the stored ``uint16`` digital numbers; the ``scale`` and
``offset`` coordinates along ``band`` turn them into reflectance
(``stored * scale + offset``), from the metadata's ``QUANTIFICATION_VALUE``
(10000) and, from processing baseline 04.00 on, the per-band
``RADIO_ADD_OFFSET`` / ``BOA_ADD_OFFSET`` (-1000), as
:func:`satlearn.bands.band_scale_offset` reads them.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import xarray as xr
from affine import Affine
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from satlearn.bands import Sensor, get_sensor
from satlearn.datasets.base import Sample, SampleDataset, Transform, register
from satlearn.errors import DatasetError, InvalidInputError
from satlearn.raster import georeference, pixel_centres

__all__ = ["SafeProduct", "Sentinel2Safe", "open_safe", "read_safe_metadata"]

#: The band index order of ESA's metadata (``band_id="0"`` is B01, ``"8"`` is B8A ...).
_ESA_BAND_ORDER = (
    "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12",
)  # fmt: skip
_L2A_RESOLUTIONS = (10, 20, 60)
_NODATA = 0


def _local(tag: str) -> str:
    # ESA's files put the root (and only the root) in a namespace; match local names.
    return tag.rsplit("}", 1)[-1]


def _find(root: ET.Element, name: str) -> ET.Element | None:
    return next((el for el in root.iter() if _local(el.tag) == name), None)


def _text(root: ET.Element, name: str) -> str | None:
    el = _find(root, name)
    return el.text.strip() if el is not None and el.text else None


def _number(text: str | None, name: str, path: Path) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise DatasetError(f"{path}: {name} {text!r} is not a number") from None


def _parse_xml(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except (ET.ParseError, OSError) as err:
        raise DatasetError(f"{path}: not a readable Sentinel-2 metadata XML ({err})") from err


class SafeProduct:
    """What :func:`read_safe_metadata` finds in a ``.SAFE`` folder.

    Attributes
    ----------
    path : Path
        The ``.SAFE`` folder.
    level : str
        ``"L1C"`` or ``"L2A"``.
    sensor : str
        ``"sentinel2_l1c"`` or ``"sentinel2_l2a"`` (:mod:`satlearn.bands`).
    granule : Path
        The ``GRANULE/<id>`` folder read.
    datetime : str or None
        ``PRODUCT_START_TIME`` (ISO 8601, UTC).
    baseline : str or None
        ``PROCESSING_BASELINE``, such as ``"04.00"``.
    quantification : float
        Stored value of reflectance 1.0 (10000).
    offsets : dict
        Band id -> additive offset in stored units (-1000 from baseline 04.00, else 0).
    sun_zenith, sun_azimuth : float or None
        Mean sun angles of the tile (degrees) from ``MTD_TL.xml``.
    """

    def __init__(self, path: Path, granule: str | None = None) -> None:
        self.path = path
        mtd = sorted(path.glob("MTD_MSIL*.xml"))
        if not mtd:
            raise DatasetError(
                f"{path}: no MTD_MSIL1C.xml or MTD_MSIL2A.xml; not a Sentinel-2 .SAFE product"
            )
        self.metadata_file = mtd[0]
        root = _parse_xml(self.metadata_file)
        product_type = _text(root, "PRODUCT_TYPE") or ""
        if "2A" in product_type or self.metadata_file.name == "MTD_MSIL2A.xml":
            self.level = "L2A"
        else:
            self.level = "L1C"
        self.sensor = "sentinel2_l2a" if self.level == "L2A" else "sentinel2_l1c"
        self.datetime = _text(root, "PRODUCT_START_TIME")
        self.baseline = _text(root, "PROCESSING_BASELINE")
        self.spacecraft = _text(root, "SPACECRAFT_NAME")
        q_name = "BOA_QUANTIFICATION_VALUE" if self.level == "L2A" else "QUANTIFICATION_VALUE"
        quantification = _number(_text(root, q_name), q_name, self.metadata_file)
        self.quantification = 10000.0 if quantification is None else quantification
        self.offsets = self._offsets(root)
        self.granule = self._granule(granule)
        self.sun_zenith, self.sun_azimuth = self._sun_angles()

    def _offsets(self, root: ET.Element) -> dict[str, float]:
        physical = {
            el.get("bandId"): el.get("physicalBand")
            for el in root.iter()
            if _local(el.tag) == "Spectral_Information" and el.get("bandId") is not None
        }
        tag = "BOA_ADD_OFFSET" if self.level == "L2A" else "RADIO_ADD_OFFSET"
        offsets: dict[str, float] = {}
        for el in root.iter():
            if _local(el.tag) != tag or el.get("band_id") is None or not el.text:
                continue
            index = el.get("band_id", "")
            band = physical.get(index) or (
                # isascii: "²".isdigit() is True, yet int("²") raises.
                _ESA_BAND_ORDER[int(index)]
                if index.isascii() and index.isdigit() and int(index) < 13
                else None
            )
            if band is None:
                raise DatasetError(f"{self.metadata_file}: {tag} has unknown band_id {index!r}")
            value = _number(el.text.strip(), tag, self.metadata_file)
            offsets[get_sensor("sentinel2_l1c").to_id(band)] = float(value or 0.0)
        if not offsets and self._baseline_at_least(4.0):
            # Baseline 04.00 introduced the offset; a trimmed metadata file may lack the list.
            offsets = dict.fromkeys(_ESA_BAND_ORDER, -1000.0)
        return offsets

    def _baseline_at_least(self, version: float) -> bool:
        try:
            return self.baseline is not None and float(self.baseline) >= version
        except ValueError:
            return False

    def _granule(self, wanted: str | None) -> Path:
        granules = sorted(p for p in (self.path / "GRANULE").glob("*") if p.is_dir())
        if wanted is not None:
            granules = [g for g in granules if wanted in g.name]
        if not granules:
            which = f" matching {wanted!r}" if wanted is not None else ""
            raise DatasetError(f"{self.path}: no GRANULE/<id> folder{which}")
        if len(granules) > 1:
            names = ", ".join(g.name for g in granules)
            raise DatasetError(
                f"{self.path}: {len(granules)} granules ({names}); pick one with granule=TILE_ID"
            )
        return granules[0]

    def _sun_angles(self) -> tuple[float | None, float | None]:
        tile = self.granule / "MTD_TL.xml"
        if not tile.is_file():
            return None, None
        mean = _find(_parse_xml(tile), "Mean_Sun_Angle")
        if mean is None:
            return None, None
        return (
            _number(_text(mean, "ZENITH_ANGLE"), "Mean_Sun_Angle ZENITH_ANGLE", tile),
            _number(_text(mean, "AZIMUTH_ANGLE"), "Mean_Sun_Angle AZIMUTH_ANGLE", tile),
        )

    def band_files(self, band_id: str) -> dict[int, Path]:
        """Resolution (m) -> JP2 file of one band, for every resolution the product holds."""
        native = int(get_sensor(self.sensor).band(band_id).resolution)
        img = self.granule / "IMG_DATA"
        if self.level == "L1C":
            files = sorted(img.glob(f"*_{band_id}.jp2"))
            return {native: files[0]} if files else {}
        found: dict[int, Path] = {}
        for res in _L2A_RESOLUTIONS:
            files = sorted((img / f"R{res}m").glob(f"*_{band_id}_{res}m.jp2"))
            if files:
                found[res] = files[0]
        return found


def read_safe_metadata(path: str | os.PathLike[str], *, granule: str | None = None) -> SafeProduct:
    """Read a ``.SAFE`` product's metadata (level, time, scaling, sun angles).

    Parameters
    ----------
    path : str or path
        The ``.SAFE`` folder, or its ``MTD_MSIL1C.xml`` / ``MTD_MSIL2A.xml``.
    granule : str, optional
        Part of the granule folder name (``"T32TNS"``) for old multi-tile products.

    Examples
    --------
    >>> meta = read_safe_metadata("S2B_MSIL2A_....SAFE")  # doctest: +SKIP
    >>> meta.level, meta.quantification, meta.offsets["B04"]  # doctest: +SKIP
    ('L2A', 10000.0, -1000.0)
    """
    p = Path(os.fspath(path))
    if p.is_file() and p.name.startswith("MTD_MSIL"):
        p = p.parent
    if not p.is_dir():
        raise DatasetError(f"{p}: not a .SAFE folder")
    return SafeProduct(p, granule)


def _resolve_bands(sensor: Sensor, bands: Sequence[str] | str | None) -> list[str]:
    if bands is None:
        return list(sensor.ids)
    if isinstance(bands, str):
        bands = [bands]
    ids = [sensor.band(b).id for b in bands]  # UnknownBandError names the sensor's bands
    if len(set(ids)) != len(ids):
        raise InvalidInputError(f"bands {list(bands)} name the same band twice")
    return ids


def _grid(path: Path) -> tuple[Any, Any, tuple[int, int]]:
    """CRS, bounds and (height, width) of one band file."""
    try:
        with rasterio.open(path) as src:
            return src.crs, src.bounds, (src.height, src.width)
    except RasterioIOError as err:
        raise DatasetError(f"{path}: cannot read this JPEG 2000 band ({err})") from err


def _read_window(
    path: Path,
    window: Window,
    transform: Affine,
    shape: tuple[int, int],
    resampling: Resampling | None,
) -> np.ndarray:
    """Read ``window`` of the target grid from one band file (warped when ``resampling``)."""
    try:
        with rasterio.open(path) as src:
            if resampling is None:
                return src.read(1, window=window)
            with WarpedVRT(
                src,
                crs=src.crs,
                transform=transform,
                height=shape[0],
                width=shape[1],
                resampling=resampling,
                src_nodata=_NODATA,
                nodata=_NODATA,
            ) as vrt:
                return vrt.read(1, window=window)
    except RasterioIOError as err:
        raise DatasetError(f"{path}: cannot read this JPEG 2000 band ({err})") from err


def _block_sizes(chunks: Any) -> tuple[int, int]:
    if chunks is True or chunks == "auto":
        return 1024, 1024  # ESA's JP2 files are tiled in 1024-pixel blocks at 10 m
    if isinstance(chunks, int) and not isinstance(chunks, bool) and chunks > 0:
        return chunks, chunks
    if isinstance(chunks, dict):
        return int(chunks.get("y", 1024)), int(chunks.get("x", 1024))
    raise InvalidInputError(
        f"chunks must be a positive int, 'auto', True or a dict, got {chunks!r}"
    )


def open_safe(
    path: str | os.PathLike[str],
    *,
    bands: Sequence[str] | str | None = None,
    resolution: float = 10,
    chunks: int | str | dict[str, int] | bool | None = None,
    granule: str | None = None,
    upsampling: str = "nearest",
    downsampling: str = "average",
) -> xr.DataArray:
    """Open a Sentinel-2 L1C or L2A ``.SAFE`` product as a ``(band, y, x)`` DataArray.

    Parameters
    ----------
    path : str or path
        The ``.SAFE`` folder (or its ``MTD_MSIL*.xml``).
    bands : str or sequence of str, optional
        Band names (``"red"``, ``"nir"``) or ids (``"B04"``). Default: every
        band of the level (13 for L1C, 12 for L2A, which has no B10).
    resolution : float
        Ground sample distance of the output grid in metres (10, 20, 60 or any other).
    chunks : int, dict, "auto" or True, optional
        Return a lazy dask-backed array read block by block. Default: eager.
    granule : str, optional
        Part of the granule name, for the old products that hold several tiles.
    upsampling, downsampling : str
        GDAL resampling names used when a band is finer than its file
        (default ``"nearest"``) or coarser (default ``"average"``).

    Returns
    -------
    xarray.DataArray
        ``uint16`` stored values, satlearn band names, CRS/transform/nodata 0
        through ``da.rio``; ``scale``/``offset`` coordinates give reflectance;
        attrs ``sensor``, ``datetime``, ``product``, ``processing_baseline``,
        ``sun_zenith`` and ``sun_azimuth`` (degrees, when ``MTD_TL.xml`` has them).

    Raises
    ------
    DatasetError
        The folder is not a ``.SAFE`` product or lacks a band's file.
    UnknownBandError
        A band is not one of the level's bands.

    Examples
    --------
    >>> da = open_safe("S2B_MSIL2A_....SAFE", bands=["red", "nir"], resolution=20)  # doctest: +SKIP
    >>> reflectance = da * da.scale + da.offset  # doctest: +SKIP
    """
    product = read_safe_metadata(path, granule=granule)
    sensor = get_sensor(product.sensor)
    ids = _resolve_bands(sensor, bands)
    if not resolution or resolution <= 0:
        raise InvalidInputError(f"resolution must be a positive number of metres, got {resolution}")
    try:
        up, down = Resampling[upsampling], Resampling[downsampling]
    except KeyError as err:
        raise InvalidInputError(f"unknown resampling {err.args[0]!r}") from None

    sources: list[tuple[Path, Resampling | None]] = []
    for band_id in ids:
        files = product.band_files(band_id)
        if not files:
            raise DatasetError(
                f"{product.path}: no JPEG 2000 file for band {band_id} under {product.granule}"
            )
        if resolution in files:
            sources.append((files[resolution], None))
        else:
            finest = min(files)
            sources.append((files[finest], up if finest > resolution else down))

    # The output grid: the tile's footprint (every band file covers the same 109.8 km) at
    # ``resolution``.
    crs, bounds, _ = _grid(sources[0][0])
    width = round((bounds.right - bounds.left) / resolution)
    height = round((bounds.top - bounds.bottom) / resolution)
    transform = Affine(resolution, 0.0, bounds.left, 0.0, -resolution, bounds.top)
    shape = (height, width)
    for file, resampling in sources:
        if resampling is None and (found := _grid(file)[2]) != shape:
            raise DatasetError(f"{file}: {found[0]}x{found[1]} pixels, expected {shape}")

    if chunks is None or chunks is False:
        full = Window(0, 0, width, height)
        data: Any = np.stack([_read_window(f, full, transform, shape, r) for f, r in sources])
    else:
        import dask.array as dsa

        by, bx = _block_sizes(chunks)
        blocks = dsa.core.normalize_chunks((1, by, bx), shape=(len(sources), height, width))

        def read(block_info: Any = None) -> np.ndarray:
            (b0, _), (y0, y1), (x0, x1) = block_info[None]["array-location"]
            file, resampling = sources[b0]
            window = Window(x0, y0, x1 - x0, y1 - y0)
            return _read_window(file, window, transform, shape, resampling)[None]

        data = dsa.map_blocks(
            read, chunks=blocks, dtype=np.uint16, meta=np.empty((0, 0, 0), np.uint16)
        )

    ys, xs = pixel_centres(transform, height, width)
    q = product.quantification
    attrs: dict[str, Any] = {
        "sensor": product.sensor,
        "datetime": product.datetime,
        "product": product.path.name,
        "processing_baseline": product.baseline,
        "spacecraft": product.spacecraft,
        "source": str(product.path),
    }
    if product.sun_zenith is not None:
        attrs["sun_zenith"] = product.sun_zenith
    if product.sun_azimuth is not None:
        attrs["sun_azimuth"] = product.sun_azimuth
    da = xr.DataArray(
        data,
        dims=("band", "y", "x"),
        coords={
            "band": [sensor.to_name(b) for b in ids],
            "scale": ("band", np.full(len(ids), 1.0 / q)),
            "offset": ("band", np.array([product.offsets.get(b, 0.0) / q for b in ids])),
            "y": ys,
            "x": xs,
        },
        attrs={k: v for k, v in attrs.items() if v is not None},
    )
    return georeference(da, crs, transform, _NODATA)


_SAFE_NAME = re.compile(r"\.SAFE$", re.IGNORECASE)


@register
class Sentinel2Safe(SampleDataset):
    """Sentinel-2 L1C/L2A ``.SAFE`` products under a root folder, one sample per product.

    Layout: ``ROOT/**/<product>.SAFE/`` as unzipped from the Copernicus Data
    Space (``MTD_MSIL1C.xml`` or ``MTD_MSIL2A.xml``, ``GRANULE/*/IMG_DATA``).
    A sample's ``image`` is the product's bands at ``resolution`` (uint16,
    stored values); ``meta`` holds product name, level, datetime, CRS,
    transform, scale, offset and sun angles.

    Examples
    --------
    >>> ds = Sentinel2Safe("s2", bands=["red", "nir"], resolution=20)  # doctest: +SKIP
    >>> ds[0]["image"].shape  # doctest: +SKIP
    (2, 5490, 5490)
    """

    name = "sentinel2-safe"
    task = "scene"
    source = (
        "ESA Copernicus Sentinel-2 MSI Level-1C / Level-2A products (.SAFE); "
        "free and open data, Copernicus Sentinel data terms"
    )
    manual_download = (
        "Sentinel-2 products need a free Copernicus Data Space Ecosystem account: "
        "search https://browser.dataspace.copernicus.eu, download each product's .SAFE.zip, "
        "and unzip it into ROOT so that ROOT/<product>.SAFE/MTD_MSIL1C.xml (or MTD_MSIL2A.xml) "
        "exists."
    )
    bands = get_sensor("sentinel2_l1c").names

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        bands: Sequence[str] | None = None,
        resolution: float = 10,
        split: str | None = None,
        transforms: Transform | None = None,
    ) -> None:
        super().__init__(root, split=split, transforms=transforms)
        self.products = sorted(
            p for p in self.root.rglob("*") if p.is_dir() and _SAFE_NAME.search(p.name)
        )
        if not self.products:
            raise DatasetError(f"{self.name}: no <product>.SAFE folder under {self.root}")
        self.band_request = list(bands) if bands is not None else None
        self.resolution = resolution
        if bands is not None:
            self.bands = tuple(get_sensor("sentinel2_l1c").band(b).name for b in bands)

    def __len__(self) -> int:
        return len(self.products)

    def _load(self, index: int) -> Sample:
        da = open_safe(self.products[index], bands=self.band_request, resolution=self.resolution)
        meta = {
            "file": str(self.products[index]),
            "id": self.products[index].name,
            "bands": [str(b) for b in da.band.values],
            "crs": da.rio.crs.to_string(),
            "transform": tuple(da.rio.transform())[:6],
            "scale": da.coords["scale"].values.copy(),
            "offset": da.coords["offset"].values.copy(),
            **{k: v for k, v in da.attrs.items() if k != "source"},
        }
        return {"image": da.values, "meta": meta}
