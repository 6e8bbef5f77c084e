"""Landsat 8/9 scenes as USGS distributes them: MTL metadata plus one GeoTIFF per band.

A scene folder holds ``<product id>_MTL.txt`` (ODL ``GROUP = ... END_GROUP``
text) and/or ``_MTL.json`` and the band files it names::

    LC08_L2SP_020039_20230804_20230812_02_T1_MTL.txt
    LC08_L2SP_020039_20230804_20230812_02_T1_SR_B4.TIF     (Level-2 surface reflectance)
    LC08_L2SP_020039_20230804_20230812_02_T1_ST_B10.TIF    (Level-2 surface temperature)
    LC08_L1TP_020039_20230804_20230812_02_T1_B4.TIF        (Level-1 digital numbers)
    ..._QA_PIXEL.TIF                                       (bit 0: fill)

Collection 2 (``LANDSAT_METADATA_FILE`` groups), Collection 1 and the
pre-collection L1T products (``L1_METADATA_FILE``, ``_BQA.TIF``) are read
alike: band files are found by the MTL's ``FILE_NAME_BAND_n`` and, where a
scene was renamed (the ``l8_B4.tif`` of test data sets), by their ``_Bn``
suffix. Conversions, per USGS (Landsat 8-9 Collection 2 Level-1 / Level-2
Science Product Guides):

* Level-1 top-of-atmosphere reflectance:
  ``(REFLECTANCE_MULT_BAND_n * DN + REFLECTANCE_ADD_BAND_n) / sin(SUN_ELEVATION)``
* Level-1 brightness temperature: ``L = RADIANCE_MULT * DN + RADIANCE_ADD``,
  ``T = K2 / ln(K1 / L + 1)`` kelvin
* Level-2 surface reflectance: ``DN * 2.75e-05 - 0.2`` and surface temperature
  ``DN * 0.00341802 + 149.0`` K (the MTL's ``LEVEL2_SURFACE_*_PARAMETERS`` win when present)

DN 0 and QA bit 0 (fill) become NaN in the float products.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from satlearn.bands import Sensor, get_sensor
from satlearn.datasets.base import Sample, SampleDataset, Transform, register
from satlearn.errors import DatasetError, InvalidInputError
from satlearn.raster import georeference, open_raster

__all__ = ["Landsat", "LandsatScene", "open_landsat", "read_mtl"]

PRODUCTS = ("reflectance", "dn", "brightness-temperature")
_THERMAL = ("B10", "B11")
_L2_SR = (2.75e-05, -0.2)  # Collection 2 Level-2 surface reflectance scale, offset
_L2_ST = (0.00341802, 149.0)  # Collection 2 Level-2 surface temperature scale, offset (K)
_LINE = re.compile(r"^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$")


def _value(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def read_mtl(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Parse a Landsat ``_MTL.txt`` (ODL) or ``_MTL.json`` into ``{group: {key: value}}``.

    Groups are keyed by their innermost name (``"IMAGE_ATTRIBUTES"``);
    quoted values stay strings, numbers become int or float.

    Examples
    --------
    >>> mtl = read_mtl("LC08_..._MTL.txt")  # doctest: +SKIP
    >>> mtl["IMAGE_ATTRIBUTES"]["SUN_ELEVATION"]  # doctest: +SKIP
    64.74360932
    """
    p = Path(os.fspath(path))
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise DatasetError(f"{p}: cannot read the MTL file ({err})") from err
    groups: dict[str, dict[str, Any]] = {}
    if p.suffix.lower() == ".json":
        try:
            tree = json.loads(text)
        except json.JSONDecodeError as err:
            raise DatasetError(f"{p}: not valid JSON ({err})") from err
        except RecursionError:
            raise DatasetError(f"{p}: JSON nested too deeply for an MTL file") from None

        def walk(name: str, node: dict[str, Any]) -> None:
            for key, value in node.items():
                if isinstance(value, dict):
                    walk(key, value)
                else:
                    groups.setdefault(name, {})[key] = (
                        _value(value) if isinstance(value, str) else value
                    )

        if not isinstance(tree, dict):
            raise DatasetError(f"{p}: an MTL JSON file holds an object, got {type(tree).__name__}")
        try:
            walk("", tree)
        except RecursionError:
            raise DatasetError(f"{p}: JSON nested too deeply for an MTL file") from None
        return groups
    stack: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.strip() == "END":
            continue
        match = _LINE.match(line)
        if match is None:
            raise DatasetError(f"{p}: line {number} is not KEY = VALUE: {line.strip()[:60]!r}")
        key, value = match.groups()
        if key == "GROUP":
            stack.append(value)
        elif key == "END_GROUP":
            if not stack or stack[-1] != value:
                raise DatasetError(f"{p}: line {number} closes group {value!r} that is not open")
            stack.pop()
        else:
            groups.setdefault(stack[-1] if stack else "", {})[key] = _value(value)
    if not groups:
        raise DatasetError(f"{p}: no KEY = VALUE lines; not an MTL file")
    return groups


