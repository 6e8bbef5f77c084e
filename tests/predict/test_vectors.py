"""satlearn.predict._vectors: regions cut by window edges come out as one polygon."""

from __future__ import annotations

import numpy as np
import shapely
from affine import Affine

from satlearn.predict._vectors import trace_classes


def _trace(classes, window):
    return list(
        trace_classes(
            lambda rows, cols: classes[rows[0] : rows[1], cols[0] : cols[1]],
            height=classes.shape[0],
            width=classes.shape[1],
            transform=Affine(2, 0, 100, 0, -2, 50),
            nodata=255,
            classes={0: "land", 1: "water"},
            window=window,
        )
    )


def test_a_region_spanning_windows_is_one_polygon():
    classes = np.zeros((40, 40), np.uint8)
    yy, xx = np.mgrid[:40, :40]
    classes[(yy - 20) ** 2 + (xx - 20) ** 2 < 144] = 1  # a disc over four windows
    classes[:3, :3] = 255  # nodata is not traced
    whole = _trace(classes, 64)
    cut = _trace(classes, 16)
    assert sorted(c for _, c in whole) == sorted(c for _, c in cut) == [0, 1]
    by_class = {c: g for g, c in cut}
    assert by_class[1].equals(dict((c, g) for g, c in whole)[1])
    assert by_class[1].area == (classes == 1).sum() * 4.0
    assert by_class[0].area == (classes == 0).sum() * 4.0  # land has the disc as a hole
    assert len(by_class[0].interiors) == 1


def test_regions_touching_at_a_corner_stay_apart():
    classes = np.zeros((32, 32), np.uint8)
    classes[8:16, 8:16] = 1
    classes[16:24, 16:24] = 1  # meets the first square at one corner, on window edges
    water = [g for g, c in _trace(classes, 16) if c == 1]
    assert len(water) == 2 and all(isinstance(g, shapely.Polygon) for g in water)
    assert sum(g.area for g in water) == 2 * 64 * 4.0
