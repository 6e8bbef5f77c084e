"""GDAL's own pansharpening (a ``VRTPansharpenedDataset``), the peer satlearn is checked against."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

import numpy as np

from satlearn.errors import InvalidInputError
from satlearn.ops.pansharpen._inputs import band_vector

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["gdal_pansharpen"]


def _gdal_vrt_xml(
    pan_path: str,
    ms_path: str,
    count: int,
    weights: np.ndarray,
    resampling: str,
    dtype: str,
    threads: str,
) -> str:
    bands = "".join(
        f'  <VRTRasterBand dataType="{dtype}" band="{i}" subClass="VRTPansharpenedRasterBand"/>\n'
        for i in range(1, count + 1)
    )
    spectral = "".join(
        f'    <SpectralBand dstBand="{i}">\n'
        f'      <SourceFilename relativeToVRT="0">{escape(ms_path)}</SourceFilename>\n'
        f"      <SourceBand>{i}</SourceBand>\n"
        "    </SpectralBand>\n"
        for i in range(1, count + 1)
    )
    weight_text = ",".join(f"{w:.17g}" for w in weights)
    return (
        '<VRTDataset subClass="VRTPansharpenedDataset">\n'
        f"{bands}"
        "  <PansharpeningOptions>\n"
        "    <Algorithm>WeightedBrovey</Algorithm>\n"
        f"    <AlgorithmOptions><Weights>{weight_text}</Weights></AlgorithmOptions>\n"
        f"    <Resampling>{resampling}</Resampling>\n"
        f"    <NumThreads>{threads}</NumThreads>\n"
        "    <SpatialExtentAdjustment>NoneWithoutWarning</SpatialExtentAdjustment>\n"
        "    <PanchroBand>\n"
        f'      <SourceFilename relativeToVRT="0">{escape(pan_path)}</SourceFilename>\n'
        "      <SourceBand>1</SourceBand>\n"
        "    </PanchroBand>\n"
        f"{spectral}"
        "  </PansharpeningOptions>\n"
        "</VRTDataset>\n"
    )


def gdal_pansharpen(
    ms: str | os.PathLike[str],
    pan: str | os.PathLike[str],
    *,
    weights: Sequence[float] | None = None,
    resampling: str = "cubic",
    dtype: str = "Float32",
    threads: int | str = "ALL_CPUS",
) -> xr.DataArray:
    """GDAL's own weighted Brovey (a ``VRTPansharpenedDataset``), read with rasterio.

    The reference satlearn's ``"brovey"`` is checked against, and the peer of
    the benchmark. The VRT XML lives in a temporary file while it is read;
    GDAL computes the whole output at once (in ``threads`` threads).

    Parameters
    ----------
    ms, pan : path
        Multispectral (all bands used, in order) and panchromatic rasters.
    weights : sequence of floats, optional
        Pseudo-pan weights; default ``1/B``.
    resampling : str
        GDAL's resampling of the MS (``cubic`` is GDAL's default).
    dtype : str
        GDAL data type of the output bands (``"Float32"``, ``"UInt16"``...).
    threads : int or "ALL_CPUS"
        GDAL's ``NumThreads`` for the fusion.

    Returns
    -------
    xarray.DataArray
        (band, y, x) on the pan grid.

    Examples
    --------
    >>> ref = gdal_pansharpen("ms.tif", "pan.tif", weights=[0.3, 0.3, 0.4])  # doctest: +SKIP
    """
    import rasterio

    from satlearn.raster import open_raster

    ms_path, pan_path = os.path.abspath(os.fspath(ms)), os.path.abspath(os.fspath(pan))
    for label, path in (("ms", ms_path), ("pan", pan_path)):
        if not Path(path).is_file():
            raise InvalidInputError(f"{label} {path}: no such file")
    with rasterio.open(ms_path) as src:
        count = src.count
    w = np.full(count, 1.0 / count) if weights is None else band_vector(weights, count, "weights")
    xml = _gdal_vrt_xml(pan_path, ms_path, count, w, resampling, dtype, str(threads))
    with tempfile.TemporaryDirectory(prefix="satlearn-pansharpen-") as tmp:
        vrt = Path(tmp) / "pansharpened.vrt"
        vrt.write_text(xml)
        out = open_raster(vrt)
    return out
