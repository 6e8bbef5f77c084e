"""satlearn: satellite imagery from raw bands to answers.

The top level holds only the few names most code needs; everything else lives
in its own module (:mod:`satlearn.raster`, :mod:`satlearn.bands`,
:mod:`satlearn.synth`, :mod:`satlearn.errors`).
"""

from satlearn.errors import SatlearnError
from satlearn.raster import open_raster, save_cog

__version__ = "0.1.0"

__all__ = ["SatlearnError", "__version__", "open_raster", "save_cog"]
