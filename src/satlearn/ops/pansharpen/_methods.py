"""The method names, and for each its kernel and the options the first pass gives it.

One table, so that :func:`pansharpen` (DataArrays, blockwise) and
:func:`pansharpen_arrays` (whole numpy arrays) dispatch the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from satlearn.deprecation import method_name, renamed_keywords
from satlearn.errors import InvalidInputError
from satlearn.ops.pansharpen._brovey import brovey
from satlearn.ops.pansharpen._gram_schmidt import gram_schmidt_parameters
from satlearn.ops.pansharpen._hpf import hpf, hpf_parameters
from satlearn.ops.pansharpen._ihs import ihs_parameters
from satlearn.ops.pansharpen._mean import simple_mean
from satlearn.ops.pansharpen._pca import pca_parameters
from satlearn.ops.pansharpen._statistics import FusionStatistics, resolve_weights
from satlearn.ops.pansharpen._substitution import component_substitution

__all__ = [
    "ALIASES",
    "METHODS",
    "SPELLINGS",
    "WHAT",
    "canonical_method",
    "method_parameters",
    "needs_statistics",
    "run_kernel",
]

#: The method names :func:`pansharpen` accepts (hyphens, as on the command line).
METHODS: tuple[str, ...] = ("brovey", "mean", "ihs", "gram-schmidt", "pca", "hpf")
#: Other names of the methods, accepted without a warning.
ALIASES = {
    "gs": "gram-schmidt",
    "gramschmidt": "gram-schmidt",
    "simple-mean": "mean",
    "fast-ihs": "ihs",
    "gihs": "ihs",
    "high-pass": "hpf",
}
#: Every accepted spelling, for :func:`satlearn.deprecation.method_name`.
SPELLINGS: tuple[str, ...] = (*METHODS, *ALIASES)
#: How messages name the ``method=`` option.
WHAT = "pansharpening method"


def canonical_method(method: Any) -> str:
    """The canonical name of a pansharpening method: hyphens, aliases resolved.

    An underscore spelling (``"gram_schmidt"``) works for one release with a
    :class:`DeprecationWarning`.

    Raises
    ------
    InvalidInputError
        An unknown name; the message lists the accepted ones.

    Examples
    --------
    >>> canonical_method("GS")
    'gram-schmidt'
    """
    name = method_name(method, SPELLINGS, what=WHAT)
    return ALIASES.get(name, name)


def needs_statistics(method: str, weights: Any, injection: str = "local") -> bool:
    """Whether ``method`` (canonical) with these options needs the first pass."""
    if method == "brovey":
        return isinstance(weights, str)
    if method == "hpf":
        return injection != "modulation"
    return method != "mean"


@renamed_keywords(sigma="sigma_px", window="window_px")
def method_parameters(
    method: str,
    stats: FusionStatistics | None,
    *,
    count: int,
    weights: Any = None,
    sigma_px: float = 1.0,
    injection: str = "local",
    window_px: int = 5,
) -> dict[str, Any]:
    """The keyword options of ``method``'s kernel, given the first-pass statistics.

    Parameters
    ----------
    method : str
        A method name or alias (:data:`METHODS`).
    stats : FusionStatistics or None
        The first pass (:func:`estimate_statistics`); None where the method
        needs none (:func:`needs_statistics`).
    count : int
        Number of MS bands.
    weights, sigma_px, injection, window_px
        As for :func:`pansharpen` (``sigma_px``: the pan low-pass, pan
        pixels; ``window_px``: HPF's local window, pan pixels). ``sigma=``
        and ``window=`` are their old spellings (one release, with a warning).

    Returns
    -------
    dict
        Keyword arguments of :func:`brovey`, :func:`simple_mean`,
        :func:`hpf` or :func:`component_substitution`.

    Raises
    ------
    InvalidInputError
        An unknown method or injection, bad weights, or no statistics where
        the method needs them.
    """
    # method_name directly, not canonical_method, and one level up for renamed_keywords:
    # its warning then names the caller's line.
    name = method_name(method, SPELLINGS, what=WHAT, stacklevel=4)
    method = ALIASES.get(name, name)
    if method == "mean":
        return {}
    if method == "brovey":
        return {"weights": resolve_weights(weights, stats, count)}
    if method == "hpf":
        return hpf_parameters(
            stats, count=count, sigma_px=sigma_px, injection=injection, window_px=window_px
        )
    if stats is None:
        raise InvalidInputError(f"method {method!r} needs image statistics")
    if method == "pca":
        return pca_parameters(stats, count=count)
    if method == "ihs":
        return ihs_parameters(stats, count=count, weights=weights)
    return gram_schmidt_parameters(stats, count=count, weights=weights)


def run_kernel(method: str, ms: np.ndarray, pan: np.ndarray, options: dict[str, Any]) -> Any:
    """Apply ``method``'s (canonical) kernel with the options of :func:`method_parameters`."""
    if method == "brovey":
        return brovey(ms, pan, **options)
    if method == "mean":
        return simple_mean(ms, pan)
    if method == "hpf":
        return hpf(ms, pan, **options)
    return component_substitution(ms, pan, **options)
