"""Pansharpening: fuse a multispectral image with a sharper panchromatic band.

Six methods, each a pure numpy kernel ``(ms_on_pan_grid (B, H, W), pan (H, W),
**options) -> (B, H, W)``:

``"brovey"``
    Brovey transform as GDAL and rio-pansharpen compute it: a pseudo-pan
    ``I = sum_k w_k MS_k`` and ``out_k = MS_k * PAN / I`` (Gillespie et al.
    1987). Keeps each pixel's spectral angle of the resampled MS.
``"mean"``
    Simple mean, ``(MS_k + PAN) / 2`` (rio-pansharpen's ``simple_mean``).
``"ihs"``
    Fast (generalised) IHS: ``out_k = MS_k + (PAN' - I)`` with ``PAN'`` the pan
    matched in mean and standard deviation to ``I`` (Tu et al. 2001).
``"gram-schmidt"``
    Gram-Schmidt spectral sharpening (Laben & Brower 2000) in its
    component-substitution form: ``out_k = MS_k + g_k (PAN' - I)`` with
    ``g_k = cov(MS_k, I) / var(I)`` (Aiazzi et al. 2007). ``weights="auto"``
    gives GS-Adaptive (GSA): ``I`` weights regressed from the low-passed pan.
``"pca"``
    Principal-component substitution: the first principal component is
    replaced by the matched pan (Chavez et al. 1991), i.e. substitution with
    ``w = g = v_1``, the leading eigenvector of the MS covariance.
``"hpf"``
    High-pass filter fusion (Chavez et al. 1991) with an MTF-matched Gaussian
    low-pass: ``out_k = MS_k + g_k (PAN - PAN_low)``; gains regressed in a
    small moving window (``injection="local"``, the default: context-adaptive
    injection, Aiazzi et al. 2002), once for the image (``"global"``), or
    ``MS_k / PAN_low`` per pixel (``"modulation"``, high-pass modulation).

Method names are spelt with hyphens; the underscore spelling
(``"gram_schmidt"``) works for one release with a :class:`DeprecationWarning`.

Two-pass design
---------------
Methods whose parameters depend on the whole image (IHS, Gram-Schmidt and PCA
need the mean and covariance of the MS bands and the pan; "auto" weights,
HPF's global gains and its local-gain regularisation need the regression of
the low-passed pan on the MS bands) first estimate one joint mean/covariance
of ``[MS_1..MS_B, PAN, PAN_low]`` (:func:`estimate_statistics`; *global*) — on
every pixel when the scene has at most ``sample_pixels`` pixels, otherwise on
a subset of evenly spread dask blocks (or a strided sample of a numpy array)
of about that many pixels. The second pass applies the kernel block by block
(``dask.array.map_blocks``; *blockwise*); HPF, whose low-pass and local
windows reach past a block's edge, goes through ``map_overlap`` so blocks see
their neighbours (*blockwise with a halo*, 7 pan pixels at ratio 2 with the
defaults). Brovey with fixed weights, the simple mean and HPF's modulation
need no first pass.

Resampling of the MS onto the pan grid honours both grids' transforms
(pixel-is-area; the grids may differ in origin, as Landsat 8's do), block by
block for dask inputs: each output block reads only the MS window it covers,
plus a margin of 4 MS pixels for the kernel. Nearest, bilinear and cubic (the
default, as in GDAL's own pansharpening) on north-up grids use GDAL's kernels
(Keys cubic, a = -0.5) applied axis by axis in one compiled float32 pass
(numba), which is faster than GDAL's general warper and thread-safe; other
resamplings, and rotated grids, go through :func:`rasterio.warp.reproject`.
At the outermost two MS pixels the two differ slightly (edge pixels are
repeated here).

Layout
------
One private module per job, this face re-exporting every public name:
``_inputs`` (the MS and pan checked, their grids), ``_resample`` (the
compiled separable resampling and GDAL's warper), ``_statistics`` (the first
pass), one module per method (``_brovey``, ``_mean``, ``_ihs``,
``_gram_schmidt``, ``_pca``, ``_hpf``; ``_substitution`` is the kernel the
IHS, Gram-Schmidt and PCA share), ``_methods`` (names and dispatch),
``_arrays`` (whole numpy arrays: :func:`pansharpen_arrays`), ``_pansharpen``
(:func:`pansharpen`, the two passes on DataArrays) and ``_gdal`` (GDAL's
VRT pansharpening, the peer). xarray, rioxarray, rasterio, scipy, dask and
numba load on first use, not on import.

References
----------
Gillespie, A. R., Kahle, A. B., & Walker, R. E. (1987). Color enhancement of
highly correlated images. II. Remote Sensing of Environment, 22(3), 343-365.
https://doi.org/10.1016/0034-4257(87)90088-5

Chavez, P. S., Sides, S. C., & Anderson, J. A. (1991). Comparison of three
different methods to merge multiresolution and multispectral data.
Photogrammetric Engineering & Remote Sensing, 57(3), 295-303.

Laben, C. A., & Brower, B. V. (2000). Process for enhancing the spatial
resolution of multispectral imagery using pan-sharpening. US Patent 6,011,875.

Tu, T.-M., Su, S.-C., Shyu, H.-C., & Huang, P. S. (2001). A new look at
IHS-like image fusion methods. Information Fusion, 2(3), 177-186.
https://doi.org/10.1016/S1566-2535(01)00036-7

Aiazzi, B., Baronti, S., & Selva, M. (2007). Improving component substitution
pansharpening through multivariate regression of MS+Pan data. IEEE TGRS,
45(10), 3230-3239. https://doi.org/10.1109/TGRS.2007.901007

Vivone, G., et al. (2015). A critical comparison among pansharpening
algorithms. IEEE TGRS, 53(5), 2565-2586. https://doi.org/10.1109/TGRS.2014.2361734

Examples
--------
>>> from satlearn.ops.pansharpen import METHODS, canonical_method
>>> METHODS
('brovey', 'mean', 'ihs', 'gram-schmidt', 'pca', 'hpf')
>>> canonical_method("gs")
'gram-schmidt'
"""

from __future__ import annotations

from satlearn.ops.pansharpen._arrays import fast_ihs, gram_schmidt, pansharpen_arrays, pca
from satlearn.ops.pansharpen._brovey import brovey
from satlearn.ops.pansharpen._gdal import gdal_pansharpen
from satlearn.ops.pansharpen._hpf import hpf
from satlearn.ops.pansharpen._inputs import check_same_crs, ms_bands, pan_plane
from satlearn.ops.pansharpen._mean import simple_mean
from satlearn.ops.pansharpen._methods import METHODS, canonical_method, method_parameters
from satlearn.ops.pansharpen._pansharpen import pansharpen
from satlearn.ops.pansharpen._resample import resample_to_pan
from satlearn.ops.pansharpen._statistics import FusionStatistics, estimate_statistics, mtf_sigma
from satlearn.ops.pansharpen._substitution import component_substitution

__all__ = [
    "METHODS",
    "FusionStatistics",
    "brovey",
    "canonical_method",
    "check_same_crs",
    "component_substitution",
    "estimate_statistics",
    "fast_ihs",
    "gdal_pansharpen",
    "gram_schmidt",
    "hpf",
    "method_parameters",
    "ms_bands",
    "mtf_sigma",
    "pan_plane",
    "pansharpen",
    "pansharpen_arrays",
    "pca",
    "resample_to_pan",
    "simple_mean",
]
