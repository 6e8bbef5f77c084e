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
:func:`score_ships` matches detections to truth ships one to one (Hungarian
assignment on centroid distance, ``scipy.optimize.linear_sum_assignment``).
By default (``match="centroid"``) a pair may match when the detection's
centroid falls inside the truth ship's box grown by ``tolerance_px``
(1 pixel): at 10 m a ship is a few pixels wide, and a one-pixel offset of a
3 x 8 box already drops its box IoU to ~0.5, so IoU would punish location
noise, not misses. ``match="iou"`` requires a box IoU of at least
``iou_threshold`` (0.3) instead.

Examples
--------
>>> from satlearn.synth import make_scene
>>> from satlearn.ops.ships import detect_ships, score_ships
>>> scene = make_scene(256, seed=1, n_dates=1)
>>> found = detect_ships(scene.image.isel(time=0))
>>> scores = score_ships(found, scene.ships)
>>> scores.recall > 0.5
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import dask
import numpy as np
import rasterio.warp
import xarray as xr
from affine import Affine
from rasterio.crs import CRS
from scipy import ndimage
from scipy.optimize import linear_sum_assignment
from skimage.measure import regionprops_table
from skimage.segmentation import felzenszwalb

from satlearn.bands import band_positions
from satlearn.errors import InvalidInputError
from satlearn.ops.water import (
    _metres_per_unit,
    band_reflectance,
    check_same_grid,
    check_scene,
    pixel_area_m2,
    water_mask_details,
)
from satlearn.vector import write_geojson

__all__ = [
    "SHIP_METHODS",
    "ShipDetections",
    "ShipScores",
    "cfar_background",
    "detect_ships",
    "measure_ships",
    "score_ships",
]

#: Candidate methods of :func:`detect_ships`.
SHIP_METHODS = ("cfar", "felzenszwalb")

_SINGLE_WINDOW = 4096  # numpy scenes up to this size (per side) are one window
_BLOCK = 2048  # block size of larger numpy scenes
_MIN_RING = 32  # least background pixels in a CFAR ring (narrow rivers have few)

ConfirmFn = Callable[[np.ndarray], Any]


# --------------------------------------------------------------------------- kernels


