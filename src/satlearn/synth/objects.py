"""Man-made objects: roads, settlements with buildings, and ships.

Roads and buildings are drawn into the fine-grid material map (twice the
scene resolution). Roads are 2-3 fine pixels wide gently curving lines;
settlements are lobed patches with a rotated street grid whose blocks are
split into four lots, most holding a rectangular building with a concrete,
tile or metal roof. Ships are oriented rectangles with a tapered bow, rendered
as a fractional coverage on the fine grid (4 x 4 supersampling) and blended
over the water.

Ship coordinates use scene pixels with pixel ``(i, j)`` centred on ``(i, j)``;
``heading_deg`` is clockwise from grid north (up).

Examples
--------
>>> import numpy as np
>>> from satlearn.synth.objects import ship_coverage
>>> cov, r0, c0 = ship_coverage(10.0, 10.0, length_px=8.0, width_px=2.0, heading_deg=90.0)
>>> cov.dtype, round(float(cov.sum()) / 4, 1)  # area in scene pixels
(dtype('float32'), 14.9)
"""

from __future__ import annotations

import numpy as np

from satlearn.synth.landcover import MAT
from satlearn.synth.spectra import MATERIAL_CLASS

__all__ = ["add_roads", "add_settlement", "place_ships", "ship_coverage", "ship_polygon"]

_F32 = np.float32
_ROOFS = np.array([MAT["roof_concrete"], MAT["roof_tile"], MAT["roof_metal"]], dtype=np.uint8)


def add_roads(material: np.ndarray, rng: np.random.Generator, n_roads: int) -> None:
    """Draw ``n_roads`` gently curving roads across the fine-grid map in place."""
    for _ in range(n_roads):
        vertical = bool(rng.random() < 0.5)
        m = material.T if vertical else material  # a view: drawing writes through
        h, w = m.shape
        x = np.arange(w, dtype=_F32)
        y0 = rng.uniform(0.1, 0.9) * h
        slope = rng.uniform(-0.35, 0.35)
        amp, wl, ph = rng.uniform(0, 0.04) * h, rng.uniform(0.5, 1.5) * w, rng.uniform(0, 6.3)
        arg = _F32(2 * np.pi / wl) * x + _F32(ph)
        y = _F32(y0) + _F32(slope) * (x - w / 2) + _F32(amp) * np.sin(arg)
        dy = _F32(slope) + _F32(amp * 2 * np.pi / wl) * np.cos(arg)
        half = _F32(rng.uniform(1.0, 1.5)) * np.sqrt(1 + dy * dy)
        k = np.arange(-4, 5)[:, None]
        rows = np.round(y).astype(np.intp)[None, :] + k
        keep = (np.abs(rows - y[None, :]) <= half[None, :]) & (rows >= 0) & (rows < h)
        cols = np.broadcast_to(np.arange(w)[None, :], rows.shape)
        m[rows[keep], cols[keep]] = MAT["road"]


