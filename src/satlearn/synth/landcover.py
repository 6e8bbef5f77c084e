"""Land-cover layout, crop parcels, phenology and natural change events.

The layout lives on the *fine grid* (twice the resolution of the scene, the
panchromatic grid) as a material map (see :data:`satlearn.synth.spectra.MATERIALS`).
Natural classes come from thresholded multi-octave noise fields computed on
the scene grid and bilinearly upsampled, so boundaries are smooth at both
resolutions; water is a meandering river plus a lake given by an analytic
signed distance; cropland is a warped, rotated grid of parcels, each with its
own crop and phenology, separated by grass margins. Scene-grid classes are the
majority of the four fine pixels (:func:`majority_class`).

Layout scales (fields, towns, parcels) are in pixels, so scenes look alike at
any resolution; only ship sizes and terrain relief use metres.

Examples
--------
>>> import numpy as np
>>> from satlearn.synth.landcover import water_distance
>>> d = water_distance((128, 128), np.random.default_rng(0))
>>> bool((d < 0).any() and (d > 0).any())
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from satlearn.synth.noise import blockmean2, fractal_noise, upsample2
from satlearn.synth.spectra import MATERIAL_CLASS, MATERIALS

__all__ = [
    "LAND_COVER_CLASSES",
    "MAT",
    "Layout",
    "apply_clearing",
    "apply_flooding",
    "classes_per_date",
    "greenness",
    "majority_class",
    "natural_layout",
    "water_distance",
]

#: Land-cover class names, indexed by class id.
LAND_COVER_CLASSES: tuple[str, ...] = (
    "water", "forest", "cropland", "grassland", "bare_soil", "built_up", "road",
)  # fmt: skip

#: Material name to material id.
MAT: dict[str, int] = {m[0]: i for i, m in enumerate(MATERIALS)}

_F32 = np.float32
# Tie-break priority when the four fine pixels split 2-2 (thin features win).
_PRIORITY = np.array([5, 1, 2, 0, 3, 4, 6], dtype=np.int8)


@dataclass
class Layout:
    """Fine-grid layout shared by every date."""

    material: np.ndarray  # uint8 (2H, 2W) date-0 materials
    parcel_key: np.ndarray  # uint8 (2H, 2W) random parcel label 0..255
    crop_type: np.ndarray  # uint8 (256,) crop type of each parcel label
    parcel_vigour: np.ndarray  # float32 (256,) per-parcel greenness factor


def water_distance(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Signed distance (scene pixels, negative inside) to a river and a lake.

    The river crosses the scene along rows or columns with a meandering
    centreline (three sinusoids); the lake is a lobed ellipse away from it.
    """
    h, w = shape
    transpose = bool(rng.random() < 0.5)
    if transpose:
        h, w = w, h
    y = np.arange(h, dtype=_F32)[:, None]
    x = np.arange(w, dtype=_F32)[None, :]
    n = min(h, w)
    centre = _F32(h * rng.uniform(0.3, 0.7))
    slope = np.zeros_like(x)
    for k, frac in enumerate((0.07, 0.035, 0.015)):
        wl = w / (1.3 * 2**k) * rng.uniform(0.8, 1.2)
        ph = rng.uniform(0, 2 * np.pi)
        amp = frac * h
        centre = centre + _F32(amp) * np.sin(_F32(2 * np.pi / wl) * x + _F32(ph))
        slope = slope + _F32(amp * 2 * np.pi / wl) * np.cos(_F32(2 * np.pi / wl) * x + _F32(ph))
    half = _F32(max(2.5, 0.022 * n)) * (1 + _F32(0.25) * np.sin(_F32(2 * np.pi / w) * x))
    river = np.abs(y - centre) / np.sqrt(1 + slope * slope) - half
    # lake: centre far from the river
    radius = max(5.0, 0.075 * n * rng.uniform(0.8, 1.2))
    cy, cx = h / 2, w / 2
    for _ in range(50):
        cy, cx = rng.uniform(0.15, 0.85) * h, rng.uniform(0.15, 0.85) * w
        ix = int(np.clip(cx, 0, w - 1))
        if abs(cy - float(centre[0, ix])) > 2.5 * radius + float(half[0, ix]):
            break
    ang = rng.uniform(0, np.pi)
    dy, dx = y - _F32(cy), x - _F32(cx)
    u = dx * _F32(np.cos(ang)) + dy * _F32(np.sin(ang))
    v = -dx * _F32(np.sin(ang)) + dy * _F32(np.cos(ang))
    aspect = _F32(rng.uniform(1.0, 1.6))
    r = np.sqrt((u / aspect) ** 2 + v * v)
    theta = np.arctan2(v, u)
    lobes = _F32(0.15) * np.sin(3 * theta + _F32(rng.uniform(0, 6.3)))
    lobes += _F32(0.08) * np.sin(5 * theta + _F32(rng.uniform(0, 6.3)))
    lake = r - _F32(radius) * (1 + lobes)
    dist = np.minimum(river, lake).astype(_F32)
    return np.ascontiguousarray(dist.T) if transpose else dist


