"""The ``"s2cloudless"`` detector: Sentinel Hub's LightGBM pixel model, used as is.

Blockwise with a halo of 2 px: the model's probability is averaged over a
disk of radius 1 and the mask dilated by a disk of radius 1, so each dask
block is run with 2 pixels of its neighbours and trimmed, which makes the
lazy result equal to a whole-scene call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from satlearn.ops.clouds._data import NODATA_CLASS, is_dask, scene_reflectance

__all__ = ["S2CLOUDLESS_BANDS", "S2CLOUDLESS_HALO_PX", "s2cloudless_codes"]

#: The s2cloudless model's bands B01, B02, B04, B05, B08, B8A, B09, B10, B11, B12.
S2CLOUDLESS_BANDS: tuple[str, ...] = (
    "coastal", "blue", "red", "rededge1", "nir", "nir08", "nir09", "cirrus", "swir16", "swir22",
)  # fmt: skip
#: Pixels each block sees around it: averaging (radius 1) then dilation (radius 1).
S2CLOUDLESS_HALO_PX = 2


def _detector() -> Any:
    # Imported on first use: the package pulls in sentinelhub (about 3 s).
    from s2cloudless import S2PixelCloudDetector

    return S2PixelCloudDetector(all_bands=False)


def _block_codes(refl: np.ndarray) -> np.ndarray:
    """Mask of one reflectance block of the 10 model bands: uint8 1 cloud, 0 clear, 255 nodata."""
    bad = ~np.all(np.isfinite(refl), axis=0)
    if bad.all():
        return np.full(bad.shape, NODATA_CLASS, dtype=np.uint8)
    # A new array, not in place: a dask block may be shared with other tasks.
    refl = np.where(bad, np.float32(0.0), refl)
    detector = _detector()
    probability = detector.get_cloud_probability_maps(np.moveaxis(refl, 0, -1)[None])
    mask = detector.get_mask_from_prob(probability)[0].astype(np.uint8)
    mask[bad] = NODATA_CLASS
    return mask


def s2cloudless_codes(da: xr.DataArray) -> Any:
    """uint8 1 cloud / 0 clear / 255 nodata of the s2cloudless model (numpy or lazy dask)."""
    refl = scene_reflectance(da, S2CLOUDLESS_BANDS, "s2cloudless")
    if not is_dask(refl):
        return _block_codes(np.asarray(refl))
    import dask.array

    # The averaging and dilation disks (radius 1 each) look 2 pixels around;
    # a 2-pixel halo of real neighbours makes every block exact. At the scene
    # edges (boundary="none") OpenCV's own reflect border applies, as for a
    # whole-scene call.
    halo = S2CLOUDLESS_HALO_PX
    return dask.array.map_overlap(
        lambda b: _block_codes(b)[None],
        refl,
        depth={0: 0, 1: halo, 2: halo},
        boundary="none",
        dtype=np.uint8,
        trim=True,
    )[0]