def add_settlement(
    material: np.ndarray,
    rng: np.random.Generator,
    centre: tuple[float, float],
    radius: float,
    *,
    allowed: tuple[int, ...] | None = None,
    ground: int = MAT["built_up"],
    spacing: float | None = None,
) -> tuple[slice, slice]:
    """Draw a settlement (streets, buildings, built-up ground) in place.

    Parameters
    ----------
    material : numpy.ndarray
        Fine-grid uint8 material map.
    centre, radius : (float, float), float
        Centre (fine pixels) and radius (fine pixels) of the lobed patch.
    allowed : tuple of int, optional
        Materials that may be overwritten (default: anything but water).
    ground : int
        Material of open built-up ground between buildings.
    spacing : float, optional
        Street spacing in fine pixels (default random 18-28).

    Returns
    -------
    (slice, slice)
        The window of the material map that was touched.
    """
    cy, cx = centre
    half = int(radius * 1.3) + 2
    r0, r1 = max(int(cy) - half, 0), min(int(cy) + half, material.shape[0])
    c0, c1 = max(int(cx) - half, 0), min(int(cx) + half, material.shape[1])
    yy = np.arange(r0, r1, dtype=_F32)[:, None] - _F32(cy)
    xx = np.arange(c0, c1, dtype=_F32)[None, :] - _F32(cx)
    theta = np.arctan2(yy, xx)
    lobes = _F32(0.18) * np.sin(2 * theta + _F32(rng.uniform(0, 6.3)))
    lobes += _F32(0.1) * np.sin(5 * theta + _F32(rng.uniform(0, 6.3)))
    rnorm = np.sqrt(yy * yy + xx * xx) / (_F32(radius) * (1 + lobes))
    patch = rnorm < 1
    win = material[r0:r1, c0:c1]
    if allowed is None:
        patch &= MATERIAL_CLASS[win] != 0
    else:
        patch &= np.isin(win, np.asarray(allowed, dtype=np.uint8))

    ang = rng.uniform(0, np.pi / 2)
    ca, sa = _F32(np.cos(ang)), _F32(np.sin(ang))
    u = xx * ca + yy * sa + _F32(rng.uniform(0, 100))
    v = yy * ca - xx * sa + _F32(rng.uniform(0, 100))
    spacing = _F32(spacing if spacing is not None else rng.uniform(18, 28))
    street_w = _F32(2.0)
    bu, bv = np.floor(u / spacing), np.floor(v / spacing)
    lu, lv = u - bu * spacing - street_w, v - bv * spacing - street_w
    street = (lu < 0) | (lv < 0)
    lot = (spacing - street_w) / 2
    su, sv = (lu >= lot), (lv >= lot)
    lu, lv = lu - su * lot, lv - sv * lot
    iu = (2 * bu.astype(np.intp) + su) % 37
    iv = (2 * bv.astype(np.intp) + sv) % 41
    shape = (37, 41)
    size_u = rng.uniform(0.45, 0.85, shape).astype(_F32) * (lot - 1)
    size_v = rng.uniform(0.45, 0.85, shape).astype(_F32) * (lot - 1)
    off_u = 0.5 + rng.uniform(0, 1, shape).astype(_F32) * (lot - 1 - size_u)
    off_v = 0.5 + rng.uniform(0, 1, shape).astype(_F32) * (lot - 1 - size_v)
    present = rng.uniform(0, 1, shape).astype(_F32)
    roof = rng.choice(_ROOFS, size=shape, p=[0.5, 0.35, 0.15])
    ou, ov = off_u[iu, iv], off_v[iu, iv]
    building = (lu >= ou) & (lu < ou + size_u[iu, iv]) & (lv >= ov) & (lv < ov + size_v[iu, iv])
    building &= ~street & (present[iu, iv] < 1.05 - 0.6 * rnorm)
    win[patch] = ground
    win[patch & street] = MAT["road"]
    sel = patch & building
    win[sel] = roof[iu, iv][sel]
    return slice(r0, r1), slice(c0, c1)


def ship_coverage(
    row: float, col: float, length_px: float, width_px: float, heading_deg: float
) -> tuple[np.ndarray, int, int]:
    """Fractional coverage of a ship on the fine grid.

    Parameters are in scene pixels. Returns ``(coverage, r0, c0)``: a float32
    window of the fine grid whose top-left fine pixel is ``(r0, c0)`` (may be
    negative near the edges; the caller clips).
    """
    h = np.radians(heading_deg)
    ext = 0.5 * length_px + 1.0
    fr0, fr1 = int(np.floor(2 * (row - ext))), int(np.ceil(2 * (row + ext))) + 1
    fc0, fc1 = int(np.floor(2 * (col - ext))), int(np.ceil(2 * (col + ext))) + 1
    sub = (np.arange(4, dtype=_F32) + _F32(0.5)) / _F32(4.0)
    # scene-pixel coordinate of each sub-sample: fine pixel k spans [k/2 - 0.25, k/2 + 0.25)
    rr = (np.arange(fr0, fr1, dtype=_F32)[:, None] + sub[None, :]) * _F32(0.5) - _F32(0.25)
    cc = (np.arange(fc0, fc1, dtype=_F32)[:, None] + sub[None, :]) * _F32(0.5) - _F32(0.25)
    dr = rr.reshape(-1)[:, None] - _F32(row)
    dc = cc.reshape(-1)[None, :] - _F32(col)
    along = -dr * _F32(np.cos(h)) + dc * _F32(np.sin(h))
    across = dr * _F32(np.sin(h)) + dc * _F32(np.cos(h))
    half_l, half_w = _F32(length_px / 2), _F32(width_px / 2)
    bow = np.clip((half_l - along) / (_F32(0.2) * 2 * half_l), 0.0, 1.0)
    taper = half_w * np.minimum(_F32(1.0), _F32(0.35) + _F32(0.65) * bow)
    inside = (np.abs(along) <= half_l) & (np.abs(across) <= taper)
    n_r, n_c = fr1 - fr0, fc1 - fc0
    cov = inside.reshape(n_r, 4, n_c, 4).mean(axis=(1, 3), dtype=np.float32)
    return cov.astype(_F32), fr0, fc0


def ship_polygon(
    row: float, col: float, length_px: float, width_px: float, heading_deg: float
) -> np.ndarray:
    """Corners (row, col) in scene pixels of the ship's oriented rectangle, closed."""
    h = np.radians(heading_deg)
    ax = np.array([-np.cos(h), np.sin(h)]) * length_px / 2
    cr = np.array([np.sin(h), np.cos(h)]) * width_px / 2
    c = np.array([row, col])
    pts = [c + ax + cr, c + ax - cr, c - ax - cr, c - ax + cr]
    return np.array([*pts, pts[0]])