def cfar_background(
    image: np.ndarray, background: np.ndarray, *, guard_px: int, window_px: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, standard deviation and count of background pixels in each pixel's CFAR ring.

    The ring is the ``window_px`` square minus the ``guard_px`` square, both
    centred on the pixel (odd sizes). Sums of ``x``, ``x^2`` and the count
    over both squares come from ``cv2.boxFilter`` (running sums, constant
    zero border: outside the array there is no background).

    Parameters
    ----------
    image : ndarray, shape (y, x)
        The band (NaN allowed where ``background`` is False).
    background : ndarray of bool, shape (y, x)
        Pixels that may enter the statistics.
    guard_px, window_px : int
        Side lengths (odd, ``guard_px < window_px``).

    Returns
    -------
    mean, std, count : ndarray of float64
        NaN mean/std where the ring holds no background.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.full((9, 9), 2.0)
    >>> img[4, 4] = 10.0  # a target in the guard window does not bias its background
    >>> mean, std, count = cfar_background(img, np.ones((9, 9), bool), guard_px=3, window_px=7)
    >>> float(mean[4, 4]), float(std[4, 4]), float(count[4, 4])
    (2.0, 0.0, 40.0)
    """
    w = background.astype(np.float64)
    # Subtract the background median first: E[x^2] - E[x]^2 loses digits when
    # the spread is small against the level.
    level = float(np.median(image[background])) if background.any() else 0.0
    x = np.where(background, image - level, 0.0)
    sums = []
    for values in (w, x, x * x):
        big = cv2.boxFilter(
            values, cv2.CV_64F, (window_px, window_px), normalize=False,
            borderType=cv2.BORDER_CONSTANT,
        )  # fmt: skip
        small = cv2.boxFilter(
            values, cv2.CV_64F, (guard_px, guard_px), normalize=False,
            borderType=cv2.BORDER_CONSTANT,
        )  # fmt: skip
        sums.append(big - small)
    count, sx, sxx = sums
    count = np.rint(count)  # running sums leave ~1e-12 residues
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sx / count
        var = sxx / count - mean * mean
    std = np.sqrt(np.clip(var, 0.0, None))
    empty = count <= 0
    mean[empty] = np.nan
    std[empty] = np.nan
    return mean + level, std, count


def _contrast(
    image: np.ndarray, background: np.ndarray, params: _Params
) -> tuple[np.ndarray, np.ndarray]:
    """Contrast ``x - mean`` and its threshold ``max(k std, min_contrast)`` (NaN: no ring)."""
    mean, std, count = cfar_background(
        image, background, guard_px=params.guard_px, window_px=params.window_px
    )
    enough = count >= params.min_ring
    contrast = image - mean
    limit = np.maximum(params.k * std, params.min_contrast)
    limit[~enough] = np.nan
    return contrast, limit


def _search_area(water: np.ndarray, params: _Params) -> np.ndarray:
    """Where ships may be: the water closed over ship-wide gaps, minus a shore rim.

    A ship is bright, so it is not water itself; where it lies near a shore or
    a cloud, its hole in the water mask opens onto them and is not filled. A
    closing with a disc wider than the widest ship puts every ship inside the
    water whatever its neighbours; land narrower than that (piers, spits)
    becomes searchable too.
    """
    search = water.view(np.uint8)
    if params.closing_px > 0:
        search = cv2.morphologyEx(search, cv2.MORPH_CLOSE, _disc(params.closing_px))
    if params.shore_px > 0:
        # constant border 1: the window's edge is not a shore
        search = cv2.erode(
            search, _disc(params.shore_px), borderType=cv2.BORDER_CONSTANT, borderValue=1
        )
    return search.view(bool)


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _candidates_cfar(
    image: np.ndarray, search: np.ndarray, contrast: np.ndarray, limit: np.ndarray
) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return search & (contrast > limit)


def _candidates_felzenszwalb(
    image: np.ndarray,
    search: np.ndarray,
    contrast: np.ndarray,
    limit: np.ndarray,
    params: _Params,
) -> np.ndarray:
    """Segments inside the search area whose mean contrast exceeds the CFAR limit."""
    if not search.any():
        return np.zeros_like(search)
    rows, cols = np.nonzero(search)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    sub = search[r0:r1, c0:c1]
    # Outside the search area the band is set to the area's median, so land does
    # not pull segments across the shore.
    values = np.where(sub, image[r0:r1, c0:c1], np.nan)
    fill = float(np.nanmedian(values))
    values = np.where(sub, values, fill)
    segments = felzenszwalb(
        values.astype(np.float64), scale=params.felzenszwalb_scale, sigma=0.5, min_size=2
    )
    n = int(segments.max()) + 1
    flat = segments.ravel()
    inside = sub.ravel()
    with np.errstate(invalid="ignore"):
        c = np.nan_to_num(contrast[r0:r1, c0:c1].ravel(), nan=0.0)
        lim = np.nan_to_num(limit[r0:r1, c0:c1].ravel(), nan=np.inf)
    pixels = np.bincount(flat, weights=inside, minlength=n)
    total = np.bincount(flat, minlength=n)
    mean_contrast = np.bincount(flat, weights=c * inside, minlength=n)
    mean_limit = np.bincount(flat, weights=np.where(np.isfinite(lim), lim, 0.0), minlength=n)
    unbounded = np.bincount(flat, weights=~np.isfinite(lim), minlength=n) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_contrast /= pixels
        mean_limit /= total
    # a ship segment lies wholly in the search area and is small
    keep = (pixels == total) & (pixels <= params.max_pixels) & ~unbounded
    keep &= mean_contrast > mean_limit
    out = np.zeros_like(search)
    out[r0:r1, c0:c1] = keep[segments] & sub
    return out


@dataclass(frozen=True)
class _Params:
    method: str
    k: float
    min_contrast: float
    guard_px: int
    window_px: int
    shore_px: int
    closing_px: int
    min_ring: int
    min_pixels: int
    max_pixels: int
    max_length_px: float
    felzenszwalb_scale: float
    chip_px: int
    confirm_threshold: float
    max_cloud_ratio: float | None


def _window_ships(
    arrays: dict[str, np.ndarray],
    origin: tuple[int, int],
    core: tuple[int, int, int, int],
    params: _Params,
    confirm: ConfirmFn | None,
) -> dict[str, np.ndarray]:
    """Candidates of one window whose centroid lies in its core (pure kernel).

    ``arrays`` holds the window's ``image`` (float32), ``water`` and
    ``background`` (bool), and optionally ``cloud`` (the cloud band) and
    ``chips`` (every band, for ``confirm``). ``origin`` is the window's
    top-left pixel in the scene; ``core`` the scene-pixel box ``(r0, c0, r1,
    c1)`` this window owns. Returns a table of arrays in scene pixel
    coordinates (see :func:`measure_ships`).
    """
    image, background = arrays["image"], arrays["background"]
    search = _search_area(arrays["water"], params)
    contrast, limit = _contrast(image, background, params)
    if params.method == "cfar":
        hits = _candidates_cfar(image, search, contrast, limit)
    else:
        hits = _candidates_felzenszwalb(image, search, contrast, limit, params)
    labels, n = ndimage.label(hits, structure=np.ones((3, 3), bool))
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(hits, contrast / (limit / params.k), 0.0)
    table = _region_table(labels, score, origin)
    if n == 0:
        return table
    keep = (table["pixels"] >= params.min_pixels) & (table["pixels"] <= params.max_pixels)
    length_px, _, _ = _axes(table["cov"])
    keep &= length_px <= params.max_length_px
    r0, c0, r1, c1 = core
    row, col = table["row"], table["col"]
    keep &= (row >= r0 - 0.5) & (row < r1 - 0.5) & (col >= c0 - 0.5) & (col < c1 - 0.5)
    if "cloud" in arrays and params.max_cloud_ratio is not None:
        keep &= _cloud_ratio(arrays["cloud"], image, contrast, labels, n, background) <= (
            params.max_cloud_ratio
        )
    table = {key: value[keep] for key, value in table.items()}
    if confirm is not None and keep.any():
        table = _confirm(table, arrays["chips"], origin, params, confirm)
    return table


def _cloud_ratio(
    cloud: np.ndarray,
    image: np.ndarray,
    contrast: np.ndarray,
    labels: np.ndarray,
    n: int,
    background: np.ndarray,
) -> np.ndarray:
    """Per component: peak contrast in the cloud band over peak contrast in the image.

    Water vapour absorbs the cirrus band (Sentinel-2 B10, 1375 nm) in the
    lower atmosphere, so objects at sea level, ships included, stay dark
    there, while clouds remain bright. A ship's ratio is near 0, a cloud's
    near 1.
    """
    index = np.arange(1, n + 1)
    base = float(np.median(cloud[background])) if background.any() else 0.0
    with np.errstate(invalid="ignore"):
        cloud_peak = ndimage.maximum(np.nan_to_num(cloud - base, nan=0.0), labels, index)
        image_peak = ndimage.maximum(np.nan_to_num(contrast, nan=0.0), labels, index)
        return np.asarray(cloud_peak) / np.maximum(np.asarray(image_peak), 1e-6)


def _region_table(labels: np.ndarray, score: np.ndarray, origin: tuple[int, int]) -> dict:
    props = regionprops_table(
        labels,
        intensity_image=score,
        properties=("area", "bbox", "centroid", "moments_central", "intensity_max"),
    )
    n = len(props["area"])
    m00 = np.maximum(props["area"], 1).astype(np.float64)
    cov = np.empty((n, 2, 2))
    # pixel-footprint covariance (rows, cols): discrete moments + a uniform square's 1/12
    cov[:, 0, 0] = props["moments_central-2-0"] / m00 + 1 / 12
    cov[:, 1, 1] = props["moments_central-0-2"] / m00 + 1 / 12
    cov[:, 0, 1] = cov[:, 1, 0] = props["moments_central-1-1"] / m00
    r, c = origin
    bbox = np.stack(
        [props["bbox-0"] + r, props["bbox-1"] + c, props["bbox-2"] + r, props["bbox-3"] + c],
        axis=-1,
    ).astype(np.int64)
    return {
        "row": props["centroid-0"] + r,
        "col": props["centroid-1"] + c,
        "pixels": props["area"].astype(np.int64),
        "bbox": bbox.reshape(n, 4),
        "cov": cov,
        "score": props["intensity_max"].astype(np.float64),
        "confidence": np.full(n, np.nan),
    }


def _axes(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rectangle length, width and unit major axis of each 2x2 covariance."""
    if len(cov) == 0:
        return np.zeros(0), np.zeros(0), np.zeros((0, 2))
    values, vectors = np.linalg.eigh(cov)  # ascending eigenvalues
    length = np.sqrt(12 * np.clip(values[:, 1], 0, None))
    width = np.sqrt(12 * np.clip(values[:, 0], 0, None))
    return length, width, vectors[:, :, 1]


def _chips(bands: np.ndarray, rows: np.ndarray, cols: np.ndarray, size: int) -> np.ndarray:
    """``(n, band, size, size)`` chips centred on (rows, cols), mirrored at the edges."""
    half = size // 2
    padded = np.pad(bands, ((0, 0), (half, half), (half, half)), mode="reflect")
    r = np.rint(rows).astype(np.intp)
    c = np.rint(cols).astype(np.intp)
    offsets = np.arange(size) - half
    rr = (r[:, None] + offsets[None, :] + half)[:, :, None]
    cc = (c[:, None] + offsets[None, :] + half)[:, None, :]
    chips = padded[:, rr, cc]  # (band, n, size, size)
    return np.ascontiguousarray(chips.transpose(1, 0, 2, 3), dtype=np.float32)


def _confirm(
    table: dict,
    bands: np.ndarray | None,
    origin: tuple[int, int],
    params: _Params,
    confirm: ConfirmFn,
) -> dict:
    assert bands is not None
    n = len(table["row"])
    chips = _chips(bands, table["row"] - origin[0], table["col"] - origin[1], params.chip_px)
    answer = np.asarray(confirm(chips))
    if answer.shape != (n,):
        raise InvalidInputError(
            f"confirm returned shape {answer.shape} for {n} chips; expected ({n},) "
            "booleans or probabilities"
        )
    if answer.dtype == bool:
        keep = answer
    elif answer.dtype.kind in "iuf":
        probability = answer.astype(np.float64)
        keep = probability >= params.confirm_threshold
        table = {**table, "confidence": probability}
    else:
        raise InvalidInputError(f"confirm returned dtype {answer.dtype}; expected bool or float")
    return {key: value[keep] for key, value in table.items()}


def measure_ships(
    table: dict[str, np.ndarray], transform: Affine, metres_per_unit: float = 1.0
) -> list[dict[str, Any]]:
    """Ship records in map units from a table of pixel-space region statistics.

    Parameters
    ----------
    table : dict of ndarray
        ``row``, ``col`` (centroids, pixel ``(i, j)`` centred on ``(i, j)``),
        ``pixels``, ``bbox`` (n, 4: min_row, min_col, max_row, max_col,
        exclusive maxima), ``cov`` (n, 2, 2 pixel-footprint covariance in
        (row, col)), ``score``, ``confidence``.
    transform : affine.Affine
        Pixel-to-map transform of the scene.
    metres_per_unit : float
        Length of one CRS unit in metres.

    Returns
    -------
    list of dict
        One per ship: ``id``, ``row``, ``col``, ``x``, ``y``, ``length_m``,
        ``width_m``, ``orientation_deg``, ``area_m2``, ``pixels``, ``score``,
        ``confidence`` (None without a confirm probability), ``bbox_px``,
        ``bbox_map`` (minx, miny, maxx, maxy) and ``polygon`` (closed ring of
        (x, y) map coordinates of the oriented rectangle).

    Examples
    --------
    >>> import numpy as np
    >>> from affine import Affine
    >>> table = {"row": np.array([5.0]), "col": np.array([5.0]), "pixels": np.array([10]),
    ...          "bbox": np.array([[5, 3, 6, 8]]), "score": np.array([9.0]),
    ...          "confidence": np.array([np.nan]),
    ...          "cov": np.array([[[1 / 12, 0.0], [0.0, 2.0 + 1 / 12]]])}
    >>> [ship] = measure_ships(table, Affine(10, 0, 0, 0, -10, 100))
    >>> round(ship["length_m"]), round(ship["width_m"]), round(ship["orientation_deg"])
    (50, 10, 90)
    """
    n = len(table["row"])
    if n == 0:
        return []
    # (row, col) -> (x, y) Jacobian of the transform, in metres
    jac = np.array([[transform.b, transform.a], [transform.e, transform.d]]) * metres_per_unit
    cov_map = jac[None] @ table["cov"] @ jac.T[None]
    length, width, axis = _axes(cov_map)
    bearing = np.degrees(np.arctan2(axis[:, 0], axis[:, 1])) % 180.0
    # a (near) square has no long axis: eigh's choice is arbitrary, report 0
    bearing = np.where(np.isclose(length, width, rtol=1e-6), 0.0, bearing)
    xs, ys = transform @ (table["col"] + 0.5, table["row"] + 0.5)
    area = np.asarray(table["pixels"], np.float64) * abs(transform.determinant)
    area *= metres_per_unit**2
    ships = []
    unit = axis / metres_per_unit  # map-unit vector per metre
    cross = np.stack([-unit[:, 1], unit[:, 0]], axis=-1)
    for i in range(n):  # one iteration per ship, not per pixel
        half_l, half_w = unit[i] * length[i] / 2, cross[i] * width[i] / 2
        centre = np.array([xs[i], ys[i]])
        ring = [centre + half_l + half_w, centre + half_l - half_w,
                centre - half_l - half_w, centre - half_l + half_w]  # fmt: skip
        r0, c0, r1, c1 = (int(v) for v in table["bbox"][i])
        corner_x, corner_y = transform @ (np.array([c0, c1, c0, c1]), np.array([r0, r0, r1, r1]))
        confidence = float(table["confidence"][i])
        ships.append(
            {
                "id": i + 1,
                "row": float(table["row"][i]),
                "col": float(table["col"][i]),
                "x": float(xs[i]),
                "y": float(ys[i]),
                "length_m": float(length[i]),
                "width_m": float(width[i]),
                "orientation_deg": float(bearing[i]),
                "area_m2": float(area[i]),
                "pixels": int(table["pixels"][i]),
                "score": float(table["score"][i]),
                "confidence": None if math.isnan(confidence) else confidence,
                "bbox_px": [r0, c0, r1, c1],
                "bbox_map": [
                    float(corner_x.min()),
                    float(corner_y.min()),
                    float(corner_x.max()),
                    float(corner_y.max()),
                ],
                "polygon": [(float(p[0]), float(p[1])) for p in [*ring, ring[0]]],
            }
        )
    return ships


# --------------------------------------------------------------------------- public layer


@dataclass(frozen=True)
class ShipDetections:
    """Ships found in a scene, with the water mask they were searched in.

    Attributes
    ----------
    ships : list of dict
        One record per ship (see :func:`measure_ships`), in raster order.
    water : xarray.DataArray
        bool ``(y, x)`` water mask (lazy for dask input).
    water_fraction : float
        Water pixels over valid pixels (NaN when none is valid).
    threshold : float
        Water-index threshold.
    water_index : str
        ``"MNDWI"`` or ``"NDWI"``.
    crs : rasterio.crs.CRS or None
        CRS of the map coordinates.
    method : str
        ``"cfar"`` or ``"felzenszwalb"``.
    """

    ships: list[dict[str, Any]]
    water: xr.DataArray
    water_fraction: float
    threshold: float
    water_index: str
    crs: CRS | None
    method: str
    params: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ships)

    def features(self, *, to_wgs84: bool = True) -> list[dict[str, Any]]:
        """One GeoJSON Feature per ship (oriented rectangle).

        Properties: ``id``, ``length_m``, ``width_m``, ``orientation_deg``,
        ``area_m2``, ``score``, ``confidence``, ``pixels``, ``row``, ``col``,
        ``bbox_px`` and ``bbox_map`` (scene CRS, whatever ``to_wgs84``).

        Examples
        --------
        >>> from satlearn.synth import make_scene
        >>> found = detect_ships(make_scene(256, seed=1, n_dates=1).image.isel(time=0))
        >>> found.features()[0]["geometry"]["type"]
        'Polygon'
        """
        features = []
        for ship in self.ships:
            geometry: dict[str, Any] = {
                "type": "Polygon",
                "coordinates": [[list(p) for p in ship["polygon"]]],
            }
            if to_wgs84 and self.crs is not None and self.crs != CRS.from_epsg(4326):
                geometry = rasterio.warp.transform_geom(self.crs, "EPSG:4326", geometry)
            props = {k: v for k, v in ship.items() if k not in {"polygon", "x", "y"}}
            features.append({"type": "Feature", "geometry": geometry, "properties": props})
        return features

    def to_geojson(self, path: Any, *, to_wgs84: bool = True) -> Any:
        """Write the ships as a GeoJSON FeatureCollection (atomic); return the path.

        With ``to_wgs84=False`` coordinates stay in the scene CRS, recorded in
        the legacy ``crs`` member. No ship gives an empty FeatureCollection.
        """
        crs = None if to_wgs84 else self.crs
        return write_geojson(self.features(to_wgs84=to_wgs84), path, crs=crs)


