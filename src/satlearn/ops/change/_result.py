"""What :func:`~satlearn.ops.change.detect_change` returns, in every op's result shape.

``.mask``, the extra layers (``.magnitude``, ``.direction``, ``.valid``),
``.scores(truth)`` (through :mod:`satlearn.metrics`) and ``.to_features()``
(through :func:`satlearn.vector.mask_to_features`), as ``WaterResult`` and
``ShipDetections`` have them; ``.compute()`` and ``.coded_mask()`` are what a
writer (``satlearn change``) needs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from satlearn.deprecation import renamed_keywords
from satlearn.errors import InvalidInputError

if TYPE_CHECKING:
    from satlearn.metrics import BinaryScores

__all__ = ["ChangeResult"]

#: The layers of a :class:`ChangeResult`, in the order ``compute`` gathers them.
LAYERS = ("magnitude", "mask", "valid", "direction")


@dataclass(frozen=True)
class ChangeResult:
    """What :func:`detect_change` found.

    Attributes
    ----------
    magnitude : xarray.DataArray
        float32 (y, x) change magnitude (method-specific units, larger = more
        change); NaN where a pixel is not valid. For ``pca-kmeans`` it is the
        (smoothed) difference image that was clustered.
    mask : xarray.DataArray
        bool (y, x), True = changed; False where not valid.
    valid : xarray.DataArray
        bool (y, x), the pixels that took part.
    method : str
    threshold : float or None
        The magnitude threshold (``mask = magnitude > threshold``); None for
        ``pca-kmeans``, which clusters instead.
    direction : xarray.DataArray or None
        ``cva`` only: float32 (y, x) change direction in radians, [0, pi].
    details : dict
        Method-specific fit: band statistics, the IR-MAD fit, the PCA size...

    Examples
    --------
    >>> result = detect_change(before, after, method="cva")  # doctest: +SKIP
    >>> result.scores(truth).f1, len(result.to_features())  # doctest: +SKIP
    (0.93, 1)
    """

    magnitude: xr.DataArray
    mask: xr.DataArray
    valid: xr.DataArray
    method: str
    threshold: float | None
    direction: xr.DataArray | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def compute(self) -> ChangeResult:
        """The result with every layer in memory, dask ones computed in one pass.

        The layers share their graph (reading, scaling, the magnitude), so
        computing them together reads the inputs once, where computing each
        layer on its own would read them once per layer. A numpy-backed
        result is returned as it is.

        Examples
        --------
        >>> done = detect_change(before.chunk(512), after.chunk(512)).compute()  # doctest: +SKIP
        >>> type(done.mask.data)  # doctest: +SKIP
        <class 'numpy.ndarray'>
        """
        layers = {name: getattr(self, name) for name in LAYERS if getattr(self, name) is not None}
        lazy = [name for name, layer in layers.items() if layer.chunks is not None]
        if not lazy:
            return self
        import dask

        computed = dask.compute(*(layers[name] for name in lazy))
        return dataclasses.replace(self, **dict(zip(lazy, computed, strict=True)))

    def coded_mask(self, *, nodata: int = 255) -> xr.DataArray:
        """The mask as uint8 codes for a file: 1 changed, 0 unchanged, ``nodata`` not valid.

        Georeferenced like :attr:`mask`, with ``nodata`` written as its nodata
        value; lazy for a dask-backed result.

        Examples
        --------
        >>> save_cog(result.coded_mask(), "change.tif", nodata=255)  # doctest: +SKIP
        """
        if (
            isinstance(nodata, bool)
            or not isinstance(nodata, int | np.integer)
            or not 2 <= nodata <= 255
        ):
            raise InvalidInputError(
                f"nodata must be an int in 2..255 (0 and 1 are the codes), got {nodata!r}"
            )
        coded = self.mask.astype(np.uint8).where(self.valid, int(nodata)).astype(np.uint8)
        coded.rio.write_nodata(int(nodata), inplace=True)
        return coded

    def to_features(
        self, *, min_pixels: int = 1, connectivity: int = 8, to_wgs84: bool = True
    ) -> list[dict[str, Any]]:
        """Polygons of the changed areas, one GeoJSON Feature per connected region.

        Properties: ``id``, ``pixels``, ``area_m2`` (see
        :func:`satlearn.vector.mask_to_features`), ``method`` and
        ``mean_magnitude``. Global: the mask (and magnitude) are computed.

        Examples
        --------
        >>> features = result.to_features(min_pixels=4)  # doctest: +SKIP
        >>> features[0]["properties"]["method"]  # doctest: +SKIP
        'cva'
        """
        import scipy.ndimage as ndi

        from satlearn.vector import mask_to_features

        mask = self.mask.compute()
        features = mask_to_features(
            mask,
            min_pixels=min_pixels,
            connectivity=connectivity,
            to_wgs84=to_wgs84 and mask.rio.crs is not None,
            properties={"method": self.method},
        )
        if features:
            structure = ndi.generate_binary_structure(2, 1 if connectivity == 4 else 2)
            labels, count = ndi.label(mask.values, structure=structure)
            magnitude = np.nan_to_num(self.magnitude.values, nan=0.0)
            sums = np.bincount(labels.ravel(), weights=magnitude.ravel(), minlength=count + 1)
            sizes = np.bincount(labels.ravel(), minlength=count + 1)
            # mask_to_features numbers the kept regions in raster (label) order.
            kept = [r for r in range(1, count + 1) if sizes[r] >= max(1, int(min_pixels))]
            for feature, region in zip(features, kept, strict=True):
                feature["properties"]["mean_magnitude"] = float(sums[region] / sizes[region])
        return features

    @renamed_keywords(reference="truth")
    def scores(self, truth: Any, *, valid: Any = None) -> BinaryScores:
        """Precision, recall, F1, IoU, accuracy and Cohen's kappa against ``truth``.

        Only pixels that are valid here (and in ``valid``, e.g. the labelled
        pixels of a partial reference) count
        (:func:`satlearn.metrics.binary_scores`).

        Examples
        --------
        >>> result.scores(scene.change_mask).f1  # doctest: +SKIP
        0.41
        """
        from satlearn.metrics import binary_scores

        counted = self.valid.values
        if valid is not None:
            counted = counted & np.asarray(getattr(valid, "values", valid), dtype=bool)
        return binary_scores(self.mask.values, truth, valid=counted)