def place_ships(
    water_ok: np.ndarray,
    rng: np.random.Generator,
    n_ships: int,
    resolution: float,
    date_index: int,
    water_dist: np.ndarray | None = None,
    max_tries: int = 90,
) -> list[dict]:
    """Place up to ``n_ships`` non-overlapping ships on open water.

    ``water_ok`` (bool, scene grid) marks water free of cloud, shadow and
    shore; a ship is kept only if every scene pixel it touches, grown by one
    pixel, is in ``water_ok``. Lengths are 50-300 m (capped at a tenth of the
    scene), widths a fifth to an eighth of the length (at least 8 m or a
    third of the length); a ship that finds no room after a third of its
    tries shrinks by a quarter. With ``water_dist`` (signed distance to
    water), centres are drawn from water deep enough for the ship's beam and
    most ships sail parallel to the nearest shore.

    Returns
    -------
    list of dict
        ``date_index``, ``row``, ``col``, ``length_m``, ``width_m``,
        ``heading_deg`` and the private ``_coverage`` (fine-grid window).
    """
    h, w = water_ok.shape
    ok = water_ok.copy()
    rows, cols = np.nonzero(ok)
    ships: list[dict] = []
    if rows.size == 0:
        return ships
    # candidate centres sorted from the deepest water (farthest from shore) out
    depth = -water_dist[rows, cols] if water_dist is not None else np.zeros(rows.size)
    order = np.argsort(-depth, kind="stable")
    rows, cols, depth = rows[order], cols[order], depth[order]
    max_len_px = min(h, w) / 10
    for _ in range(n_ships):
        length_m = min(rng.uniform(50.0, 300.0), max_len_px * resolution)
        width_m = max(min(8.0, length_m / 3.0), length_m / rng.uniform(5.0, 8.0))
        for attempt in range(max_tries):
            if attempt and attempt % (max_tries // 3) == 0:  # shrink a ship that finds no room
                length_m, width_m = 0.75 * length_m, 0.75 * width_m
            need = 0.5 * width_m / resolution + 1.5
            n_deep = (
                int(np.searchsorted(-depth, -need, side="right")) if water_dist is not None else 0
            )
            i = rng.integers(n_deep) if n_deep > 0 else rng.integers(rows.size)
            row = rows[i] + rng.uniform(-0.5, 0.5)
            col = cols[i] + rng.uniform(-0.5, 0.5)
            heading = rng.uniform(0.0, 360.0)
            if water_dist is not None and rng.random() < 0.75:
                # sail along the shore: perpendicular to the distance gradient
                ri, cj = int(rows[i]), int(cols[i])
                gr = water_dist[min(ri + 1, h - 1), cj] - water_dist[max(ri - 1, 0), cj]
                gc = water_dist[ri, min(cj + 1, w - 1)] - water_dist[ri, max(cj - 1, 0)]
                along = np.degrees(np.arctan2(gr, gc))  # heading of direction (-gc, gr)
                heading = (along + rng.normal(0.0, 8.0) + 180.0 * (rng.random() < 0.5)) % 360.0
            lp, wp = length_m / resolution, width_m / resolution
            cov, fr0, fc0 = ship_coverage(row, col, lp, wp, heading)
            fr, fc = np.nonzero(cov > 0)
            pr, pc = (fr + fr0) // 2, (fc + fc0) // 2
            pr0, pr1, pc0, pc1 = pr.min() - 1, pr.max() + 2, pc.min() - 1, pc.max() + 2
            if pr0 < 0 or pc0 < 0 or pr1 > h or pc1 > w:
                continue
            if not ok[pr0:pr1, pc0:pc1][pr - pr0, pc - pc0].all():
                continue
            touched = np.zeros((pr1 - pr0, pc1 - pc0), dtype=bool)
            touched[pr - pr0, pc - pc0] = True
            grown = touched.copy()
            grown[1:] |= touched[:-1]
            grown[:-1] |= touched[1:]
            grown[:, 1:] |= grown[:, :-1].copy()
            grown[:, :-1] |= grown[:, 1:].copy()
            if not ok[pr0:pr1, pc0:pc1][grown].all():
                continue
            # keep later ships two pixels clear of this one
            ok[max(pr0 - 2, 0) : pr1 + 2, max(pc0 - 2, 0) : pc1 + 2] = False
            ships.append(
                {
                    "date_index": int(date_index),
                    "row": float(row),
                    "col": float(col),
                    "length_m": float(length_m),
                    "width_m": float(width_m),
                    "heading_deg": float(heading),
                    "_coverage": (cov, fr0, fc0),
                }
            )
            break
    return ships
