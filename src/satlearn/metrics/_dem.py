"""A DEM against a reference DEM: RMSE, NMAD, bias, LE90.

The robust figures photogrammetry reports for a height model (Höhle & Höhle
2009): ``nmad = 1.4826 * median(|e - median(e)|)`` is the spread that
blunders do not pull, ``rmse`` the one they do, ``le90`` the 90th
percentile of ``|e|``. Scores the DEMs of :func:`satlearn.ops.stereo.stereo_dem`
(``StereoResult.scores``).

References
----------
.. [1] J. Höhle and M. Höhle, "Accuracy assessment of digital elevation
   models by means of robust statistical methods", ISPRS J. Photogramm. 64(4),
   398-406 (2009). doi:10.1016/j.isprsjprs.2009.02.003
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from satlearn.errors import InvalidInputError, NoValidDataError

__all__ = ["DemAccuracy", "dem_accuracy"]


@dataclass(frozen=True)
class DemAccuracy:
    """Errors of a DEM against a reference, metres (estimate - reference).

    ``nmad = 1.4826 * median(|e - median(e)|)`` is the robust spread
    photogrammetry reports (Höhle & Höhle 2009); ``rmse`` is pulled by
    blunders; ``le90`` is the 90th percentile of ``|e|``.
    """

    rmse: float
    nmad: float
    bias: float
    median: float
    le90: float
    max_abs: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        """The figures as a plain dict (for JSON reports)."""
        return asdict(self)


def dem_accuracy(estimate: Any, reference: Any, *, valid: Any = None) -> DemAccuracy:
    """RMSE, NMAD, bias and LE90 of ``estimate`` against ``reference``.

    Pixels where either is NaN, or ``valid`` is False, are left out. Arrays
    or DataArrays (dask-backed ones are computed); a reduction over all
    pixels.

    Parameters
    ----------
    estimate, reference : array-like
        Heights (m) of the same shape (length-1 dims are squeezed).
    valid : bool array-like, optional
        Pixels to score (e.g. those matched before hole filling).

    Returns
    -------
    DemAccuracy

    Raises
    ------
    InvalidInputError
        Shapes differ.
    NoValidDataError
        No pixel to compare.

    Examples
    --------
    >>> import numpy as np
    >>> dem_accuracy(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 2.0])).max_abs
    1.0
    """
    est = np.asarray(estimate, dtype=np.float64).squeeze()
    ref = np.asarray(reference, dtype=np.float64).squeeze()
    if est.shape != ref.shape:
        raise InvalidInputError(f"estimate has shape {est.shape} but reference has {ref.shape}")
    keep = np.isfinite(est) & np.isfinite(ref)
    if valid is not None:
        keep &= np.asarray(valid, dtype=bool).squeeze()
    if not keep.any():
        raise NoValidDataError("no pixel where both the estimate and the reference are valid")
    errors = est[keep] - ref[keep]
    median = float(np.median(errors))
    return DemAccuracy(
        rmse=float(np.sqrt(np.mean(errors**2))),
        nmad=float(1.4826 * np.median(np.abs(errors - median))),
        bias=float(errors.mean()),
        median=median,
        le90=float(np.percentile(np.abs(errors), 90)),
        max_abs=float(np.abs(errors).max()),
        n=int(errors.size),
    )