class LandsatScene:
    """A scene folder and its MTL: level, sensor, sun angles, band files, coefficients."""

    def __init__(self, path_or_mtl: str | os.PathLike[str]) -> None:
        p = Path(os.fspath(path_or_mtl))
        if p.is_dir():
            found = sorted(p.glob("*_MTL.txt")) + sorted(p.glob("*_MTL.json"))
            if not found:
                raise DatasetError(f"{p}: no *_MTL.txt or *_MTL.json; not a Landsat scene folder")
            p = found[0]
        elif not p.is_file():
            raise DatasetError(f"{p}: no such Landsat scene folder or MTL file")
        self.mtl_path = p
        self.folder = p.parent
        self.mtl = read_mtl(p)
        level = str(self.get("PROCESSING_LEVEL", self.get("DATA_TYPE", "L1")))
        self.level = 2 if level.upper().startswith("L2") else 1
        spacecraft = str(self.get("SPACECRAFT_ID", ""))
        sensor_key = {"LANDSAT_8": "landsat8", "LANDSAT_9": "landsat9"}.get(spacecraft)
        if sensor_key is None:
            raise DatasetError(
                f"{p}: SPACECRAFT_ID {spacecraft!r}; only Landsat 8 and 9 (OLI/TIRS) are supported"
            )
        self.sensor: Sensor = get_sensor(sensor_key)
        self.sun_elevation = self.number("SUN_ELEVATION", self.require("SUN_ELEVATION"))
        azimuth = self.get("SUN_AZIMUTH")
        self.sun_azimuth = math.nan if azimuth is None else self.number("SUN_AZIMUTH", azimuth)
        self.scene_id = str(
            self.get("LANDSAT_PRODUCT_ID", self.get("LANDSAT_SCENE_ID", self.folder.name))
        )
        date, time = self.get("DATE_ACQUIRED"), self.get("SCENE_CENTER_TIME")
        self.datetime = f"{date}T{time}" if date and time else (str(date) if date else None)
        self._files = {f.name.lower(): f for f in self.folder.iterdir() if f.is_file()}

    def get(self, key: str, default: Any = None, groups: Sequence[str] = ()) -> Any:
        """``key`` from the first of ``groups`` that has it, else from any group."""
        for group in groups:
            if key in self.mtl.get(group, {}):
                return self.mtl[group][key]
        for values in self.mtl.values():
            if key in values:
                return values[key]
        return default

    def number(self, key: str, value: Any) -> float:
        """``value`` of ``key`` as a finite float; a DatasetError naming the MTL and key if not."""
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise DatasetError(f"{self.mtl_path}: {key} = {value!r} is not a number") from None
        if not math.isfinite(number):
            raise DatasetError(f"{self.mtl_path}: {key} = {value!r} is not a finite number")
        return number

    def require(self, key: str, groups: Sequence[str] = ()) -> Any:
        value = self.get(key, None, groups)
        if value is None:
            raise DatasetError(f"{self.mtl_path}: no {key} in the MTL")
        return value

    def _file(self, names: Sequence[str], pattern: str) -> Path | None:
        for key in names:
            name = self.get(key, groups=("PRODUCT_CONTENTS", "PRODUCT_METADATA"))
            if isinstance(name, str) and (self.folder / name).is_file():
                return self.folder / name
        regex = re.compile(pattern, re.IGNORECASE)
        matches = sorted(f for name, f in self._files.items() if regex.search(name))
        return matches[0] if matches else None

    def band_file(self, band_id: str) -> Path | None:
        """The GeoTIFF of one band (``"B4"``), or None where the scene lacks it."""
        n = band_id[1:]
        if self.level == 2:
            if band_id in _THERMAL:
                return self._file([f"FILE_NAME_BAND_ST_B{n}"], rf"_ST_B{n}\.tif$")
            return self._file([f"FILE_NAME_BAND_{n}"], rf"_SR_B{n}\.tif$")
        return self._file([f"FILE_NAME_BAND_{n}"], rf"_B{n}\.tif$")

    def qa_file(self) -> Path | None:
        """The pixel QA band (Collection 2 ``QA_PIXEL``, earlier ``BQA``), if present."""
        return self._file(
            ["FILE_NAME_QUALITY_L1_PIXEL", "FILE_NAME_BAND_QUALITY"], r"_(QA_PIXEL|BQA)\.tif$"
        )

    def scale_offset(self, band_id: str, product: str) -> tuple[float, float]:
        """``(scale, offset)``: DN * scale + offset is reflectance, radiance (L1 thermal) or K."""
        n = band_id[1:]
        if band_id in _THERMAL:
            if self.level == 2:
                groups = ("LEVEL2_SURFACE_TEMPERATURE_PARAMETERS",)
                mult, add = f"TEMPERATURE_MULT_BAND_ST_B{n}", f"TEMPERATURE_ADD_BAND_ST_B{n}"
                return (
                    self.number(mult, self.get(mult, _L2_ST[0], groups)),
                    self.number(add, self.get(add, _L2_ST[1], groups)),
                )
            groups = ("LEVEL1_RADIOMETRIC_RESCALING", "RADIOMETRIC_RESCALING")
            mult, add = f"RADIANCE_MULT_BAND_{n}", f"RADIANCE_ADD_BAND_{n}"
            return (
                self.number(mult, self.require(mult, groups)),
                self.number(add, self.require(add, groups)),
            )
        if self.level == 2:
            groups = ("LEVEL2_SURFACE_REFLECTANCE_PARAMETERS",)
            mult_key, add_key = f"REFLECTANCE_MULT_BAND_{n}", f"REFLECTANCE_ADD_BAND_{n}"
            mult = self.mtl.get(groups[0], {}).get(mult_key, _L2_SR[0])
            add = self.mtl.get(groups[0], {}).get(add_key, _L2_SR[1])
            return self.number(mult_key, mult), self.number(add_key, add)
        groups = ("LEVEL1_RADIOMETRIC_RESCALING", "RADIOMETRIC_RESCALING")
        # Top-of-atmosphere reflectance corrected for the sun's elevation (USGS eq. 2-3).
        sine = math.sin(math.radians(self.sun_elevation))
        if sine <= 0:
            raise DatasetError(
                f"{self.mtl_path}: SUN_ELEVATION = {self.sun_elevation} puts the sun at or below "
                "the horizon; top-of-atmosphere reflectance is undefined"
            )
        mult, add = f"REFLECTANCE_MULT_BAND_{n}", f"REFLECTANCE_ADD_BAND_{n}"
        return (
            self.number(mult, self.require(mult, groups)) / sine,
            self.number(add, self.require(add, groups)) / sine,
        )

    def thermal_constants(self, band_id: str) -> tuple[float, float]:
        """``(K1, K2)`` of a Level-1 thermal band."""
        n = band_id[1:]
        groups = ("LEVEL1_THERMAL_CONSTANTS", "TIRS_THERMAL_CONSTANTS")
        k1, k2 = f"K1_CONSTANT_BAND_{n}", f"K2_CONSTANT_BAND_{n}"
        return (
            self.number(k1, self.require(k1, groups)),
            self.number(k2, self.require(k2, groups)),
        )


