"""Pansharpening of whole in-memory arrays already on the pan grid.

One implementation, :func:`pansharpen_arrays`, for every method: the
statistics come from these arrays (*global*), then the kernel runs on them.
:func:`fast_ihs`, :func:`gram_schmidt` and :func:`pca` are it with the method
fixed (they predate it and stay).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from satlearn.deprecation import method_name
from satlearn.ops.pansharpen._hpf import default_window_px
from satlearn.ops.pansharpen._inputs import kernel_arrays
from satlearn.ops.pansharpen._methods import (
    ALIASES,
    SPELLINGS,
    WHAT,
    method_parameters,
    needs_statistics,
    run_kernel,
)
from satlearn.ops.pansharpen._statistics import estimate_statistics, mtf_sigma

__all__ = ["fast_ihs", "gram_schmidt", "pansharpen_arrays", "pca"]


def pansharpen_arrays(
    ms: np.ndarray,
    pan: np.ndarray,
    *,
    method: str = "brovey",
    weights: Any = None,
    ratio: float = 2.0,
    mtf_gain: float = 0.3,
    injection: str = "local",
    window_px: int | None = None,
) -> np.ndarray:
    """Pansharpen numpy arrays on one grid, with statistics from these arrays (global).

    The in-memory counterpart of :func:`pansharpen` for an MS already
    resampled onto the pan grid (:func:`resample_to_pan`): the same methods
    and options, in the inputs' float dtype.

    Parameters
    ----------
    ms : ndarray, shape (B, H, W)
        Multispectral bands on the pan grid; NaN marks nodata.
    pan : ndarray, shape (H, W) or (1, H, W)
        Panchromatic band.
    method : {"brovey", "mean", "ihs", "gram-schmidt", "pca", "hpf"}
        As for :func:`pansharpen` (aliases too; underscores warn).
    weights : sequence of floats or "auto", optional
        Intensity weights (Brovey, IHS, Gram-Schmidt).
    ratio : float
        MS / pan pixel-size ratio, which sets the MTF-matched low-pass.
    mtf_gain : float
        MS MTF gain at Nyquist (:func:`mtf_sigma`).
    injection : {"local", "global", "modulation"}
        HPF only (see :func:`hpf`).
    window_px : int, optional
        HPF local-gain window in pan pixels; default ``2 * ratio + 1``.

    Returns
    -------
    ndarray, shape (B, H, W)

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> pansharpen_arrays(rng.random((3, 8, 8)), rng.random((8, 8)), method="pca").shape
    (3, 8, 8)
    """
    # method_name directly, not canonical_method: its warning then names the caller's line.
    name = method_name(method, SPELLINGS, what=WHAT)
    name = ALIASES.get(name, name)
    ms, pan = kernel_arrays(ms, pan)
    sigma = mtf_sigma(ratio, mtf_gain=mtf_gain)
    if window_px is None:
        window_px = default_window_px(ratio)
    stats = None
    if needs_statistics(name, weights, injection):
        stats = estimate_statistics(ms, pan, sigma_px=sigma)
    options = method_parameters(
        name,
        stats,
        count=ms.shape[0],
        weights=weights,
        sigma_px=sigma,
        injection=injection,
        window_px=window_px,
    )
    return run_kernel(name, ms, pan, options)


def fast_ihs(
    ms: np.ndarray,
    pan: np.ndarray,
    *,
    weights: Any = None,
    ratio: float = 2.0,
    mtf_gain: float = 0.3,
) -> np.ndarray:
    """Fast IHS on whole in-memory arrays: ``pansharpen_arrays(method="ihs")``.

    ``out_k = MS_k + (PAN' - I)``, ``I = w . MS`` (default equal weights;
    ``"auto"``: regressed), ``PAN'`` the pan matched to ``I``. Global.

    References
    ----------
    Tu et al. (2001), https://doi.org/10.1016/S1566-2535(01)00036-7

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> fast_ihs(rng.random((3, 8, 8)), rng.random((8, 8))).shape
    (3, 8, 8)
    """
    return pansharpen_arrays(ms, pan, method="ihs", weights=weights, ratio=ratio, mtf_gain=mtf_gain)


def gram_schmidt(
    ms: np.ndarray,
    pan: np.ndarray,
    *,
    weights: Any = None,
    ratio: float = 2.0,
    mtf_gain: float = 0.3,
) -> np.ndarray:
    """Gram-Schmidt on whole in-memory arrays: ``pansharpen_arrays(method="gram-schmidt")``.

    ``weights="auto"``: GS-Adaptive. Global.

    References
    ----------
    Laben & Brower (2000), US Patent 6,011,875; Aiazzi, Baronti & Selva
    (2007), https://doi.org/10.1109/TGRS.2007.901007

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> gram_schmidt(rng.random((3, 8, 8)), rng.random((8, 8)), weights="auto").shape
    (3, 8, 8)
    """
    return pansharpen_arrays(
        ms, pan, method="gram-schmidt", weights=weights, ratio=ratio, mtf_gain=mtf_gain
    )


def pca(
    ms: np.ndarray, pan: np.ndarray, *, ratio: float = 2.0, mtf_gain: float = 0.3
) -> np.ndarray:
    """PCA substitution on whole in-memory arrays: ``pansharpen_arrays(method="pca")``. Global.

    References
    ----------
    Chavez, Sides & Anderson (1991), PE&RS 57(3):295-303.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> pca(rng.random((3, 8, 8)), rng.random((8, 8))).shape
    (3, 8, 8)
    """
    return pansharpen_arrays(ms, pan, method="pca", ratio=ratio, mtf_gain=mtf_gain)
