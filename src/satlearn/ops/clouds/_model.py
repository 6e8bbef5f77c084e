"""The ``"model:PATH"`` detector: a trained pixel-classifier bundle.

The bundle (:class:`satlearn.pixelml.pixel.PixelClassifier`) decides how it
runs on chunks; its classes named ``cloud``, ``cirrus``, ``thin_cirrus`` or
``thick_cloud`` make the cloud mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from satlearn.errors import InvalidInputError
from satlearn.ops.clouds._data import NODATA_CLASS, isin, where

__all__ = ["CLOUD_CLASS_NAMES", "model_codes"]

#: Class names of a bundle that count as cloud (compared lower-case).
CLOUD_CLASS_NAMES = frozenset({"cloud", "cirrus", "thin_cirrus", "thick_cloud"})


def _is_cloud_name(name: Any) -> bool:
    return str(name).strip().lower() in CLOUD_CLASS_NAMES


def model_codes(da: xr.DataArray, path: str) -> Any:
    """uint8 1 cloud / 0 clear / 255 nodata from the pixel-classifier bundle at ``path``.

    Raises
    ------
    satlearn.errors.BundleError
        ``path`` is not a readable bundle.
    InvalidInputError
        None of the bundle's classes is named as a cloud.
    """
    # Imported on first use: scikit-learn and the feature code are not needed otherwise.
    from satlearn.pixelml.pixel import PixelClassifier

    model = PixelClassifier.load(path)
    names = getattr(model, "class_names", {}) or {}
    cloudy = [c for c in model.classes if _is_cloud_name(names.get(c, ""))]
    if not cloudy:
        raise InvalidInputError(
            f"model {path!r} has classes {names or list(model.classes)}; none is named "
            "cloud, cirrus, thin_cirrus or thick_cloud"
        )
    predicted = model.predict(da).data
    cloud = isin(predicted, cloudy).astype(np.uint8)
    return where(predicted < 0, NODATA_CLASS, cloud)
