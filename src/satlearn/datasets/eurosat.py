"""EuroSAT: Sentinel-2 land use / land cover, 10 classes, 27,000 chips of 64 x 64.

Two published versions, each one folder per class with files
``<Class>_<N>.<ext>``:

- RGB (:class:`EuroSAT`): ``EuroSAT_RGB.zip`` (Zenodo) unpacks to
  ``EuroSAT_RGB/<Class>/<Class>_N.jpg``; the original DFKI ``EuroSAT.zip`` to
  ``2750/<Class>/...``. 8-bit JPEG, red, green, blue.
- Multispectral (:class:`EuroSATMS`): ``EuroSAT_MS.zip`` unpacks to
  ``EuroSAT_MS/<Class>/<Class>_N.tif`` (the original ``EuroSATallBands.zip``
  to ``ds/images/remote_sensing/otherDatasets/sentinel_2/tif/<Class>/``):
  13-band uint16 GeoTIFFs (L1C top-of-atmosphere reflectance x 10000, UTM),
  bands in the order B01, B02, B03, B04, B05, B06, B07, B08, B8A, B09, B10,
  B11, B12 (B8A after B08, as in TorchGeo's ``all_band_names``), given here by
  satlearn's Sentinel-2 L1C band names.

Example
-------
>>> ds = EuroSATMS("data/eurosat", split="train", seed=0)  # doctest: +SKIP
>>> ds[0]["image"].shape, ds.bands[7]  # doctest: +SKIP
((13, 64, 64), 'nir')
"""

from __future__ import annotations

import warnings
from pathlib import Path

import rasterio
from rasterio.errors import NotGeoreferencedWarning

from satlearn.bands import get_sensor
from satlearn.datasets.base import Download, Sample, register
from satlearn.datasets.ucmerced import ClassFolderDataset
from satlearn.errors import DatasetError

__all__ = ["EuroSAT", "EuroSATMS"]

#: Folder names, which are also the class names, in TorchGeo's (alphabetical) order.
EUROSAT_CLASSES: tuple[str, ...] = (
    "AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial",
    "Pasture", "PermanentCrop", "Residential", "River", "SeaLake",
)  # fmt: skip

_SOURCE = (
    "Helber et al., 'EuroSAT: A Novel Dataset and Deep Learning Benchmark for Land Use and Land "
    "Cover Classification', IEEE JSTARS 2019; Zenodo 10.5281/zenodo.7711810 (MIT); contains "
    "modified Copernicus Sentinel-2 data"
)


class _EuroSATBase(ClassFolderDataset):
    task = "classification"
    source = _SOURCE
    classes = EUROSAT_CLASSES
    split_file_pattern = "eurosat-{split}.txt"

    def _file_class(self, path: Path) -> str:
        # AnnualCrop_1.jpg -> AnnualCrop
        return path.stem.rsplit("_", 1)[0]


@register
class EuroSAT(_EuroSATBase):
    """EuroSAT RGB: 10 class folders of 64 x 64 8-bit JPEGs.

    Parameters are those of :class:`~satlearn.datasets.ucmerced.ClassFolderDataset`
    (split by seed and ratios, or TorchGeo's ``eurosat-<split>.txt`` lists,
    matched by file stem so their ``.tif`` names select the JPEGs).

    Examples
    --------
    >>> ds = EuroSAT("data/eurosat")  # doctest: +SKIP
    >>> ds.describe()["class_counts"]["Forest"]  # doctest: +SKIP
    3000
    """

    name = "eurosat"
    downloads = (
        # SHA-256 and size as recorded by an independent verification of the Zenodo
        # object (its MD5 f46e308c4d50d4bf32fedad2d3d62f3b is Zenodo's own).
        Download(
            url="https://zenodo.org/records/7711810/files/EuroSAT_RGB.zip",
            filename="EuroSAT_RGB.zip",
            sha256="b4f5b234ecb7d7ff9c6cddb046543b4717c53fd6e9815be6c0e80cc614f51b90",
            size=94_658_721,
            extract=True,
        ),
    )
    bands = ("red", "green", "blue")
    image_dirs = ("EuroSAT_RGB", "2750", "EuroSAT", "")
    suffixes = (".jpg", ".jpeg")


@register
class EuroSATMS(_EuroSATBase):
    """EuroSAT multispectral: 10 class folders of 13-band uint16 Sentinel-2 GeoTIFFs.

    Samples carry ``meta["crs"]`` (WKT-free ``EPSG:`` string, or ``""``) and
    ``meta["transform"]`` (the six affine coefficients ``a, b, c, d, e, f``).

    Examples
    --------
    >>> ds = EuroSATMS("data/eurosat", split="val")  # doctest: +SKIP
    >>> ds.bands[:4]  # doctest: +SKIP
    ('coastal', 'blue', 'green', 'red')
    """

    name = "eurosat-ms"
    downloads = (
        # No checksum published that we could confirm: verified by size/extract only.
        Download(
            url="https://zenodo.org/records/7711810/files/EuroSAT_MS.zip",
            filename="EuroSAT_MS.zip",
            extract=True,
        ),
    )
    bands = get_sensor("sentinel2_l1c").names
    image_dirs = (
        "EuroSAT_MS",
        "ds/images/remote_sensing/otherDatasets/sentinel_2/tif",
        "EuroSATallBands",
        "",
    )
    suffixes = (".tif", ".tiff")

    def _load(self, index: int) -> Sample:
        path = self.files[index]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                with rasterio.open(path) as src:
                    image = src.read()
                    crs = src.crs.to_string() if src.crs is not None else ""
                    transform = tuple(float(v) for v in tuple(src.transform)[:6])
        except rasterio.errors.RasterioError as exc:
            raise DatasetError(f"{path}: unreadable image ({exc})") from exc
        if image.shape[0] != len(self.bands):
            raise DatasetError(
                f"{path}: {image.shape[0]} bands, expected the {len(self.bands)} "
                "Sentinel-2 bands of EuroSAT_MS"
            )
        return {
            "image": image,
            "label": int(self.labels[index]),
            "meta": {"file": str(path), "crs": crs, "transform": transform},
        }
