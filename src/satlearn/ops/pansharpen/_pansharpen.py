"""The public op: :func:`pansharpen` on DataArrays, in memory or block by block.

Two passes. The first (*global*) estimates the statistics the method needs
(:mod:`._statistics`: every pixel, or a spread-out sample of blocks on
large scenes). The second applies the kernel block by block
(``dask.array.map_blocks``); HPF, whose low-pass and local windows reach past
a block's edge, goes through ``map_overlap`` with a halo of
:func:`~._hpf.hpf_halo` pan pixels. Brovey with fixed weights, the simple
mean and HPF's modulation need no first pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from satlearn.deprecation import method_name, renamed_keywords
from satlearn.errors import InvalidInputError
from satlearn.ops.pansharpen._hpf import check_injection, default_window_px, hpf_halo
from satlearn.ops.pansharpen._inputs import (
    F32,
    as_float_nan,
    band_vector,
    ms_bands,
    pan_plane,
    pixel_size,
)
from satlearn.ops.pansharpen._methods import (
    ALIASES,
    SPELLINGS,
    WHAT,
    method_parameters,
    needs_statistics,
    run_kernel,
)
from satlearn.ops.pansharpen._resample import check_pan_grid, resample_brovey, resample_to_pan
from satlearn.ops.pansharpen._statistics import low_pass, mtf_sigma, sample_statistics

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["pansharpen"]


@renamed_keywords(window="window_px")
def pansharpen(
    ms: xr.DataArray,
    pan: xr.DataArray,
    *,
    method: str = "brovey",
    weights: Sequence[float] | str | None = None,
    resampling: str = "cubic",
    injection: str = "local",
    window_px: int | None = None,
    mtf_gain: float = 0.3,
    sample_pixels: int = 4_000_000,
    chunks: int | None = None,
) -> xr.DataArray:
    """Pansharpen a multispectral image with a panchromatic band.

    How it runs on chunks: the MS is resampled onto the pan grid per pan
    block (*blockwise with a halo* of 4 MS pixels); methods with image
    statistics (IHS, Gram-Schmidt, PCA, ``weights="auto"``, HPF's gains) fit
    them first (*global*, on a sample of about ``sample_pixels`` pixels); the
    fusion is then *blockwise*, and for HPF *blockwise with a halo* of
    ``int(4 sigma + 0.5) + window_px // 2 + 1`` pan pixels (``sigma`` =
    :func:`mtf_sigma` of the ratio: 7 px at ratio 2 with the defaults).

    Parameters
    ----------
    ms : xarray.DataArray
        (band, y, x) multispectral image, georeferenced (``ms.rio``).
    pan : xarray.DataArray
        (y, x) or (1, y, x) panchromatic band of finer resolution, in the
        same CRS. Its grid is the output grid.
    method : {"brovey", "mean", "ihs", "gram-schmidt", "pca", "hpf"}
        Fusion method (see the package docstring); aliases ``"gs"``,
        ``"simple-mean"``, ``"fast-ihs"``. Underscore spellings
        (``"gram_schmidt"``) work for one release, with a
        :class:`DeprecationWarning`.
    weights : sequence of floats or "auto", optional
        Intensity weights for Brovey, IHS and Gram-Schmidt (default equal,
        ``1/B``, like GDAL); ``"auto"`` regresses them (non-negative least
        squares) from the low-passed pan, which suits sensors whose pan does
        not cover every MS band (Landsat 8's pan misses the NIR).
    resampling : str
        How the MS is resampled onto the pan grid (default cubic, as GDAL).
    injection : {"local", "global", "modulation"}
        HPF only: local regression gains (default), one gain per band, or
        high-pass modulation (see :func:`hpf`).
    window_px : int, optional
        HPF local-gain window in pan pixels; default ``2 * ratio + 1``.
        ``window=`` is its old spelling (one release, with a warning).
    mtf_gain : float
        MS MTF gain at Nyquist, sets the pan low-pass of HPF and of the
        statistics (:func:`mtf_sigma`).
    sample_pixels : int
        Pixel budget of the first (statistics) pass on large scenes.
    chunks : int, optional
        Process numpy inputs block by block with dask in ``chunks`` x
        ``chunks`` pan blocks (dask inputs keep the pan's chunks).

    Returns
    -------
    xarray.DataArray
        float32 (band, y, x) on the pan grid with the MS band names; dask
        backed when an input is (or ``chunks`` is given); NaN where there is
        no data (``rio.nodata`` is NaN); ``attrs["pansharpen_method"]`` holds
        the method's canonical name.

    Raises
    ------
    CRSMismatchError
        The MS and pan CRSs differ.
    DimensionError
        An input is not a numeric DataArray with the dims above, or a
        multi-band pan (ms and pan swapped?).
    InvalidInputError
        Bad method, weights or options; a pan coarser than the MS (swapped
        again); footprints do not overlap.

    Examples
    --------
    >>> sharp = pansharpen(ms, pan, method="gram-schmidt", weights="auto")  # doctest: +SKIP
    >>> sharp.sizes == {"band": ms.sizes["band"], **pan.sizes}  # doctest: +SKIP
    True
    """
    # method_name directly, not canonical_method, and one level up for renamed_keywords:
    # its warning then names the caller's line.
    name = method_name(method, SPELLINGS, what=WHAT, stacklevel=4)
    name = ALIASES.get(name, name)
    check_injection(injection)
    ms = ms_bands(ms)
    pan = pan_plane(pan)
    if chunks is not None:
        if not isinstance(chunks, int) or isinstance(chunks, bool) or chunks < 16:
            raise InvalidInputError(f"chunks must be an int >= 16, got {chunks!r}")
        pan = pan.chunk({"y": chunks, "x": chunks})
    elif ms.chunks is not None and pan.chunks is None:
        pan = pan.chunk({"y": 2048, "x": 2048})
    count = ms.sizes["band"]
    if weights is not None and not isinstance(weights, str):
        band_vector(weights, count, "weights")
    ms_res = pixel_size(ms.rio.transform(recalc=False))
    pan_res = pixel_size(pan.rio.transform(recalc=False))
    # The pan must be the finer image: a coarser "pan" means the two were
    # swapped, and fusing them would write the MS at the coarse grid.
    if pan_res > ms_res * (1 + 1e-6):
        raise InvalidInputError(
            f"pan pixels ({pan_res:.6g}) are coarser than the MS pixels ({ms_res:.6g}): "
            "the panchromatic band must have the finer pixels; were ms and pan swapped? "
            "(ms is the first argument, pan the second)"
        )
    ratio = ms_res / pan_res
    # Brovey with fixed weights needs no first pass: it runs fused with the
    # resampling (resample_brovey), so the resampled MS, the pseudo-pan and the
    # ratio are never scene-sized arrays. The grid is checked here all the same,
    # so that errors come in the same order as on the other methods.
    fused = name == "brovey" and not isinstance(weights, str)
    if fused:
        check_pan_grid(ms, pan, resampling)
    else:
        ms_up = resample_to_pan(ms, pan, resampling=resampling)
    sigma = mtf_sigma(ratio, mtf_gain=mtf_gain)
    if window_px is None:
        window_px = default_window_px(ratio)
    if not isinstance(window_px, int) or isinstance(window_px, bool) or window_px < 1:
        raise InvalidInputError(f"window_px must be a positive int, got {window_px!r}")
    pan_data = as_float_nan(pan.data, pan.rio.nodata)
    if fused:
        options = method_parameters(name, None, count=count, weights=weights)
        out = resample_brovey(ms, pan, pan_data, weights=options["weights"], resampling=resampling)
        out.attrs = {**out.attrs, "pansharpen_method": name}
        return out
    lazy = pan.chunks is not None
    stats = None
    if needs_statistics(name, weights, injection):
        pan_low = low_pass(pan_data, sigma, lazy)
        stats = sample_statistics(ms_up.data, pan_data, pan_low, sample_pixels, lazy)
    options = method_parameters(
        name,
        stats,
        count=count,
        weights=weights,
        sigma_px=sigma,
        injection=injection,
        window_px=window_px,
    )
    data = _apply(name, ms_up.data, pan_data, options, lazy)
    out = ms_up.copy(data=data)
    out.attrs = {**ms_up.attrs, "pansharpen_method": name}
    return out


def _apply_block(
    ms_block: np.ndarray, pan_block: np.ndarray, *, method: str, options: dict[str, Any]
) -> np.ndarray:
    return run_kernel(method, ms_block, pan_block[0], options).astype(F32, copy=False)


def _apply(method: str, ms_up: Any, pan: Any, options: dict[str, Any], lazy: bool) -> Any:
    if not lazy:
        return run_kernel(method, ms_up, pan, options).astype(F32, copy=False)
    import dask.array as dsa

    if method != "hpf":
        return dsa.map_blocks(
            _apply_block,
            ms_up,
            pan[None],
            dtype=F32,
            chunks=ms_up.chunks,
            method=method,
            options=options,
        )
    # The low-pass (scipy truncates at 4 sigma) and the local window reach past a block.
    reach = min(hpf_halo(options), *(min(c) for c in ms_up.chunks[1:]))
    return dsa.map_overlap(
        _apply_block,
        ms_up,
        pan[None],
        depth={0: 0, 1: reach, 2: reach},
        boundary="reflect",
        dtype=F32,
        method=method,
        options=options,
    )
