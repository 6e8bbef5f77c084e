"""Ship candidates: bright compact objects inside water.

Pipeline
--------
1. **Water** (:func:`satlearn.ops.water.water_mask_details`): the cleaned
   water mask, whose small holes are filled, so ships (bright, hence first
   holes in the water) lie inside it. Only pixels of that mask at least
   ``shore_px`` pixels from its edge may hold a ship (mixed shore pixels
   are bright against water). The raw water pixels (index above threshold,
   dark NIR) form the sea background.
2. **Two-parameter CFAR** on one band (``nir`` by default: ships are bright
   and water dark there). For every pixel, the mean and standard deviation of
   the *background* pixels in a ``background_m`` square window, minus a
   ``guard_m`` square guard window centred on it, come from six box filters
   (``cv2.boxFilter``, running sums: O(1) per pixel whatever the window, no
   Python loop). A pixel is a detection when ``x - mean > max(k * std,
   min_contrast)`` and at least a quarter of its ring is background. The
   ``min_contrast`` floor (0.08 reflectance) keeps calm water, whose
   standard deviation is near zero, from flagging noise, and drops the
   mixed pixels of narrow bridges and shore (contrast 0.05-0.07 on the
   synthetic scenes; ship decks at 10 m reach 0.12 and more).
3. **Objects**: detections are joined into 8-connected components
   (``scipy.ndimage.label``); components of fewer than ``min_pixels``
   pixels, or longer than ``max_length_m``, are dropped.
   ``method="felzenszwalb"`` instead segments the band inside the water
   (``skimage.segmentation.felzenszwalb``) and keeps the segments whose mean
   CFAR contrast exceeds ``k`` background deviations.
   **Cloud test**: where the scene has a ``cirrus`` band (Sentinel-2 B10),
   a candidate whose peak cirrus contrast exceeds ``max_cloud_ratio`` (0.4)
   times its peak contrast in ``band`` is a cloud, not a ship: water vapour
   absorbs 1375 nm below a few km, so ships stay dark there, clouds do not.
4. **Measures** from the region moments (``skimage.measure.regionprops_table``)
   mapped through the raster transform: a uniform rectangle of length L has a
   variance L^2 / 12 along its axis, so ``length = sqrt(12 * lambda1)`` and
   ``width = sqrt(12 * lambda2)`` of the covariance of the pixel footprints
   (each pixel counts as a uniform square, adding ``pixel^2 / 12``);
   ``orientation_deg`` is the bearing of the long axis clockwise from grid
   north in [0, 180) (bow and stern are not told apart); ``area_m2`` the
   pixel count times the pixel area; the polygon is the oriented L x W
   rectangle about the centroid; ``score`` the peak CFAR contrast in
   background standard deviations.
5. **Confirmation** (optional): ``confirm(chips)`` receives the candidates'
   chips, float32 ``(n, band, chip_px, chip_px)`` reflectance of every band
   centred on each centroid (mirrored at the scene edges, NaN where nodata)
   and returns ``n`` booleans or probabilities; candidates below
   ``confirm_threshold`` are dropped and probabilities are kept as
   ``confidence``. This is where a second-stage classifier plugs in: a model
   bundle loader (``model.onnx`` + ``bundle.json``, planned) will provide a
   callable of exactly this signature. It is called once per window, only
   with candidates, from dask's worker threads for dask input (so it must be
   thread-safe there).

Windows and dask
----------------
Detection runs window by window: each window is a core block (a chunk of
the scene's grid; a numpy scene up to 4096 x 4096 is one block, larger ones
are cut into 2048 x 2048 blocks) grown by a halo of ``background_m / 2 +
max_length_m + chip_px / 2`` (about 110 pixels at 10 m). A ship belongs to
the block holding its centroid, so ships across block seams are found once
and whole. Blocks are ``dask.delayed`` tasks over the lazy water mask and
band; they run in parallel and only one window per thread is in memory:
about 60 bytes per window pixel (float64 box sums) plus the chips, e.g.
~90 MB for a 1024-pixel chunk at 10 m.

Matching (precision and recall)
-------------------------------
:func:`satlearn.metrics.score_ships` (also :meth:`ShipDetections.scores`).

Layout
------
``_cfar`` (CFAR statistics and candidates), ``_measure`` (region moments,
cloud test, chips, ship records), ``_window`` (one window's detections),
``_detect`` (:func:`detect_ships`, :func:`ship_mask`: blocks, halo, dask).

Each call is *windowed with a halo*: blocks of the scene grown by
``background_m / 2 + max_length_m + chip_px / 2`` pixels; the water mask it
starts from is a global threshold (fit on the scene, applied blockwise).

Examples
--------
>>> from satlearn.synth import make_scene
>>> from satlearn.ops.ships import detect_ships
>>> scene = make_scene(256, seed=1, n_dates=1)
>>> found = detect_ships(scene.image.isel(time=0))
>>> scores = found.scores(scene.ships)
>>> scores.recall > 0.5
True
"""

from __future__ import annotations

import warnings
from typing import Any

from satlearn.ops.ships._cfar import cfar_background
from satlearn.ops.ships._detect import SHIP_METHODS, ShipDetections, detect_ships, ship_mask
from satlearn.ops.ships._measure import measure_ships

__all__ = [
    "SHIP_METHODS",
    "ShipDetections",
    "cfar_background",
    "detect_ships",
    "measure_ships",
    "ship_mask",
]

_MOVED_TO_METRICS = ("ShipScores", "score_ships")


def __getattr__(name: str) -> Any:
    # Scoring moved to satlearn.metrics in 0.2; importable from here for one release.
    if name in _MOVED_TO_METRICS:
        warnings.warn(
            f"satlearn.ops.ships.{name} moved to satlearn.metrics.{name}; "
            "the old name goes in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        import satlearn.metrics

        return getattr(satlearn.metrics, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
