"""Detection window by window: candidates whose centroid lies in a window's core."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from satlearn.ops.ships._cfar import (
    ShipParams,
    cfar_candidates,
    cfar_contrast,
    felzenszwalb_candidates,
    search_area,
)
from satlearn.ops.ships._measure import (
    ConfirmFn,
    cloud_ratio,
    confirm_candidates,
    principal_axes,
    region_table,
)

__all__ = ["block_chunks", "split_blocks", "window_ships", "window_task"]


def window_ships(
    arrays: dict[str, np.ndarray],
    origin: tuple[int, int],
    core: tuple[int, int, int, int],
    params: ShipParams,
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
    search = search_area(arrays["water"], params)
    contrast, limit = cfar_contrast(image, background, params)
    if params.method == "cfar":
        hits = cfar_candidates(image, search, contrast, limit)
    else:
        hits = felzenszwalb_candidates(image, search, contrast, limit, params)
    labels, n = ndimage.label(hits, structure=np.ones((3, 3), bool))
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(hits, contrast / (limit / params.k), 0.0)
    table = region_table(labels, score, origin)
    if n == 0:
        return table
    keep = (table["pixels"] >= params.min_pixels) & (table["pixels"] <= params.max_pixels)
    length_px, _, _ = principal_axes(table["cov"])
    keep &= length_px <= params.max_length_px
    r0, c0, r1, c1 = core
    row, col = table["row"], table["col"]
    keep &= (row >= r0 - 0.5) & (row < r1 - 0.5) & (col >= c0 - 0.5) & (col < c1 - 0.5)
    if "cloud" in arrays and params.max_cloud_ratio is not None:
        keep &= cloud_ratio(arrays["cloud"], image, contrast, labels, n, background) <= (
            params.max_cloud_ratio
        )
    table = {key: value[keep] for key, value in table.items()}
    if confirm is not None and keep.any():
        table = confirm_candidates(table, arrays["chips"], origin, params, confirm)
    return table


def window_task(
    pieces: dict[str, Any],
    origin: tuple[int, int],
    core: tuple[int, int, int, int],
    params: ShipParams,
    confirm: ConfirmFn | None,
) -> dict[str, np.ndarray]:
    arrays = {name: np.asarray(a) for name, a in pieces.items()}
    for name in ("water", "background"):
        arrays[name] = np.ascontiguousarray(arrays[name], dtype=bool)
    return window_ships(arrays, origin, core, params, confirm)


def split_blocks(n: int, block: int) -> tuple[int, ...]:
    full, rest = divmod(n, block)
    return (block,) * full + ((rest,) if rest else ())


def block_chunks(arrays: list[Any]) -> tuple[tuple[int, ...], ...]:
    for a in arrays:
        if hasattr(a, "dask"):
            return tuple(a.chunks[-2:])
    raise AssertionError("no dask array")  # pragma: no cover
