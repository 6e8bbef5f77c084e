"""Per-band rendering helpers: block means, ships, atmosphere, blur and noise.

Examples
--------
>>> import numpy as np
>>> from satlearn.synth.render import MixedPixels
>>> mat = np.zeros((4, 4), np.uint8); mat[0, 0] = 1
>>> ones = np.ones((4, 4), np.float32)
>>> mp = MixedPixels(mat, ones, ones * 0)
>>> out = np.empty((2, 2), np.float32)
>>> mp.render(np.array([0.0, 1.0], np.float32), np.zeros(2, np.float32), out, out.copy())
>>> out.tolist()
[[0.25, 0.0], [0.0, 0.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from affine import Affine

from satlearn.synth import objects
from satlearn.synth.noise import add_sensor_noise, blockmean2, blur_and_shift

__all__ = ["MixedPixels", "blend_ships", "finish_band", "pixel_to_crs", "ship_cover_1x",
           "ship_truth"]  # fmt: skip

_F32 = np.float32


def pixel_to_crs(
    transform: Affine, rows: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """CRS coordinates of scene-pixel positions (pixel ``(i, j)`` centred on ``(i, j)``)."""
    rows, cols = np.asarray(rows, float) + 0.5, np.asarray(cols, float) + 0.5
    xs = transform.c + cols * transform.a + rows * transform.b
    ys = transform.f + cols * transform.d + rows * transform.e
    return xs, ys


def ship_truth(
    ship: dict[str, Any],
    shape: tuple[int, int],
    mask: np.ndarray,
    transform: Affine,
    pixel_size_m: float,
) -> None:
    """Burn one ship into the scene-grid ``mask`` and fill its bbox/bounds."""
    cov, fr0, fc0 = ship.pop("_coverage")
    # align the fine window to whole scene pixels
    pr, pc = fr0 % 2, fc0 % 2
    cov = np.pad(cov, ((pr, (cov.shape[0] + pr) % 2), (pc, (cov.shape[1] + pc) % 2)))
    r0, c0 = (fr0 - pr) // 2, (fc0 - pc) // 2
    cov1 = blockmean2(cov)
    hit = cov1 >= 0.3
    ci, cj = round(ship["row"]) - r0, round(ship["col"]) - c0
    if 0 <= ci < hit.shape[0] and 0 <= cj < hit.shape[1]:
        hit[ci, cj] = True
    rr, cc = np.nonzero(hit)
    rr, cc = rr + r0, cc + c0
    keep = (rr >= 0) & (rr < shape[0]) & (cc >= 0) & (cc < shape[1])
    rr, cc = rr[keep], cc[keep]
    mask[rr, cc] = True
    ship["bbox"] = (int(rr.min()), int(cc.min()), int(rr.max()) + 1, int(cc.max()) + 1)
    poly = objects.ship_polygon(
        ship["row"], ship["col"], ship["length_m"] / pixel_size_m,
        ship["width_m"] / pixel_size_m, ship["heading_deg"],
    )  # fmt: skip
    xs, ys = pixel_to_crs(transform, poly[:, 0], poly[:, 1])
    ship["bounds"] = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))


class MixedPixels:
    """Exact 2x2 block means of a fine-grid rendering, computed on the scene grid.

    A fine pixel renders as ``bg[m] * tex + dveg[m] * ftex``. Blocks of one
    material (most of them) are ``bg[m] * mean(tex) + dveg[m] * mean(ftex)``;
    the few mixed blocks are averaged from their four fine pixels.
    """

    def __init__(self, material: np.ndarray, tex: np.ndarray, ftex: np.ndarray) -> None:
        q = [material[i::2, j::2] for i in (0, 1) for j in (0, 1)]
        pure = (q[0] == q[1]) & (q[0] == q[2]) & (q[0] == q[3])
        self.mat = q[0].astype(np.intp)
        self.tex = blockmean2(tex)
        self.ftex = blockmean2(ftex)
        self.mixed = np.flatnonzero(~pure)
        r, c = np.divmod(self.mixed, pure.shape[1])
        rr = (2 * r[:, None] + np.array([0, 0, 1, 1])).ravel()
        cc = (2 * c[:, None] + np.array([0, 1, 0, 1])).ravel()
        self.sub_mat = material[rr, cc].astype(np.intp)
        self.sub_tex = tex[rr, cc]
        self.sub_ftex = ftex[rr, cc]

    def render(
        self, bg: np.ndarray, dveg: np.ndarray, out: np.ndarray, scratch: np.ndarray
    ) -> None:
        """Write the block means for one band (tables ``bg``, ``dveg``) into ``out``."""
        np.take(bg, self.mat, out=out)
        out *= self.tex
        np.take(dveg, self.mat, out=scratch)
        scratch *= self.ftex
        out += scratch
        sub = bg[self.sub_mat] * self.sub_tex + dveg[self.sub_mat] * self.sub_ftex
        out.ravel()[self.mixed] = sub.reshape(-1, 4).mean(axis=1)


def ship_cover_1x(
    ship: dict[str, Any], shape: tuple[int, int]
) -> tuple[np.ndarray, tuple[slice, slice]]:
    """A ship's coverage averaged to the scene grid, clipped, with its window."""
    cov, fr0, fc0 = ship["_coverage"]
    pr, pc = fr0 % 2, fc0 % 2
    cov = np.pad(cov, ((pr, (cov.shape[0] + pr) % 2), (pc, (cov.shape[1] + pc) % 2)))
    cov1 = blockmean2(cov)
    r0, c0 = (fr0 - pr) // 2, (fc0 - pc) // 2
    r1, c1 = r0 + cov1.shape[0], c0 + cov1.shape[1]
    cr0, cc0 = max(r0, 0), max(c0, 0)
    cr1, cc1 = min(r1, shape[0]), min(c1, shape[1])
    cov1 = cov1[cr0 - r0 : cr1 - r0, cc0 - c0 : cc1 - c0]
    return cov1, (slice(cr0, cr1), slice(cc0, cc1))