def _quantile(a: np.ndarray, q: float) -> float:
    return float(np.quantile(a[::3, ::3], q))


def natural_layout(
    shape: tuple[int, int], rng: np.random.Generator, dem: np.ndarray, water_dist: np.ndarray
) -> Layout:
    """Fine-grid material map of water, forest, cropland parcels, grassland, bare soil."""
    h, w = shape
    n = min(h, w)
    elev = (dem - dem.min()) / max(float(np.ptp(dem)), 1e-6)
    forest = fractal_noise(shape, rng, beta=3.0, max_wavelength=n / 2) + 1.2 * elev
    crop = fractal_noise(shape, rng, beta=3.6, max_wavelength=n / 1.5) - 1.0 * elev
    bare = fractal_noise(shape, rng, beta=2.6, max_wavelength=n / 6)
    t_crop = _quantile(crop, 0.62)
    t_forest = _quantile(forest, 0.70)
    t_bare = _quantile(bare, 0.965)

    mat = np.full((2 * h, 2 * w), MAT["grassland"], dtype=np.uint8)
    crop_f = upsample2(crop)
    mat[crop_f > t_crop] = MAT["cropland"]
    del crop_f
    forest_f = upsample2(forest)
    mat[forest_f > t_forest] = MAT["forest"]
    del forest_f
    bare_f = upsample2(bare)
    mat[bare_f > t_bare] = MAT["bare_soil"]
    del bare_f
    mat[upsample2(water_dist) < 0] = MAT["water"]

    # crop parcels: a rotated grid (scene-pixel units) warped by sinusoids; the
    # coordinates are sums of a row term and a column term (one pass each)
    yy = (np.arange(2 * h, dtype=_F32)[:, None] + _F32(0.5)) * _F32(0.5)
    xx = (np.arange(2 * w, dtype=_F32)[None, :] + _F32(0.5)) * _F32(0.5)
    ang = rng.uniform(-0.4, 0.4)
    ca, sa = _F32(np.cos(ang)), _F32(np.sin(ang))
    amp, wl = _F32(rng.uniform(2, 5)), _F32(rng.uniform(0.5, 1.0) * n)
    su = _F32(max(6.0, rng.uniform(0.05, 0.08) * min(n, 512)))
    sv = _F32(max(4.0, rng.uniform(0.03, 0.05) * min(n, 512)))
    u_row = (yy * sa + amp * np.sin(yy * _F32(2 * np.pi) / wl)) / su
    v_col = (amp * np.sin(xx * _F32(2 * np.pi) / wl + _F32(1.0)) - xx * sa) / sv
    u = u_row + xx * (ca / su)
    v = v_col + yy * (ca / sv)
    pu = np.floor(u)
    pv = np.floor(v)
    u -= pu
    v -= pv
    margin = u < _F32(0.5) / su
    margin |= v < _F32(0.5) / sv
    del u, v
    np.mod(pu, _F32(61), out=pu)
    np.mod(pv, _F32(67), out=pv)
    pu *= _F32(67)
    pu += pv
    del pv
    table = rng.integers(0, 256, size=61 * 67, dtype=np.uint8)
    key = table[pu.astype(np.intp)]
    del pu
    mat[(mat == MAT["cropland"]) & margin] = MAT["grassland"]
    crop_type = rng.choice(len(_CROPS), size=256, p=[c[1] for c in _CROPS]).astype(np.uint8)
    vigour = rng.uniform(0.85, 1.1, size=256).astype(_F32)
    return Layout(mat, key, crop_type, vigour)


