"""Sun geometry: where a cloud's shadow falls on a north-up grid.

One definition for both sides of satlearn: :mod:`satlearn.synth.atmosphere`
casts the shadows of its synthetic clouds with it, and
:mod:`satlearn.ops.clouds` searches for real shadows with it, so a detector
tested on synthetic scenes finds them where the generator put them. It sits
in the lowest layer (it needs only :mod:`math`) so that both may import it.

Conventions: the sun azimuth is in degrees clockwise from north, the sun
zenith in degrees from the vertical; rows grow southwards and columns
eastwards (a north-up grid); the view is near nadir.

Examples
--------
>>> from satlearn.sun import shadow_offset
>>> dy, dx = shadow_offset(1000.0, 90.0, 45.0, 10.0)  # sun in the east
>>> round(dy, 6), round(dx, 6)
(0.0, -100.0)
"""

from __future__ import annotations

import math

__all__ = ["shadow_offset"]


def shadow_offset(
    cloud_height_m: float, sun_azimuth: float, sun_zenith: float, pixel_size_m: float
) -> tuple[float, float]:
    """(rows, cols) displacement of a cloud's shadow from the cloud, in pixels.

    The shadow lies ``cloud_height_m * tan(sun_zenith) / pixel_size_m``
    pixels from the cloud, away from the sun: with the sun in the south-east
    (azimuth 150 deg) it lies to the north-west (negative rows and columns).

    Parameters
    ----------
    cloud_height_m : float
        Height of the cloud above the ground in metres.
    sun_azimuth, sun_zenith : float
        Degrees (azimuth clockwise from north).
    pixel_size_m : float
        Side of a (square) pixel in metres.

    Returns
    -------
    tuple of float
        ``(rows, cols)``, not rounded.

    Examples
    --------
    >>> dy, dx = shadow_offset(1000.0, 180.0, 45.0, 10.0)
    >>> round(dy, 6), round(dx, 6)
    (-100.0, -0.0)
    """
    length = cloud_height_m * math.tan(math.radians(sun_zenith)) / pixel_size_m
    azimuth = math.radians(sun_azimuth)
    return length * math.cos(azimuth), -length * math.sin(azimuth)
