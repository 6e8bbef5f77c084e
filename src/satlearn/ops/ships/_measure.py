"""Ship records from labelled candidates: region moments, cloud test, chips, measures."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from affine import Affine
from scipy import ndimage
from skimage.measure import regionprops_table

from satlearn.errors import InvalidInputError
from satlearn.ops.ships._cfar import ShipParams

__all__ = [
    "ConfirmFn",
    "centred_chips",
    "cloud_ratio",
    "confirm_candidates",
    "measure_ships",
    "principal_axes",
    "region_table",
]

ConfirmFn = Callable[[np.ndarray], Any]


def cloud_ratio(
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


def region_table(labels: np.ndarray, score: np.ndarray, origin: tuple[int, int]) -> dict:
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


def principal_axes(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rectangle length, width and unit major axis of each 2x2 covariance."""
    if len(cov) == 0:
        return np.zeros(0), np.zeros(0), np.zeros((0, 2))
    values, vectors = np.linalg.eigh(cov)  # ascending eigenvalues
    length = np.sqrt(12 * np.clip(values[:, 1], 0, None))
    width = np.sqrt(12 * np.clip(values[:, 0], 0, None))
    return length, width, vectors[:, :, 1]


def centred_chips(bands: np.ndarray, rows: np.ndarray, cols: np.ndarray, size: int) -> np.ndarray:
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


def confirm_candidates(
    table: dict,
    bands: np.ndarray | None,
    origin: tuple[int, int],
    params: ShipParams,
    confirm: ConfirmFn,
) -> dict:
    assert bands is not None
    n = len(table["row"])
    chips = centred_chips(bands, table["row"] - origin[0], table["col"] - origin[1], params.chip_px)
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
    length, width, axis = principal_axes(cov_map)
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