def _check_number(name: str, value: Any, *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise InvalidInputError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


def _odd(n: float) -> int:
    n = max(math.ceil(n), 1)
    return n if n % 2 else n + 1


def detect_ships(
    da: xr.DataArray,
    *,
    band: str = "nir",
    method: str = "cfar",
    water: Any = None,
    valid: Any = None,
    k: float = 5.0,
    min_contrast: float = 0.08,
    guard_m: float = 200.0,
    background_m: float = 600.0,
    shore_px: int = 1,
    min_pixels: int = 2,
    max_length_m: float = 500.0,
    max_width_m: float = 60.0,
    felzenszwalb_scale: float = 1.0,
    cloud_band: str | None = "cirrus",
    max_cloud_ratio: float | None = 0.4,
    confirm: ConfirmFn | None = None,
    confirm_threshold: float = 0.5,
    chip_px: int = 32,
    **water_options: Any,
) -> ShipDetections:
    """Find ships: bright compact objects inside water.

    Parameters
    ----------
    da : xarray.DataArray
        ``(band, y, x)`` georeferenced scene (projected or geographic CRS),
        numpy- or dask-backed, with the bands of the water index
        (:func:`satlearn.ops.water.water_mask`) and ``band``.
    band : str
        The band ships are bright in.
    method : {"cfar", "felzenszwalb"}
        Pixel-wise two-parameter CFAR, or Felzenszwalb segments tested
        against the CFAR statistics.
    water : DataArray or array of bool, optional
        A water mask on the scene's grid to use instead of computing one
        (its pixels are then also the sea background).
    valid : DataArray or array of bool, optional
        Pixels that may be water (e.g. cloud-free), on the scene's grid.
    k : float
        CFAR factor: contrast above ``k`` background standard deviations.
    min_contrast : float
        Least contrast (reflectance) of a ship pixel over its background.
    guard_m, background_m : float
        Side lengths of the CFAR guard and background windows, metres.
    shore_px : int
        Ships lie at least this many pixels inside the water's edge.
    min_pixels : int
        Smallest ship, in pixels.
    max_length_m : float
        Longer objects are not ships.
    max_width_m : float
        Widest ship: the water is closed with a disc this wide before the
        search, so that ships next to a shore or a cloud (whose hole in the
        water mask is open) are inside it.
    felzenszwalb_scale : float
        ``scale`` of ``skimage.segmentation.felzenszwalb``.
    cloud_band, max_cloud_ratio : str or None, float or None
        Cloud test: a candidate whose peak contrast in ``cloud_band`` exceeds
        ``max_cloud_ratio`` times its peak contrast in ``band`` is a cloud
        (see the module notes). The default ``"cirrus"`` band is used when
        the scene has one; None switches the test off.
    confirm : callable, optional
        ``confirm(chips) -> (n,) bool or probabilities`` on
        ``(n, band, chip_px, chip_px)`` float32 chips (see the module notes);
        a model bundle's predictor plugs in here.
    confirm_threshold : float
        Least probability kept when ``confirm`` returns probabilities.
    chip_px : int
        Chip size for ``confirm``.
    **water_options
        Passed to :func:`satlearn.ops.water.water_mask_details` (``index``,
        ``threshold``, ``max_nir``, ``min_area_m2``, ``max_hole_m2``...).

    Returns
    -------
    ShipDetections
        No water gives no ships (not an error).

    Raises
    ------
    UnknownBandError
        The scene lacks ``band`` or a band of the water index (named).
    NoValidDataError
        The scene is all nodata (nothing can be said about water or ships).
    InvalidInputError, CRSMismatchError
        Bad arguments; ``water`` / ``valid`` not on the scene's grid; a scene
        without a CRS (ship sizes need metres); ``confirm`` answering in the
        wrong shape.

    Examples
    --------
    >>> from satlearn.synth import make_scene
    >>> found = detect_ships(make_scene(256, seed=1, n_dates=1).image.isel(time=0))
    >>> len(found) > 0, 0 < found.water_fraction < 1
    (True, True)
    """
    da = check_scene(da)
    if da.rio.crs is None:
        raise InvalidInputError(
            "the scene has no CRS: ship sizes in metres need a georeferenced raster "
            "(da.rio.write_crs(...))"
        )
    key = str(method).lower()
    if key not in SHIP_METHODS:
        raise InvalidInputError(f"unknown ship method {method!r}; known: {', '.join(SHIP_METHODS)}")
    k = _check_number("k", k)
    min_contrast = _check_number("min_contrast", min_contrast, positive=False)
    guard_m = _check_number("guard_m", guard_m)
    background_m = _check_number("background_m", background_m)
    max_length_m = _check_number("max_length_m", max_length_m)
    max_width_m = _check_number("max_width_m", max_width_m, positive=False)
    felzenszwalb_scale = _check_number("felzenszwalb_scale", felzenszwalb_scale)
    confirm_threshold = _check_number("confirm_threshold", confirm_threshold, positive=False)
    for name, value, least in (("shore_px", shore_px, 0), ("min_pixels", min_pixels, 1),
                               ("chip_px", chip_px, 2)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise InvalidInputError(f"{name} must be an int >= {least}, got {value!r}")
    if confirm is not None and not callable(confirm):
        raise InvalidInputError(f"confirm must be callable, got {type(confirm).__name__}")

    image = band_reflectance(da, band)  # before the water: a missing band is named first
    cloud_da = None
    if cloud_band is not None and max_cloud_ratio is not None:
        max_cloud_ratio = _check_number("max_cloud_ratio", max_cloud_ratio, positive=False)
        if cloud_band in band_positions(da):
            cloud_da = band_reflectance(da, cloud_band)
        elif cloud_band != "cirrus":  # the default is used where it exists
            cloud_da = band_reflectance(da, cloud_band)  # raises UnknownBandError
    transform = da.rio.transform()
    metres = _metres_per_unit(da)
    pixel_m = math.sqrt(pixel_area_m2(da))
    guard_px = _odd(guard_m / pixel_m)
    window_px = max(_odd(background_m / pixel_m), guard_px + 2)
    max_length_px = max_length_m / pixel_m
    params = _Params(
        method=key, k=k, min_contrast=min_contrast, guard_px=guard_px, window_px=window_px,
        shore_px=shore_px, closing_px=math.ceil(max_width_m / 2 / pixel_m),
        min_ring=_MIN_RING, min_pixels=min_pixels,
        max_pixels=max(int(max_length_px**2 / 2), min_pixels),
        max_length_px=max_length_px, felzenszwalb_scale=felzenszwalb_scale,
        chip_px=chip_px, confirm_threshold=confirm_threshold,
        max_cloud_ratio=max_cloud_ratio,
    )  # fmt: skip

    if water is None:
        result = water_mask_details(da, valid=valid, **water_options)
        water_da, valid_da = result.mask, result.valid
        background_da = result.mask & result.raw
        threshold, index_name = result.threshold, str(result.index.name)
    else:
        data = check_same_grid(water, da, "water mask")
        water_da = xr.DataArray(data, dims=("y", "x"), coords={"y": da.y, "x": da.x}).astype(bool)
        valid_da = np.isfinite(image)
        if valid is not None:
            extra = check_same_grid(valid, da, "valid mask")
            valid_da = valid_da & xr.DataArray(extra, dims=("y", "x"), coords=water_da.coords)
        water_da = water_da & valid_da
        background_da = water_da
        threshold, index_name = math.nan, "given"

    layers = {"image": image.data, "water": water_da.data, "background": background_da.data}
    if cloud_da is not None:
        layers["cloud"] = cloud_da.data
    if confirm is not None:
        layers["chips"] = xr.concat(
            [band_reflectance(da, str(b)) for b in da.band.values], dim="band"
        ).data
    lazy = any(hasattr(a, "dask") for a in layers.values())
    height, width = image.shape
    if lazy:
        chunks = _chunks_of(list(layers.values()))
    elif max(height, width) <= _SINGLE_WINDOW:
        chunks = ((height,), (width,))
    else:
        chunks = tuple(_split(n, _BLOCK) for n in (height, width))
    halo = math.ceil(window_px / 2 + max_length_px + chip_px / 2)
    halo += params.closing_px + shore_px + 1

    tasks = []
    row_edges = np.cumsum((0, *chunks[0]))
    col_edges = np.cumsum((0, *chunks[1]))
    for i in range(len(chunks[0])):
        for j in range(len(chunks[1])):
            core = (int(row_edges[i]), int(col_edges[j]), int(row_edges[i + 1]),
                    int(col_edges[j + 1]))  # fmt: skip
            r0, c0 = max(core[0] - halo, 0), max(core[1] - halo, 0)
            r1, c1 = min(core[2] + halo, height), min(core[3] + halo, width)
            pieces = {name: a[..., r0:r1, c0:c1] for name, a in layers.items()}
            if lazy:
                tasks.append(dask.delayed(_window_task)(pieces, (r0, c0), core, params, confirm))
            else:
                tasks.append(_window_task(pieces, (r0, c0), core, params, confirm))
    numerator, denominator = water_da.sum(), valid_da.sum()
    if lazy:
        tables, n_water, n_valid = dask.compute(tasks, numerator.data, denominator.data)
    else:
        tables, n_water, n_valid = tasks, numerator.values, denominator.values
    table = {key: np.concatenate([t[key] for t in tables]) for key in tables[0]}
    order = np.lexsort((table["col"], table["row"]))
    table = {key: value[order] for key, value in table.items()}
    ships = measure_ships(table, transform, metres)
    fraction = float(n_water) / float(n_valid) if n_valid else math.nan
    return ShipDetections(
        ships=ships,
        water=water_da,
        water_fraction=fraction,
        threshold=float(threshold),
        water_index=index_name,
        crs=da.rio.crs,
        method=key,
        params={
            "guard_px": guard_px,
            "window_px": window_px,
            "halo_px": halo,
            "k": k,
            "min_contrast": min_contrast,
        },
    )


def _window_task(
    pieces: dict[str, Any],
    origin: tuple[int, int],
    core: tuple[int, int, int, int],
    params: _Params,
    confirm: ConfirmFn | None,
) -> dict[str, np.ndarray]:
    arrays = {name: np.asarray(a) for name, a in pieces.items()}
    for name in ("water", "background"):
        arrays[name] = np.ascontiguousarray(arrays[name], dtype=bool)
    return _window_ships(arrays, origin, core, params, confirm)


def _split(n: int, block: int) -> tuple[int, ...]:
    full, rest = divmod(n, block)
    return (block,) * full + ((rest,) if rest else ())


def _chunks_of(arrays: list[Any]) -> tuple[tuple[int, ...], ...]:
    for a in arrays:
        if hasattr(a, "dask"):
            return tuple(a.chunks[-2:])
    raise AssertionError("no dask array")  # pragma: no cover


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class ShipScores:
    """Detection scores against truth ships.

    Attributes
    ----------
    precision, recall, f1 : float
        NaN where undefined (no detection / no truth); ``f1`` is 0 when both
        precision and recall are 0 and with no detection or no truth
        (but not both).
    tp, fp, fn : int
    matches : list of (int, int)
        (detection index, truth index) pairs.
    """

    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    matches: list[tuple[int, int]]

    def as_dict(self) -> dict[str, Any]:
        """Scores as a plain dict (without ``matches``)."""
        return {
            "precision": self.precision, "recall": self.recall, "f1": self.f1,
            "tp": self.tp, "fp": self.fp, "fn": self.fn,
        }  # fmt: skip


def _boxes_and_centres(items: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(items, ShipDetections):
        items = items.ships
    boxes, centres = [], []
    for i, item in enumerate(items):
        box = item.get("bbox_px", item.get("bbox"))
        if box is None or len(box) != 4:
            raise InvalidInputError(
                f"{what} {i} has no 'bbox' / 'bbox_px' (min_row, min_col, max_row, max_col)"
            )
        r0, c0, r1, c1 = (float(v) for v in box)
        boxes.append((r0, c0, r1, c1))
        if "row" in item and "col" in item:
            centres.append((float(item["row"]), float(item["col"])))
        else:
            centres.append(((r0 + r1 - 1) / 2, (c0 + c1 - 1) / 2))
    return np.array(boxes, np.float64).reshape(-1, 4), np.array(centres, np.float64).reshape(-1, 2)


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    top = np.maximum(a[:, None, 0], b[None, :, 0])
    left = np.maximum(a[:, None, 1], b[None, :, 1])
    bottom = np.minimum(a[:, None, 2], b[None, :, 2])
    right = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(bottom - top, 0, None) * np.clip(right - left, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def score_ships(
    detected: Any,
    truths: Sequence[dict[str, Any]],
    *,
    match: str = "centroid",
    tolerance_px: float = 1.0,
    iou_threshold: float = 0.3,
    date_index: int | None = None,
) -> ShipScores:
    """Precision, recall and F1 of detected ships against truth ships.

    Parameters
    ----------
    detected : ShipDetections or sequence of dict
        Detections with ``bbox_px`` (or ``bbox``) and ``row``/``col``.
    truths : sequence of dict
        Truth ships with ``bbox`` = (min_row, min_col, max_row, max_col),
        exclusive maxima (as :func:`satlearn.synth.make_scene` gives them),
        and optionally ``row``/``col`` centres.
    match : {"centroid", "iou"}
        ``"centroid"``: the detection's centroid lies inside the truth box
        grown by ``tolerance_px``; ``"iou"``: box IoU >= ``iou_threshold``.
        Pairs are assigned one to one (Hungarian, nearest centres first).
    date_index : int, optional
        Keep only truths of this date (``ship["date_index"]``).

    Returns
    -------
    ShipScores

    Examples
    --------
    >>> truth = [{"bbox": (10, 10, 13, 20), "row": 11.0, "col": 14.5}]
    >>> found = [{"bbox_px": [10, 11, 13, 20], "row": 11.2, "col": 15.0},
    ...          {"bbox_px": [50, 50, 52, 52], "row": 50.5, "col": 50.5}]
    >>> s = score_ships(found, truth)
    >>> s.tp, s.fp, s.fn, round(s.precision, 2), s.recall
    (1, 1, 0, 0.5, 1.0)
    """
    key = str(match).lower()
    if key not in ("centroid", "iou"):
        raise InvalidInputError(f"unknown match {match!r}; known: centroid, iou")
    if date_index is not None:
        truths = [t for t in truths if int(t.get("date_index", 0)) == int(date_index)]
    det_boxes, det_centres = _boxes_and_centres(detected, "detection")
    tru_boxes, tru_centres = _boxes_and_centres(truths, "truth")
    n_det, n_tru = len(det_boxes), len(tru_boxes)
    matches: list[tuple[int, int]] = []
    if n_det and n_tru:
        if key == "centroid":
            t = float(tolerance_px)
            # pixel (i, j) spans [i - 0.5, i + 0.5): box [r0, r1) covers centres r0-0.5 .. r1-0.5
            r, c = det_centres[:, 0][:, None], det_centres[:, 1][:, None]
            ok = (r >= tru_boxes[None, :, 0] - 0.5 - t) & (r <= tru_boxes[None, :, 2] - 0.5 + t)
            ok &= (c >= tru_boxes[None, :, 1] - 0.5 - t) & (c <= tru_boxes[None, :, 3] - 0.5 + t)
        else:
            ok = _box_iou(det_boxes, tru_boxes) >= float(iou_threshold)
        distance = np.hypot(
            det_centres[:, None, 0] - tru_centres[None, :, 0],
            det_centres[:, None, 1] - tru_centres[None, :, 1],
        )
        cost = np.where(ok, distance, 1e9)
        rows, cols = linear_sum_assignment(cost)
        matches = [(int(a), int(b)) for a, b in zip(rows, cols, strict=True) if ok[a, b]]
    tp = len(matches)
    fp, fn = n_det - tp, n_tru - tp
    precision = tp / n_det if n_det else math.nan
    recall = tp / n_tru if n_tru else math.nan
    f1 = 2 * tp / (2 * tp + fp + fn) if (n_det or n_tru) else math.nan
    return ShipScores(precision, recall, f1, tp, fp, fn, matches)