# crop types: (name, probability, peak day of year, width in days, harvest day or None, base, amp)
_CROPS: tuple[tuple[str, float, float, float, float | None, float, float], ...] = (
    ("winter_cereal", 0.3, 140.0, 45.0, 200.0, 0.15, 0.8),
    ("maize", 0.25, 215.0, 35.0, None, 0.05, 0.9),
    ("sugar_beet", 0.15, 205.0, 55.0, None, 0.05, 0.85),
    ("meadow", 0.2, 160.0, 90.0, None, 0.55, 0.3),
    ("fallow", 0.1, 180.0, 60.0, None, 0.10, 0.15),
)


def _bump(doy: float, peak: float, width: float) -> float:
    return float(np.exp(-(((doy - peak) / width) ** 2)))


def greenness(layout: Layout, material: np.ndarray, doy: float, vigour: np.ndarray) -> np.ndarray:
    """Green-vegetation fraction (float32, fine grid) of each pixel on day ``doy``.

    Forest is nearly stable (0.88-0.95), grassland greens up in spring and
    dries in summer, each crop follows its own curve (winter cereals are green
    in spring and harvested to stubble in July; maize and sugar beet are bare
    in April and greenest in August), built-up ground keeps some gardens.
    ``vigour`` is a multiplicative field (about 1 +- 0.1).
    """
    crop_f = np.empty(256, dtype=_F32)
    for i, (_, _, peak, width, harvest, base, amp) in enumerate(_CROPS):
        value = base + amp * _bump(doy, peak, width)
        if harvest is not None and doy > harvest:
            value = 0.06
        crop_f[layout.crop_type == i] = value
    crop_f = np.clip(crop_f * layout.parcel_vigour, 0.0, 1.0).astype(_F32)
    grass = 0.45 + 0.3 * _bump(doy, 150.0, 50.0) - (0.15 if doy > 200 else 0.0)
    per_mat = np.zeros(len(MATERIALS), dtype=_F32)
    per_mat[MAT["forest"]] = 0.88 + 0.07 * _bump(doy, 190.0, 70.0)
    per_mat[MAT["grassland"]] = grass
    per_mat[MAT["bare_soil"]] = 0.04
    per_mat[MAT["built_up"]] = 0.2
    per_mat[MAT["clearing"]] = 0.1
    f = per_mat[material]
    is_crop = material == MAT["cropland"]
    f[is_crop] = crop_f[layout.parcel_key[is_crop]]
    f *= vigour
    np.clip(f, 0.0, 1.0, out=f)
    return f


def majority_class(material: np.ndarray) -> np.ndarray:
    """Scene-grid class map: the majority class of each 2x2 block of fine pixels.

    Ties (2-2 splits) go to the class with the higher priority: road, water,
    built-up, bare soil, cropland, forest, grassland.
    """
    cls = MATERIAL_CLASS[material]
    h, w = cls.shape[0] // 2, cls.shape[1] // 2
    best = np.full((h, w), -1, dtype=np.int16)
    out = np.zeros((h, w), dtype=np.uint8)
    quads = (cls[0::2, 0::2], cls[0::2, 1::2], cls[1::2, 0::2], cls[1::2, 1::2])
    for c in range(len(LAND_COVER_CLASSES)):
        count = np.zeros((h, w), dtype=np.int16)
        for q in quads:
            count += q == c
        score = count * 8 + _PRIORITY[c]
        score[count == 0] = -1
        better = score > best
        out[better] = c
        best = np.maximum(best, score)
    return out


#: Classes a change event can turn a pixel into: water, bare soil, built-up, road.
_EVENT_CLASSES = (0, 4, 5, 6)


