"""Realistic synthetic satellite scenes with ground truth.

The demo data and test bed of satlearn: a multi-date multispectral image of a
river valley with forest, crop parcels, grassland, towns, roads, ships,
clouds, cirrus and shadows, plus a panchromatic band at twice the resolution,
a DEM and a rectified stereo pair, all with their truths. Everything is
deterministic by seed and vectorised (numpy/scipy).

Examples
--------
>>> from satlearn.synth import make_scene, LAND_COVER_CLASSES
>>> scene = make_scene(128, seed=0)
>>> scene.image.sizes["band"], LAND_COVER_CLASSES[0]
(13, 'water')
>>> bool(scene.change_mask.any())
True
"""

from satlearn.synth.landcover import LAND_COVER_CLASSES
from satlearn.synth.scene import CHANGE_TYPES, SyntheticScene, make_scene

__all__ = ["CHANGE_TYPES", "LAND_COVER_CLASSES", "SyntheticScene", "make_scene"]
