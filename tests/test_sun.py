"""satlearn.sun: the shadow geometry shared by the synthetic scenes and the cloud-shadow search."""

from __future__ import annotations

import math

import pytest

from satlearn.sun import shadow_offset


@pytest.mark.parametrize(
    ("azimuth", "expected"),
    [
        (180.0, (-100.0, 0.0)),  # sun in the south: shadow to the north (up)
        (90.0, (0.0, -100.0)),  # sun in the east: shadow to the west (left)
        (0.0, (100.0, 0.0)),  # sun in the north: shadow to the south (down)
        (270.0, (0.0, 100.0)),  # sun in the west: shadow to the east (right)
    ],
)
def test_the_shadow_falls_away_from_the_sun(azimuth, expected) -> None:
    dy, dx = shadow_offset(1000.0, azimuth, 45.0, 10.0)
    assert dy == pytest.approx(expected[0], abs=1e-9)
    assert dx == pytest.approx(expected[1], abs=1e-9)


def test_the_length_is_height_times_tan_zenith_over_the_pixel() -> None:
    dy, dx = shadow_offset(1500.0, 150.0, 35.0, 20.0)
    assert math.hypot(dy, dx) == pytest.approx(1500.0 * math.tan(math.radians(35.0)) / 20.0)
    assert dy < 0 and dx < 0  # sun in the south-east: shadow to the north-west
    assert shadow_offset(0.0, 150.0, 35.0, 20.0) == (0.0, -0.0)
