"""Stereo DEM: disparity of a rectified pair by semi-global matching, then heights.

The pipeline, for a pair already rectified so that epipolar lines are image
rows (as :func:`satlearn.synth.make_scene` renders it):

1. **Scaling** (:func:`stretch_pair`): float reflectance or uint16 DN become
   8-bit with one robust percentile stretch shared by both images (SGBM wants
   8-bit, and a shared stretch keeps equal radiances equal).
2. **Disparity range** from the expected heights and the base-to-height ratio
   (:func:`disparity_range`), or, when the heights are unknown, from SIFT
   matches between the two images (:func:`estimate_disparity_range`, the way
   s2p bounds its search).
3. **Matching** with OpenCV's :func:`cv2.StereoSGBM_create`, tuned, not
   rewritten: 8-path full dynamic programming (``MODE_HH``), 5 x 5 blocks,
   ``P1 = 8 * 5**2``, ``P2 = 32 * 5**2`` (OpenCV's recommended smoothness
   ratio), uniqueness 10 %, speckle filter (100 px, 2 px). The images are
   padded on the left so that SGBM also answers for the first columns.
4. **Left-right consistency**: a second SGBM run on the mirrored, swapped
   images gives the right-to-left disparity (``cv2.ximgproc`` is absent from
   the headless wheels); a left pixel is kept when the right image's disparity
   at its match agrees within ``lr_tolerance`` pixels.
5. **Sub-pixel refinement**: SGBM already fits a parabola to its aggregated
   cost (1/16 px output), which locks towards whole pixels. A Lucas-Kanade
   step on the unquantised float images (``subpixel="lk"``) moves each
   disparity to where the window's photometric residual is least, with a
   first-order correction for the disparity slope inside the window.
   ``benchmarks/bench_stereo.py`` measures both.
6. **Hole filling** (``fill="inpaint"``: :func:`cv2.inpaint`, Telea; or
   ``"rows"``: the lower of the nearest valid neighbours along the row, since
   occlusions hide the lower ground behind a slope; or ``None``).
7. **Heights**: ``h = reference_height + disparity * pixel_size_m / (B/H)``,
   the convention of :mod:`satlearn.synth.terrain`:
   ``right[y, x - d] == left[y, x]``, disparity grows with height, and zero
   disparity is the reference height.

How it runs on chunks: *row strips with a halo* of overlapping rows (64 by
default). SGBM's ``MODE_HH`` holds two int16 cost volumes, about ``4 * width *
rows * num_disparities`` bytes, so the strip height is chosen to keep one
strip under ``memory_mb``; only the strips' cores are kept
(:func:`compute_disparity`). The stretch and the SIFT range are *global*
(a strided sample of the whole pair).

Scores: :func:`satlearn.metrics.dem_accuracy` (RMSE, NMAD, LE90), also
:meth:`StereoResult.scores`; ``satlearn.ops.stereo.dem_accuracy`` is its old
address, served for one release with a warning.

Layout
------
One private module per job, this flat face re-exporting them; importing the
package loads numpy only (cv2, xarray and rioxarray load with the first call):

* ``_stretch``: the checks of the pair and the shared 8-bit stretch;
* ``_geometry``: disparity range from heights, heights from disparities;
* ``_range``: the search range from SIFT matches;
* ``_sgm``: one strip: SGBM, left-right check, Lucas-Kanade step, filling;
* ``_disparity``: :func:`compute_disparity` (strips, halo, memory bound);
* ``_dem``: :func:`stereo_dem`, :func:`stereo_dem_details` (the DataArray layer).

Examples
--------
>>> from satlearn.synth import make_scene
>>> from satlearn.metrics import dem_accuracy
>>> from satlearn.ops.stereo import stereo_dem
>>> scene = make_scene(128, seed=3, n_dates=1, clouds=False, ships=False)
>>> dem = stereo_dem(scene.stereo_left, scene.stereo_right,
...                  base_to_height=scene.base_to_height,
...                  reference_height=float(scene.dem.min()))
>>> metres_per_px = scene.pixel_size_m / scene.base_to_height  # 16.7 m
>>> bool(dem_accuracy(dem, scene.dem).nmad < 0.3 * metres_per_px)
True

References
----------
.. [1] H. Hirschmüller, "Stereo processing by semiglobal matching and mutual
   information", IEEE TPAMI 30(2), 328-341 (2008). doi:10.1109/TPAMI.2007.1166
.. [2] C. de Franchis, E. Meinhardt-Llopis, J. Michel, J.-M. Morel and G.
   Facciolo, "An automatic and modular stereo pipeline for pushbroom
   images", ISPRS Annals II-3, 49-56 (2014). doi:10.5194/isprsannals-II-3-49-2014
.. [3] J. Höhle and M. Höhle, "Accuracy assessment of digital elevation
   models by means of robust statistical methods", ISPRS J. Photogramm. 64(4),
   398-406 (2009). doi:10.1016/j.isprsjprs.2009.02.003
.. [4] A. Telea, "An image inpainting technique based on the fast marching
   method", J. Graphics Tools 9(1), 23-34 (2004).
"""

from __future__ import annotations

from satlearn.deprecation import moved
from satlearn.ops.stereo._dem import StereoResult, stereo_dem, stereo_dem_details
from satlearn.ops.stereo._disparity import (
    DEFAULT_MEMORY_MB,
    FILL_METHODS,
    SUBPIXEL_METHODS,
    Disparity,
    FillMethod,
    SubpixelMethod,
    compute_disparity,
)
from satlearn.ops.stereo._geometry import disparity_range, disparity_to_height
from satlearn.ops.stereo._range import estimate_disparity_range
from satlearn.ops.stereo._stretch import STRETCH_PERCENTILES, stretch_pair

__all__ = [
    "DEFAULT_MEMORY_MB",
    "FILL_METHODS",
    "STRETCH_PERCENTILES",
    "SUBPIXEL_METHODS",
    "Disparity",
    "FillMethod",
    "StereoResult",
    "SubpixelMethod",
    "compute_disparity",
    "disparity_range",
    "disparity_to_height",
    "estimate_disparity_range",
    "stereo_dem",
    "stereo_dem_details",
    "stretch_pair",
]

# Scoring moved to satlearn.metrics in 0.2; importable from here for one release.
__getattr__ = moved(
    __name__,
    {
        "DemAccuracy": "satlearn.metrics:DemAccuracy",
        "dem_accuracy": "satlearn.metrics:dem_accuracy",
    },
)
