"""Spectral indices from the Awesome Spectral Indices catalogue.

Every index of the catalogue (Montero et al., 2023) that a scene's bands allow
is computed by its short name (``"ndvi"``, ``"evi"``, ``"savi"``, ``"ndwi"``,
``"mndwi"``, ``"nbr"``, ...). Definitions are not retyped here: the formulas,
band lists and constant defaults are read from the catalogue that the
``spyndex`` package ships (``spyndex.indices``, ``spyndex.constants``).

Bands
-----
The catalogue names bands by symbols; satlearn's band names map onto them by
wavelength range (nm, from ``spyndex.bands``):

======  =====================  ============  ==========================
symbol  satlearn band          range (nm)    note
======  =====================  ============  ==========================
A       coastal                400-455
B       blue                   450-530
G1      green1                 510-550       PlanetScope SuperDove B3
G       green                  510-600
Y       yellow                 585-625
R       red                    620-690
RE1     rededge1, rededge      695-715       a single red-edge band is RE1
RE2     rededge2               730-750
RE3     rededge3               765-795
N       nir                    760-900       Landsat OLI B5 is ``nir``
N2      nir08                  850-880       Sentinel-2 B8A
WV      nir09                  930-960
S1      swir16                 1550-1750
S2      swir22                 2080-2350
T       lwir, lwir11           10400-12500   Landsat B10 when no ``lwir``
T1      lwir11                 10600-11190
T2      lwir12                 11500-12510
VV..HV  vv, vh, hh, hv                       radar backscatter
======  =====================  ============  ==========================

Where a raster's band coordinate holds sensor band ids (``"B08"``) and
``da.attrs["sensor"]`` names the sensor, the ids are translated to names.

Constants
---------
Catalogue constants (``L``, ``g``, ``C1``, ``C2``, ``alpha``, ``gamma``, ...)
take the catalogue's defaults and are overridden by keyword:
``compute_index(da, "savi", L=0.5)``. The wavelength constants
(``lambdaN``, ``lambdaR``, ...) default to the band centres (nm) of the sensor
in ``da.attrs["sensor"]`` when one is recorded. Parameters without a default
(``PAR``, the kernel values ``kNN``, ``kNR``, ...) must be given, as numbers or
as arrays / DataArrays shaped like one band; until then the indices needing
them are not in :func:`available_indices`.

Computation
-----------
Each formula is parsed once with :mod:`ast` against a whitelist (numbers,
band symbols, constants, ``+ - * / **`` and unary minus; anything else is
refused, and nothing is ever passed to ``eval``), its constant sub-expressions
folded, and compiled into a short program of NumPy ufunc calls. The program
runs over cache-sized pieces of the scene (64 Ki pixels) in a pool of threads:
each band is read once per piece, cast to float32 and scaled there
(``value * scale + offset``), every intermediate lives in a small reused
buffer, and the result is written straight into the output. So no temporary
the size of the scene is made, whatever the formula, and the SIMD loops of
NumPy's ufuncs do the arithmetic. Pixels where any input band equals the
nodata value, divisions by zero (``x/0`` and ``0/0``) and overflows give NaN,
without a warning and never ``inf``. Dask-backed arrays are computed block by
block (``xarray.apply_ufunc(..., dask="parallelized")``): :func:`compute_index`
is *blockwise*, with no halo.

Arrays of 4 Mpx and more take a faster road: the same program, step for step,
becomes one fused float32 loop compiled with numba (``parallel=True``), so
each pixel is read once and written once, at close to memory bandwidth
(numexpr, the usual tool for this, runs at under a fifth of that speed on
uint16 bands here; see ``docs/benchmarks.md``). The loop's
source is generated from the parsed program alone, with fixed operator
spellings and numbered registers, never from the formula's text; it is
compiled once per program and kept in a small cache. Both roads round alike,
bit for bit.

Layout
------
One private module per job, all names re-exported here:

* ``_catalogue``: the catalogue (spyndex, imported on first use), band
  symbols, :func:`index_names`, :func:`resolve_index_name`,
  :func:`describe_index`;
* ``_formula``: the whitelisted parse, constant folding, the register program;
* ``_numpy`` and ``_numba``: the two engines that run a program;
* ``_kernel``: :func:`compute_formula`, the pure kernel on NumPy arrays that
  picks the engine;
* ``_dataarray``: :func:`compute_index` and :func:`available_indices` over
  numpy- or dask-backed DataArrays; imported on their first use, so the
  catalogue and the kernel load without xarray, dask or rasterio.

``evaluate_formula`` is the old name of :func:`compute_formula` (*evaluate*
scores a model against labels in satlearn; *compute* produces values); it
works for one release, with a :class:`DeprecationWarning`.

References
----------
Montero, D., Aybar, C., Mahecha, M. D., Martinuzzi, F., Söchting, M., &
Wieneke, S. (2023). A standardized catalogue of spectral indices to advance
the use of remote sensing in Earth system research. Scientific Data, 10, 197.
https://doi.org/10.1038/s41597-023-02096-0

Examples
--------
>>> from satlearn.ops.indices import compute_index, available_indices
>>> ndvi = compute_index(scene, "ndvi")  # doctest: +SKIP
>>> both = compute_index(scene, ["ndvi", "savi"], L=0.5)  # doctest: +SKIP
>>> "NDWI" in available_indices(scene)  # doctest: +SKIP
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from satlearn.deprecation import moved
from satlearn.spectral._catalogue import (
    BAND_SYMBOLS,
    describe_index,
    index_names,
    resolve_index_name,
)

# The whitelisted parse and its number literals, for other faces' own formula checks
# (the tile server's expressions); not in __all__, which lists the index API.
from satlearn.spectral._formula import literal_value as literal_value
from satlearn.spectral._formula import parse_formula as parse_formula
from satlearn.spectral._kernel import compute_formula

if TYPE_CHECKING:
    from satlearn.spectral._dataarray import available_indices, compute_index

__all__ = [
    "BAND_SYMBOLS",
    "available_indices",
    "compute_formula",
    "compute_index",
    "describe_index",
    "index_names",
    "resolve_index_name",
]

# The DataArray layer brings xarray, rioxarray, dask and rasterio (about a
# second); the catalogue and the kernel need none of them, so that layer is
# imported when one of its names is first asked for (PEP 562).
_LAZY = {
    "available_indices": "satlearn.spectral._dataarray",
    "compute_index": "satlearn.spectral._dataarray",
}

# Renamed in 0.2 (CHANGELOG.md); served with a DeprecationWarning for one release.
_renamed = moved(__name__, {"evaluate_formula": "satlearn.spectral:compute_formula"})


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        return _renamed(name)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