def _default_bands(scene: LandsatScene, product: str) -> list[str]:
    ids = [b.id for b in scene.sensor.bands if b.id != "B8"]  # pan: another grid, ask for it
    if product == "reflectance":
        ids = [i for i in ids if i not in _THERMAL]
    elif product == "brightness-temperature":
        ids = [i for i in ids if i in _THERMAL]
    return [i for i in ids if scene.band_file(i) is not None]


def open_landsat(
    path_or_mtl: str | os.PathLike[str],
    *,
    bands: Sequence[str] | str | None = None,
    product: str = "reflectance",
    chunks: int | str | dict[str, int] | bool | None = None,
) -> xr.DataArray:
    """Open a Landsat 8/9 scene (Level-1 or Level-2) as a ``(band, y, x)`` DataArray.

    Parameters
    ----------
    path_or_mtl : str or path
        The scene folder, or its ``_MTL.txt`` / ``_MTL.json``.
    bands : str or sequence of str, optional
        Band names (``"red"``, ``"lwir11"``) or ids (``"B4"``). Default: every
        30 m band the scene has that suits ``product`` (pan, 15 m, only when asked,
        and on its own).
    product : {"reflectance", "dn", "brightness-temperature"}
        ``"reflectance"``: float32 TOA (Level-1) or surface (Level-2) reflectance
        of reflective bands. ``"brightness-temperature"``: float32 kelvin of
        thermal bands (Level-2: surface temperature). ``"dn"``: the stored
        uint16 values, with ``scale``/``offset`` coordinates that give
        reflectance (radiance for Level-1 thermal bands, kelvin for Level-2 ones).
    chunks : int, dict, "auto" or True, optional
        Return a lazy dask-backed array. Default: eager.

    Returns
    -------
    xarray.DataArray
        satlearn band names; fill (DN 0, QA bit 0) is NaN in float products,
        nodata 0 in ``"dn"``; attrs ``sensor``, ``datetime``, ``sun_azimuth``,
        ``sun_elevation``, ``sun_zenith``, ``product``, ``level``, ``scene_id``, ``units``.

    Raises
    ------
    DatasetError
        No MTL, a band file missing, or a coefficient missing from the MTL.
    InvalidInputError
        An unknown product, or a band that does not suit it.

    Examples
    --------
    >>> toa = open_landsat("LC08_L1TP_..._MTL.txt", bands=["red", "nir"])  # doctest: +SKIP
    >>> bt = open_landsat("scene/", product="brightness-temperature")  # doctest: +SKIP
    """
    if product not in PRODUCTS:
        raise InvalidInputError(f"product must be one of {', '.join(PRODUCTS)}, got {product!r}")
    scene = LandsatScene(path_or_mtl)
    if bands is None:
        ids = _default_bands(scene, product)
    else:
        ids = [scene.sensor.band(b).id for b in ([bands] if isinstance(bands, str) else bands)]
    if not ids:
        raise DatasetError(f"{scene.folder}: no band files for product {product!r}")
    for band_id in ids:
        thermal = band_id in _THERMAL
        if (product == "reflectance" and thermal) or (
            product == "brightness-temperature" and not thermal
        ):
            want = "brightness-temperature" if thermal else "reflectance"
            raise InvalidInputError(
                f"band {scene.sensor.to_name(band_id)} ({band_id}) has no {product}; "
                f"ask for product={want!r}"
            )
    files = []
    for band_id in ids:
        file = scene.band_file(band_id)
        if file is None:
            raise DatasetError(f"{scene.folder}: no file for band {band_id} of {scene.scene_id}")
        files.append(file)

    arrays = [open_raster(f, chunks=chunks) for f in files]
    first = arrays[0]
    for f, a in zip(files, arrays, strict=True):
        if a.shape != first.shape or a.rio.transform() != first.rio.transform():
            raise InvalidInputError(
                f"{f.name} is on another grid ({a.shape[1]}x{a.shape[2]} px) than {files[0].name} "
                f"({first.shape[1]}x{first.shape[2]} px); open the 15 m pan band on its own"
            )
    lazy = first.chunks is not None
    if lazy:
        import dask.array as dsa

        dn: Any = dsa.concatenate([a.data for a in arrays], axis=0)
    else:
        dn = np.concatenate([a.values for a in arrays], axis=0)
    coefficients = [scene.scale_offset(b, product) for b in ids]
    scale = np.array([c[0] for c in coefficients])
    offset = np.array([c[1] for c in coefficients])

    nodata: float | None
    if product == "dn":
        data, nodata, units = dn, 0, "DN"
    else:
        fill = dn == 0
        qa = scene.qa_file()
        if qa is not None:
            qa_da = open_raster(qa, chunks=chunks)
            if qa_da.shape[1:] == first.shape[1:]:
                fill = fill | ((qa_da.data & 1) == 1)  # QA bit 0: designated fill
        values = dn.astype(np.float64) * scale[:, None, None] + offset[:, None, None]
        if product == "brightness-temperature" and scene.level == 1:
            k = np.array([scene.thermal_constants(b) for b in ids])
            with np.errstate(invalid="ignore", divide="ignore"):
                # Radiance <= 0 (below the sensor's floor) has no temperature: NaN.
                values = k[:, 1, None, None] / np.log(k[:, 0, None, None] / values + 1.0)
        data = np.where(fill, np.float32(np.nan), values.astype(np.float32))
        nodata, units = math.nan, ("K" if product == "brightness-temperature" else "1")

    attrs: dict[str, Any] = {
        "sensor": scene.sensor.key,
        "datetime": scene.datetime,
        "sun_elevation": scene.sun_elevation,
        "sun_zenith": 90.0 - scene.sun_elevation,
        "sun_azimuth": scene.sun_azimuth,
        "product": product,
        "level": scene.level,
        "scene_id": scene.scene_id,
        "units": units,
        "source": str(scene.mtl_path),
    }
    coords: dict[str, Any] = {
        "band": [scene.sensor.to_name(b) for b in ids],
        "y": first.y.values,
        "x": first.x.values,
    }
    if product == "dn":
        coords["scale"] = ("band", scale)
        coords["offset"] = ("band", offset)
    da = xr.DataArray(
        data,
        dims=("band", "y", "x"),
        coords=coords,
        attrs={k: v for k, v in attrs.items() if v is not None},
    )
    return georeference(da, first.rio.crs, first.rio.transform(), nodata)