def blend_ships(hi: np.ndarray, ships: list[dict[str, Any]], values: list[float]) -> None:
    for ship, value in zip(ships, values, strict=True):
        cov, fr0, fc0 = ship["_coverage"]
        r0, c0 = max(fr0, 0), max(fc0, 0)
        r1, c1 = min(fr0 + cov.shape[0], hi.shape[0]), min(fc0 + cov.shape[1], hi.shape[1])
        if r1 <= r0 or c1 <= c0:
            continue
        c = cov[r0 - fr0 : r1 - fr0, c0 - fc0 : c1 - fc0]
        win = hi[r0:r1, c0:c1]
        win *= 1 - c
        win += c * _F32(value)


def finish_band(
    surf: np.ndarray,
    atm: dict[str, np.ndarray],
    b: int,
    op: np.ndarray | None,
    sh: np.ndarray | None,
    ci: np.ndarray | None,
    shift: tuple[float, float],
    sigma: float,
    rng: np.random.Generator,
    out: np.ndarray,
    work: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """Surface reflectance (modified in place) to noisy, blurred, shifted TOA in ``out``."""
    toa = surf
    scratch = work[0]
    if op is not None and op.shape != toa.shape:  # fine grid: broadcast 2x2 blocks
        ch, cw = op.shape
        toa = toa.reshape(ch, 2, cw, 2)
        scratch = scratch.reshape(ch, 2, cw, 2)
        op, sh, ci = (a[:, None, :, None] for a in (op, sh, ci))
    toa *= atm["trans"][b]
    if sh is not None:
        np.multiply(sh, -atm["shadow_k"][b], out=scratch)
        scratch += _F32(1.0)
        toa *= scratch
    toa += atm["path"][b]
    if ci is not None:
        np.multiply(ci, atm["cirrus"][b], out=scratch)
        toa += scratch
    if op is not None:
        np.multiply(op, _F32(0.15) * atm["cloud"][b], out=scratch)
        scratch += _F32(0.85) * atm["cloud"][b]
        scratch -= toa
        scratch *= op
        toa += scratch
    blur_and_shift(surf, sigma, (-shift[0], -shift[1]), out=out)
    add_sensor_noise(out, rng, float(atm["snr"][b]), work=work)
    # Floor at one L1C digital number (1e-4), not 0: real valid pixels are
    # never DN 0, which is nodata, and the cirrus band of clear water is dark
    # enough (~0.0008) for noise to reach 0 otherwise.
    np.maximum(out, _F32(1e-4), out=out)
    return out
