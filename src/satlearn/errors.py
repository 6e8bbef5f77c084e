"""The satlearn exception hierarchy.

Every error satlearn raises on purpose is a :class:`SatlearnError`. Like
rasterio's, each class also subclasses the builtin a caller would naturally
catch: an I/O problem is also an :class:`OSError`, a bad argument also a
:class:`ValueError`, an unknown name also a :class:`KeyError`. Messages name
the input and the problem, so the CLI can print ``str(err)`` on one line.
"""

from __future__ import annotations

__all__ = [
    "BundleError",
    "CRSMismatchError",
    "CatalogError",
    "DatasetError",
    "DimensionError",
    "GridMismatchError",
    "InvalidInputError",
    "ModelNotFoundError",
    "NoValidDataError",
    "NotARasterError",
    "NotFoundError",
    "OverloadedError",
    "RasterIOError",
    "RasterNotFoundError",
    "RasterWriteError",
    "RemoteAccessError",
    "RequestTimeoutError",
    "SatlearnError",
    "UnknownBandError",
    "UnknownSensorError",
    "WriteError",
]


class SatlearnError(Exception):
    """Base class of every error satlearn raises on purpose."""


class RasterIOError(SatlearnError, OSError):
    """A raster could not be read."""


class RasterNotFoundError(RasterIOError, FileNotFoundError):
    """A local raster path does not exist."""


class NotARasterError(RasterIOError):
    """A file exists but GDAL cannot read it as a raster."""


class RemoteAccessError(RasterIOError, ConnectionError):
    """A remote raster (http, https, s3) could not be reached or read."""


class WriteError(SatlearnError, OSError):
    """An output could not be written: no space left, a read-only or unwritable folder."""


class RasterWriteError(WriteError):
    """A raster could not be written."""


class _NamedLookupError(SatlearnError, KeyError):
    # KeyError.__str__ quotes its argument; a message should read as prose.
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownBandError(_NamedLookupError):
    """A band name or id is not known to the sensor or raster at hand."""


class UnknownSensorError(_NamedLookupError):
    """A sensor name is not one of the known sensor profiles."""


class NotFoundError(_NamedLookupError):
    """What a request names (a collection, item, asset or map tile) does not exist (HTTP 404)."""


class CRSMismatchError(SatlearnError, ValueError):
    """Two rasters that must share a coordinate reference system do not."""


class InvalidInputError(SatlearnError, ValueError):
    """An argument has the wrong shape, dtype, dims or value."""


class DimensionError(InvalidInputError):
    """An array is not a DataArray, or has the wrong dims, dtype or no pixels.

    Raised by :func:`satlearn.checks.check_raster`, the one input check of
    every operation.
    """


class GridMismatchError(InvalidInputError):
    """Two layers that must share one pixel grid (shape, transform) do not."""


class CatalogError(SatlearnError, ValueError):
    """A STAC catalogue, collection or item is broken: bad JSON, a dead link, no geometry.

    The message names the object (id or href) and the link or field at fault.
    """


class DatasetError(SatlearnError, ValueError):
    """A dataset's files are missing, malformed or not in the published layout."""


class NoValidDataError(InvalidInputError):
    """An input holds no valid pixel (all nodata, all NaN or all masked)."""


class BundleError(SatlearnError, OSError):
    """A model bundle is missing, incomplete or not one satlearn can read."""


class ModelNotFoundError(SatlearnError, LookupError):
    """A served model (or version of it) is not in the repository or not loaded."""


class OverloadedError(SatlearnError, RuntimeError):
    """A model's request queue is full: the caller should retry later (HTTP 503/429)."""


class RequestTimeoutError(SatlearnError, TimeoutError):
    """A request was not answered within the server's per-request time limit."""