@register
class Landsat(SampleDataset):
    """Landsat 8/9 Collection 2 (and older) scenes under a root, one sample per scene.

    Layout: ``ROOT/**/<scene>/`` with ``<product id>_MTL.txt`` (or ``.json``)
    and the band GeoTIFFs as extracted from the USGS ``.tar``. A sample's
    ``image`` is :func:`open_landsat` of the scene (float32 reflectance by
    default); ``meta`` holds scene id, datetime, sun angles, CRS and transform.

    Examples
    --------
    >>> ds = Landsat("landsat", bands=["red", "nir"])  # doctest: +SKIP
    >>> ds[0]["image"].dtype  # doctest: +SKIP
    dtype('float32')
    """

    name = "landsat-c2"
    task = "scene"
    source = (
        "USGS Landsat 8/9 OLI/TIRS Collection 2 Level-1 and Level-2 scenes; public domain (USGS)"
    )
    manual_download = (
        "Landsat scenes need a free USGS login: order them on https://earthexplorer.usgs.gov "
        "(or the requester-pays s3://usgs-landsat bucket), extract each scene's .tar into "
        "ROOT/<product id>/ so that ROOT/<product id>/<product id>_MTL.txt and the _B*.TIF "
        "band files sit side by side."
    )
    bands = get_sensor("landsat8").names

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        bands: Sequence[str] | None = None,
        product: str = "reflectance",
        split: str | None = None,
        transforms: Transform | None = None,
    ) -> None:
        super().__init__(root, split=split, transforms=transforms)
        folders = {
            p.parent for pattern in ("*_MTL.txt", "*_MTL.json") for p in self.root.rglob(pattern)
        }
        self.scenes = sorted(folders)
        if not self.scenes:
            raise DatasetError(f"{self.name}: no *_MTL.txt or *_MTL.json under {self.root}")
        if product not in PRODUCTS:
            raise InvalidInputError(
                f"product must be one of {', '.join(PRODUCTS)}, got {product!r}"
            )
        self.product = product
        self.band_request = list(bands) if bands is not None else None
        if bands is not None:
            self.bands = tuple(get_sensor("landsat8").band(b).name for b in bands)

    def __len__(self) -> int:
        return len(self.scenes)

    def _load(self, index: int) -> Sample:
        da = open_landsat(self.scenes[index], bands=self.band_request, product=self.product)
        meta = {
            "file": str(self.scenes[index]),
            "id": da.attrs["scene_id"],
            "bands": [str(b) for b in da.band.values],
            "crs": da.rio.crs.to_string() if da.rio.crs is not None else None,
            "transform": tuple(da.rio.transform())[:6],
            **{k: v for k, v in da.attrs.items() if k != "source"},
        }
        return {"image": da.values, "meta": meta}
