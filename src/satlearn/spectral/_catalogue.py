"""The Awesome Spectral Indices catalogue: index definitions, names, band symbols.

Definitions are read from the catalogue that ``spyndex`` ships
(``spyndex.indices``, ``spyndex.constants``), never retyped; spyndex is
imported on the first look-up, not with this module.
"""

from __future__ import annotations

import difflib
import functools
from typing import Any

from satlearn.errors import InvalidInputError
from satlearn.spectral._formula import Formula, parse_formula

__all__ = [
    "BAND_SYMBOLS",
    "WAVELENGTH_CONSTANTS",
    "catalogue",
    "constant_defaults",
    "describe_index",
    "index_attrs",
    "index_formula",
    "index_names",
    "resolve_index_name",
]

#: Catalogue band symbol -> satlearn band names that stand for it, in order of preference.
BAND_SYMBOLS: dict[str, tuple[str, ...]] = {
    "A": ("coastal",),
    "B": ("blue",),
    "G1": ("green1",),
    "G": ("green",),
    "Y": ("yellow",),
    "R": ("red",),
    "RE1": ("rededge1", "rededge"),
    "RE2": ("rededge2",),
    "RE3": ("rededge3",),
    "N": ("nir",),
    "N2": ("nir08",),
    "WV": ("nir09",),
    "S1": ("swir16",),
    "S2": ("swir22",),
    "T": ("lwir", "lwir11"),
    "T1": ("lwir11",),
    "T2": ("lwir12",),
    "VV": ("vv",),
    "VH": ("vh",),
    "HH": ("hh",),
    "HV": ("hv",),
}

#: Wavelength constants and the band symbol whose centre (nm) they default to.
WAVELENGTH_CONSTANTS: dict[str, str] = {
    "lambdaG": "G",
    "lambdaR": "R",
    "lambdaN": "N",
    "lambdaN2": "N2",
    "lambdaS1": "S1",
    "lambdaS2": "S2",
}


@functools.cache
def catalogue() -> dict[str, Any]:
    """Short name -> spyndex index entry (``formula``, ``long_name``, ...)."""
    import spyndex

    return dict(spyndex.indices.items())


@functools.cache
def constant_defaults() -> dict[str, float | None]:
    """Catalogue constant -> its default value (None where the catalogue has none)."""
    import spyndex

    return {name: c.default for name, c in spyndex.constants.items()}


def index_formula(short: str) -> Formula:
    """The parsed formula of the index ``short`` (catalogue spelling)."""
    return parse_formula(catalogue()[short].formula)


def index_attrs(short: str) -> dict[str, str]:
    """The attributes a computed index carries: ``long_name``, ``formula``, ``reference``."""
    entry = catalogue()[short]
    return {"long_name": entry.long_name, "formula": entry.formula, "reference": entry.reference}


def index_names() -> list[str]:
    """Every index short name of the catalogue, in catalogue spelling (``"NDVI"``, ``"kNDVI"``)."""
    return list(catalogue())


def resolve_index_name(name: str) -> str:
    """The catalogue spelling of ``name``, matched case-insensitively.

    Two pairs differ only by case (``BAI`` / ``BaI``, ``MSR705`` / ``mSR705``):
    an exact spelling picks either, any other spelling the upper-case one.
    """
    if not isinstance(name, str):
        raise InvalidInputError(f"an index name must be a string, got {type(name).__name__}")
    entries = catalogue()
    if name in entries:
        return name
    matches = [k for k in entries if k.lower() == name.strip().lower()]
    if len(matches) == 1:
        return matches[0]
    upper = [k for k in matches if k == k.upper()]
    if upper:
        return upper[0]
    lowered = {k.lower(): k for k in entries}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=3)
    hint = f"; did you mean {', '.join(lowered[c] for c in close)}?" if close else ""
    raise InvalidInputError(
        f"unknown spectral index {name!r}{hint} (see satlearn.ops.indices.index_names())"
    )


def describe_index(name: str) -> dict[str, Any]:
    """What the catalogue says of an index.

    Returns
    -------
    dict
        ``short_name``, ``long_name``, ``formula``, ``bands`` (catalogue
        symbols), ``band_names`` (satlearn names per symbol), ``constants``
        (name -> default, None where there is none), ``application_domain``,
        ``reference`` and ``platforms``.

    Examples
    --------
    >>> describe_index("ndvi")["formula"]
    '(N-R)/(N+R)'
    """
    short = resolve_index_name(name)
    entry = catalogue()[short]
    symbols = index_formula(short).symbols
    defaults = constant_defaults()
    return {
        "short_name": short,
        "long_name": entry.long_name,
        "formula": entry.formula,
        "bands": [s for s in symbols if s not in defaults],
        "band_names": {s: list(BAND_SYMBOLS.get(s, ())) for s in symbols if s not in defaults},
        "constants": {s: defaults[s] for s in symbols if s in defaults},
        "application_domain": entry.application_domain,
        "reference": entry.reference,
        "platforms": list(entry.platforms),
    }