def classes_per_date(mats: list[np.ndarray]) -> np.ndarray:
    """Scene-grid classes per date; later dates differ from date 0 only by events.

    A scene pixel takes its date-``t`` majority class only where at least two
    of its four fine pixels changed class since date 0 and the new class is
    one an event produces; elsewhere it keeps its date-0 class, so that a
    building on one fine pixel does not flip a mixed pixel's majority.
    """
    first = majority_class(mats[0])
    out = [first]
    cls0 = MATERIAL_CLASS[mats[0]]
    for mat in mats[1:]:
        moved = blockmean2((MATERIAL_CLASS[mat] != cls0).astype(_F32)) >= 0.5
        now = majority_class(mat)
        keep = ~moved | ~np.isin(now, _EVENT_CLASSES)
        now[keep] = first[keep]
        out.append(now)
    return np.stack(out)


def apply_clearing(
    material: np.ndarray, rng: np.random.Generator, extent: float
) -> tuple[slice, slice] | None:
    """Clear-cut a rotated rectangle of forest in place (forest -> clearing).

    ``extent`` is the side length in fine pixels. Returns the window touched,
    or None if the scene has no forest.
    """
    rows, cols = np.nonzero(material[::8, ::8] == MAT["forest"])
    if rows.size == 0:
        return None
    i = rng.integers(rows.size)
    cy, cx = rows[i] * 8, cols[i] * 8
    half = int(extent)
    r0, r1 = max(cy - half, 0), min(cy + half, material.shape[0])
    c0, c1 = max(cx - half, 0), min(cx + half, material.shape[1])
    yy = np.arange(r0, r1, dtype=_F32)[:, None] - cy
    xx = np.arange(c0, c1, dtype=_F32)[None, :] - cx
    ang = rng.uniform(0, np.pi)
    u = xx * _F32(np.cos(ang)) + yy * _F32(np.sin(ang))
    v = -xx * _F32(np.sin(ang)) + yy * _F32(np.cos(ang))
    a, b = extent * rng.uniform(0.4, 0.6), extent * rng.uniform(0.25, 0.45)
    inside = (np.abs(u) < a) & (np.abs(v) < b)
    win = material[r0:r1, c0:c1]
    win[inside & (win == MAT["forest"])] = MAT["clearing"]
    return slice(r0, r1), slice(c0, c1)


def apply_flooding(
    material: np.ndarray, water_dist: np.ndarray, rng: np.random.Generator, extent: float
) -> tuple[slice, slice] | None:
    """Flood a lobed patch of land next to the water in place (-> flood water).

    ``water_dist`` is the scene-grid signed distance to water. The patch is
    centred on a shore pixel, has radius ``extent`` fine pixels and only
    reaches land within ``extent / 2`` scene pixels of the water.
    """
    shore = (water_dist[::2, ::2] > 0.5) & (water_dist[::2, ::2] < 2.0)
    rows, cols = np.nonzero(shore)
    if rows.size == 0:
        return None
    i = rng.integers(rows.size)
    cy, cx = rows[i] * 4, cols[i] * 4
    half = 2 * (int(extent * 0.65) + 1)  # even, so the window is whole scene pixels
    r0, r1 = max(cy - half, 0), min(cy + half, material.shape[0])
    c0, c1 = max(cx - half, 0), min(cx + half, material.shape[1])
    yy = np.arange(r0, r1, dtype=_F32)[:, None] - cy
    xx = np.arange(c0, c1, dtype=_F32)[None, :] - cx
    near = upsample2(water_dist[r0 // 2 : r1 // 2, c0 // 2 : c1 // 2])
    theta = np.arctan2(yy, xx)
    lobes = _F32(0.2) * np.sin(3 * theta + _F32(rng.uniform(0, 6.3)))
    lobes += _F32(0.1) * np.sin(7 * theta + _F32(rng.uniform(0, 6.3)))
    inside = np.sqrt(yy * yy + xx * xx) < _F32(extent) * (1 + lobes)
    inside &= near < _F32(extent / 2)
    win = material[r0:r1, c0:c1]
    inside &= MATERIAL_CLASS[win] != 0
    win[inside] = MAT["flood_water"]
    return slice(r0, r1), slice(c0, c1)
