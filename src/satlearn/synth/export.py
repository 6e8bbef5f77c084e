"""Write a synthetic scene and its truths to a folder of COGs and GeoJSON.

The image is written as Sentinel-2-style uint16 digital numbers (reflectance
x 10000, scale 1e-4 recorded in the file, 0 = nodata) so that readers meet the
same scaled-integer path as real L1C products; truths are uint8 masks or
float32 fields. Every file is written atomically, so a run that was interrupted
is resumed by running it again: complete files are kept, the rest written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from satlearn.atomic import atomic_output, write_json
from satlearn.errors import InvalidInputError
from satlearn.raster import save_cog

__all__ = ["REFLECTANCE_SCALE", "scene_manifest", "to_digital_numbers", "write_scene"]

#: Reflectance = DN * REFLECTANCE_SCALE, as in Sentinel-2 L1C products.
REFLECTANCE_SCALE = 1e-4


def to_digital_numbers(reflectance: xr.DataArray) -> xr.DataArray:
    """Reflectance (float) to uint16 DN with ``scale``/``offset`` band coordinates.

    DN 0 is reserved for nodata; valid reflectance maps to 1..65535.

    Examples
    --------
    >>> dn = to_digital_numbers(scene.image.isel(time=0))  # doctest: +SKIP
    >>> float(dn.scale[0])  # doctest: +SKIP
    0.0001
    """
    dn = np.clip(np.round(reflectance / REFLECTANCE_SCALE), 1, 65535).astype("uint16")
    dn = dn.assign_coords(
        scale=("band", np.full(dn.sizes["band"], REFLECTANCE_SCALE)),
        offset=("band", np.zeros(dn.sizes["band"])),
    )
    dn.attrs = {}
    return dn.rio.write_nodata(0)


def _dates(scene: Any) -> list[str]:
    return [str(np.datetime_as_string(t, unit="D")) for t in scene.image.coords["time"].values]


def scene_manifest(scene: Any) -> dict[str, Any]:
    """The parameters that identify a synthetic scene (what a resumed run must match)."""
    return {
        "generator": "satlearn.synth",
        "seed": int(scene.seed),
        "sensor": scene.sensor,
        "height": int(scene.image.sizes["y"]),
        "width": int(scene.image.sizes["x"]),
        "bands": [str(b) for b in scene.image.coords["band"].values],
        "dates": _dates(scene),
        "resolution": float(scene.resolution),
        "crs": str(scene.crs),
        "misregistration": [[float(v) for v in shift] for shift in scene.misregistration],
        "sun_azimuth": float(scene.sun_azimuth),
        "sun_zenith": float(scene.sun_zenith),
        "cloud_height_m": float(scene.cloud_height_m),
        "base_to_height": float(scene.base_to_height),
    }


def _layers(scene: Any) -> list[tuple[str, xr.DataArray, str]]:
    """(file stem, 2-D or (band, y, x) array, overview resampling) for every output."""
    dates = _dates(scene)
    layers: list[tuple[str, xr.DataArray, str]] = []
    for i, date in enumerate(dates):
        layers.append((f"image_{date}", to_digital_numbers(scene.image.isel(time=i)), "average"))
        pan = scene.pan.isel(time=i).expand_dims(band=["pan"])
        layers.append((f"pan_{date}", to_digital_numbers(pan), "average"))
    for name in ("stereo_left", "stereo_right"):
        # The rectified pair (epipolar lines = rows) for `satlearn stereo`.
        pair = getattr(scene, name).expand_dims(band=["pan"])
        layers.append((name, to_digital_numbers(pair), "average"))
    for name, truth in scene.truths().items():
        resampling = "average" if np.dtype(truth.dtype).kind == "f" else "nearest"
        if truth.dtype == bool:
            truth = truth.astype("uint8")
        if "time" in truth.dims:
            for i, date in enumerate(dates):
                layers.append((f"{name}_{date}", truth.isel(time=i).rename(name), resampling))
        else:
            layers.append((name, truth.rename(name), resampling))
    return layers


def write_scene(
    scene: Any,
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    on_file: Callable[[Path], None] | None = None,
) -> dict[str, Path]:
    """Write ``scene`` (a :class:`satlearn.synth.SyntheticScene`) into ``out_dir``.

    Writes ``scene.json`` (the parameters, ``base_to_height`` of the stereo
    pair among them), one COG per date for the image and the pan band, the
    rectified stereo pair (``stereo_left``, ``stereo_right``), one COG per
    truth (per date where the truth has a time axis) and ``ships.geojson``.
    Files already complete from an earlier run of the same scene are kept, so
    an interrupted run resumes.

    Raises
    ------
    InvalidInputError
        ``out_dir`` holds a different scene and ``overwrite`` is False.
    """
    root = Path(os.fspath(out_dir))
    manifest = scene_manifest(scene)
    manifest_path = root / "scene.json"
    if manifest_path.exists() and not overwrite:
        previous = json.loads(manifest_path.read_text(encoding="utf-8"))
        previous.pop("files", None)
        if previous != manifest:
            raise InvalidInputError(
                f"{root}: holds a different synthetic scene (seed {previous.get('seed')}, "
                f"size {previous.get('height')}x{previous.get('width')}); "
                "choose another folder or pass --overwrite"
            )
    else:
        # Written first, so a resumed run can tell whose files these are.
        write_json(manifest, manifest_path)
    written: dict[str, Path] = {}
    for stem, layer, resampling in _layers(scene):
        path = root / f"{stem}.tif"
        if overwrite or not path.exists():
            save_cog(layer, path, resampling=resampling)
        written[stem] = path
        if on_file is not None:
            on_file(path)
    ships = root / "ships.geojson"
    with atomic_output(ships) as tmp:
        tmp.write_text(json.dumps(scene.ships_geojson()), encoding="utf-8")
    written["ships"] = ships
    write_json({**manifest, "files": {k: v.name for k, v in written.items()}}, manifest_path)
    written["scene"] = manifest_path
    return written
