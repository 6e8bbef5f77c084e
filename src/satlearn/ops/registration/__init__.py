"""Image registration: sub-pixel phase correlation, feature matching, shift fields.

Three ways to find how a *moving* image lines up with a *reference* image, and
a georeferenced layer that applies the answer to rasters:

* :func:`phase_correlation` -- one translation, to a fraction of a pixel, by
  the upsampled cross-correlation of Guizar-Sicairos et al. (2008), with
  apodisation windows, masks for nodata and clouds, and a confidence figure.
  *Global*.
* :func:`match_features` -- a similarity, affine or homography transform from
  OpenCV keypoints (ORB, AKAZE, SIFT) and RANSAC, for images that also differ
  in rotation and scale. *Global*.
* :func:`shift_field` -- a grid of windowed phase correlations, for
  misalignment that is not one translation; :func:`fit_shift_field` fits a
  smooth polynomial model to it. *Windowed*, no halo.
* :func:`coregister` / :func:`coregister_series` -- the same on ``(band, y,
  x)`` and ``(time, band, y, x)`` DataArrays: update the geotransform (no
  resampling) or resample onto the reference grid. *Global* match, then
  lazy, whole-plane shifts or warps.

Sign convention (the one of :func:`skimage.registration.phase_cross_correlation`):
a shift ``(dy, dx)`` is what registers ``moving`` onto ``reference``, i.e.
``scipy.ndimage.shift(moving, (dy, dx))`` is approximately ``reference``; a
feature on pixel ``(row, col)`` of ``moving`` lies on ``(row + dy, col + dx)``
of ``reference``. Feature matrices map ``moving`` pixel ``(x, y)`` onto
``reference`` pixel ``(x, y)`` (``cv2.warpAffine(moving, matrix[:2], ...)``
gives ``reference``).

How the phase correlation is made fast: real FFTs (:func:`scipy.fft.rfft2`,
all cores) in float32/complex64; the sub-pixel peak is found by matrix-multiply
DFTs on the half spectrum (the cross-correlation of real images is real, so
half the spectrum carries it all), refined in stages -- 1/10 pixel over
+-0.8 pixel, then 1/100 over +-0.1 pixel, ... -- which lands on the same
``1/upsample`` grid as one big upsampled region of 1.5 pixels, at a fraction
of its matrix products.

Layout
------
One private module per job, this flat face re-exporting them (as in
``skimage.registration``); importing the package loads numpy only (scipy,
cv2, xarray, rioxarray and rasterio load with the first call that needs
them):

* ``_arrays``: the checks of the plain-array inputs;
* ``_windows``: apodisation windows, the taper of masked pixels;
* ``_peak``: spectral weights and the staged sub-pixel peak refinement;
* ``_phase``: :func:`phase_correlation` (with Padfield's masked search);
* ``_features``: :func:`match_features`;
* ``_shift_field``: :func:`shift_field`, :func:`fit_shift_field`;
* ``_warp``: :func:`shift_image` and the plane-wise shifts and warps of rasters;
* ``_coregister``: :func:`coregister`, :func:`coregister_series`.

References
----------
.. [1] M. Guizar-Sicairos, S. T. Thurman and J. R. Fienup, "Efficient subpixel
   image registration algorithms", Optics Letters 33(2), 156-158 (2008).
   doi:10.1364/OL.33.000156
.. [2] C. D. Kuglin and D. C. Hines, "The phase correlation image alignment
   method", Proc. IEEE Int. Conf. Cybernetics and Society, 163-165 (1975).
.. [3] D. Padfield, "Masked object registration in the Fourier domain", IEEE
   Transactions on Image Processing 21(5), 2706-2718 (2012).
   doi:10.1109/TIP.2011.2181402
.. [4] M. A. Fischler and R. C. Bolles, "Random sample consensus", Communications
   of the ACM 24(6), 381-395 (1981). doi:10.1145/358669.358692
.. [5] E. Rublee, V. Rabaud, K. Konolige and G. Bradski, "ORB: an efficient
   alternative to SIFT or SURF", ICCV 2011. doi:10.1109/ICCV.2011.6126544

Examples
--------
>>> import numpy as np
>>> from satlearn.ops.registration import phase_correlation
>>> reference = np.random.default_rng(0).random((64, 64))
>>> dy, dx, *_ = phase_correlation(reference, np.roll(reference, (2, -3), axis=(0, 1)))
>>> round(dy), round(dx)
(-2, 3)
"""

from __future__ import annotations

from satlearn.ops.registration._coregister import (
    COREGISTER_METHODS,
    MATCH_BAND_PREFERENCE,
    coregister,
    coregister_series,
)
from satlearn.ops.registration._features import (
    DETECTORS,
    MODELS,
    FeatureRegistration,
    match_features,
)
from satlearn.ops.registration._phase import PhaseCorrelation, phase_correlation
from satlearn.ops.registration._shift_field import (
    ShiftField,
    ShiftModel,
    fit_shift_field,
    shift_field,
)
from satlearn.ops.registration._warp import shift_image
from satlearn.ops.registration._windows import WindowName

__all__ = [
    "COREGISTER_METHODS",
    "DETECTORS",
    "MATCH_BAND_PREFERENCE",
    "MODELS",
    "FeatureRegistration",
    "PhaseCorrelation",
    "ShiftField",
    "ShiftModel",
    "WindowName",
    "coregister",
    "coregister_series",
    "fit_shift_field",
    "match_features",
    "phase_correlation",
    "shift_field",
    "shift_image",
]
