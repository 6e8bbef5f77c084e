"""High-pass filter fusion (Chavez et al. 1991) with an MTF-matched Gaussian low-pass.

``out_k = MS_k + g_k (PAN - PAN_low)``; gains regressed in a small moving
window (``injection="local"``, the default: context-adaptive injection,
Aiazzi et al. 2002), once for the image (``"global"``), or ``MS_k /
PAN_low`` per pixel (``"modulation"``, high-pass modulation).

*Blockwise with a halo* of :func:`hpf_halo` pan pixels (the low-pass reaches
4 sigma, the local window half its side); ``"local"`` and ``"global"`` take
their regularisation or gains from the global first pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from satlearn.deprecation import renamed_keywords
from satlearn.errors import InvalidInputError
from satlearn.ops.pansharpen._inputs import band_vector, kernel_arrays
from satlearn.ops.pansharpen._statistics import FusionStatistics, gaussian_low_pass, moments

__all__ = [
    "INJECTIONS",
    "check_injection",
    "default_window_px",
    "hpf",
    "hpf_halo",
    "hpf_parameters",
]

#: How HPF injects the detail (see :func:`hpf`).
INJECTIONS = ("local", "global", "modulation")


def check_injection(injection: Any) -> None:
    """Raise :class:`InvalidInputError` unless ``injection`` is one of :data:`INJECTIONS`."""
    if injection not in INJECTIONS:
        raise InvalidInputError(
            f"injection must be 'local', 'global' or 'modulation', got {injection!r}"
        )


def default_window_px(ratio: float) -> int:
    """HPF's local-gain window (pan pixels) for an MS / pan ``ratio``: ``2 * ratio + 1``.

    One formula for :func:`pansharpen` and :func:`pansharpen_arrays`, which
    must fuse alike.

    Examples
    --------
    >>> default_window_px(2.0), default_window_px(0.4)
    (5, 3)
    """
    return 2 * max(round(ratio), 1) + 1


@renamed_keywords(sigma="sigma_px", window="window_px")
def hpf(
    ms: np.ndarray,
    pan: np.ndarray,
    *,
    sigma_px: float,
    injection: str = "local",
    gains: Sequence[float] | None = None,
    window_px: int = 5,
    regularization: float | None = None,
) -> np.ndarray:
    """High-pass filter fusion: inject ``PAN - G_sigma * PAN`` into each band.

    On whole arrays here (edges reflected); :func:`pansharpen` runs it
    blockwise with a halo of :func:`hpf_halo` pixels.

    Parameters
    ----------
    ms, pan : ndarray
        (B, H, W) MS on the pan grid and the (H, W) pan.
    sigma_px : float
        Standard deviation, in pan pixels, of the Gaussian low-pass
        (:func:`mtf_sigma` gives one matched to the MS sensor's MTF).
        ``sigma=`` is its old spelling (one release, with a warning).
    injection : {"local", "global", "modulation"}
        How much detail each band gets. ``"local"``: gains regressed in a
        ``window_px`` x ``window_px`` neighbourhood, ``cov(MS_k, PAN_low) /
        (var(PAN_low) + regularization)``, so that a band anti-correlated
        with the pan (NIR over vegetation) gets the detail with the right
        sign — the context-adaptive injection of Aiazzi et al. (2002).
        ``"global"``: one gain per band (``gains``, default the whole-array
        regression). ``"modulation"``: high-pass modulation, ``out_k = MS_k
        * PAN / PAN_low``.
    gains : sequence of B floats, optional
        Global gains (``injection="global"``).
    window_px : int
        Side of the local-regression window, in pan pixels (odd); ``window=``
        is its old spelling (one release, with a warning).
    regularization : float, optional
        Added to the local variance of ``PAN_low``; default 1 % of its
        global variance, which keeps flat areas from getting huge gains.

    References
    ----------
    Chavez, Sides & Anderson (1991), PE&RS 57(3):295-303; Aiazzi, B.,
    Alparone, L., Baronti, S., & Garzelli, A. (2002). Context-driven fusion
    of high spatial and spectral resolution images based on oversampled
    multiresolution analysis. IEEE TGRS, 40(10), 2300-2312.
    https://doi.org/10.1109/TGRS.2002.803623

    Examples
    --------
    >>> flat = hpf(np.ones((1, 8, 8)), np.full((8, 8), 5.0), sigma_px=1.0)
    >>> float(flat.max())
    1.0
    """
    from scipy import ndimage

    ms, pan = kernel_arrays(ms, pan)
    pan_low = gaussian_low_pass(pan, sigma_px)
    if injection == "modulation":
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(pan_low != 0, pan / pan_low, 0).astype(ms.dtype, copy=False)
        return ms * ratio
    detail = pan - pan_low
    if injection == "global":
        if gains is None:
            stats = moments(ms, pan, pan_low)
            gains = stats.cov[: stats.count, -1] / max(stats.cov[-1, -1], 1e-24)
        g = band_vector(gains, ms.shape[0], "gains").astype(ms.dtype)
        return ms + g[:, None, None] * detail
    check_injection(injection)
    if not isinstance(window_px, int | np.integer) or window_px < 1:
        raise InvalidInputError(f"window_px must be a positive int, got {window_px!r}")
    if regularization is None:
        regularization = 0.01 * float(np.nanvar(pan_low))

    def box(image: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(image, int(window_px), mode="reflect")

    mean_low = box(pan_low)
    var_low = box(pan_low * pan_low) - mean_low * mean_low
    var_low += ms.dtype.type(max(regularization, 1e-24))
    out = np.empty_like(ms)
    for k in range(ms.shape[0]):  # one band at a time keeps temporaries to a few planes
        cov = box(ms[k] * pan_low) - box(ms[k]) * mean_low
        out[k] = ms[k] + cov / var_low * detail
    return out


def hpf_parameters(
    stats: FusionStatistics | None,
    *,
    count: int,
    sigma_px: float,
    injection: str = "local",
    window_px: int = 5,
) -> dict[str, Any]:
    """The :func:`hpf` options, from the first pass (none needed for ``"modulation"``).

    Raises
    ------
    InvalidInputError
        An unknown ``injection``, or no statistics where they are needed.
    """
    if injection == "modulation":
        return {"sigma_px": sigma_px, "injection": injection}
    if stats is None:
        raise InvalidInputError("method 'hpf' needs image statistics")
    options: dict[str, Any] = {"sigma_px": sigma_px, "injection": injection}
    if injection == "global":
        options["gains"] = stats.cov[:count, -1] / max(stats.cov[-1, -1], 1e-24)
    elif injection == "local":
        options["window_px"] = window_px
        options["regularization"] = 0.01 * float(stats.cov[-1, -1])
    else:
        check_injection(injection)
    return options


def hpf_halo(options: dict[str, Any]) -> int:
    """Pan pixels a block needs around it: scipy's 4-sigma Gaussian plus half the window."""
    return int(4 * options["sigma_px"] + 0.5) + int(options.get("window_px", 1)) // 2 + 1
