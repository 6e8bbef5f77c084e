"""A trainable per-pixel classifier over bands, spectral indices and texture.

:func:`train_pixel_classifier` fits a scikit-learn estimator on the labelled
pixels of a scene and converts it at once to ONNX (skl2onnx, float32 input).
Every prediction, before or after saving, runs that ONNX graph with
onnxruntime, so a classifier behaves the same in the session that trained it
and in a server that loaded its bundle; at training time the ONNX labels are
checked against scikit-learn's on a sample of the training pixels.

Features come from :func:`satlearn.pixelml.features.pixel_features`, one function
for training and prediction; the bundle stores the feature spec and names,
and prediction recomputes the features from the spec and checks the names.

Models
------
==================  ============================================================
``random-forest``    ``RandomForestClassifier`` (default 100 trees, at least 3
                     pixels per leaf)
``gradient-boosting`` ``GradientBoostingClassifier`` (100 stages, depth 3)
``sgd``              ``StandardScaler`` + ``SGDClassifier(loss="log_loss")``
``svm``              ``StandardScaler`` + sigmoid-calibrated ``SVC`` (``kernel``
                     ``"rbf"`` or ``"linear"``), trained on at most
                     ``svm_samples`` pixels (SVC fitting grows quadratically)
``naive-bayes``      ``GaussianNB``
==================  ============================================================

``**params`` go to the estimator (``n_estimators=50``, ``max_depth=12``,
``kernel="linear"``, ``C=10``).

Labels
------
Either a label raster (a (y, x) integer DataArray or array on the image grid;
``ignore`` marks unlabelled pixels, 0 by default) or labelled polygons: a
GeoJSON FeatureCollection (dict or path) or a list of Feature dicts whose
``class_property`` holds the class (an int id, or a name: names get ids 1..n in
sorted order). Polygons are rasterised onto the image grid with
:func:`rasterio.features.rasterize`, after reprojection from their CRS (the
collection's ``crs`` member, else ``labels_crs``, else WGS84 as RFC 7946 says)
to the image's.

Output
------
:meth:`PixelClassifier.predict` gives int16 class ids with -1 (the DataArray's
nodata) where a feature is NaN; :meth:`PixelClassifier.predict_proba` float32
probabilities (class, y, x), NaN there. Both are lazy for a dask-backed image
and computed block by block (row blocks of about 1 Mpx) for a numpy one.

Examples
--------
>>> clf = train_pixel_classifier(scene, labels, indices=("ndvi", "ndwi"))  # doctest: +SKIP
>>> classes = clf.predict(other_scene)  # doctest: +SKIP
>>> clf.save("models/landcover/1")  # doctest: +SKIP
>>> PixelClassifier.load("models/landcover/1").predict(other_scene)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import uuid
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor used here)
import xarray as xr

from satlearn.bundle import read_bundle, write_bundle
from satlearn.checks import check_valid_mask
from satlearn.errors import (
    BundleError,
    CRSMismatchError,
    InvalidInputError,
    NoValidDataError,
)
from satlearn.metrics import ClassScores, class_scores
from satlearn.pixelml.features import FeatureSpec, check_image, extra_names, pixel_features

__all__ = [
    "MODELS",
    "TASK",
    "PixelClassifier",
    "evaluate",
    "labels_to_raster",
    "train_pixel_classifier",
]

#: Model names accepted by :func:`train_pixel_classifier`.
MODELS: tuple[str, ...] = ("random-forest", "gradient-boosting", "sgd", "svm", "naive-bayes")
#: The bundle ``task`` of a pixel classifier.
TASK = "pixel-classification"
NODATA = -1

_CHECK_ROWS = 4096  # training pixels on which ONNX labels are checked against sklearn's


# --------------------------------------------------------------------------- labels


def _load_geojson(labels: Any) -> tuple[list[dict], Any]:
    if isinstance(labels, str | os.PathLike):
        path = Path(os.fspath(labels))
        try:
            labels = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise InvalidInputError(f"labels {path}: not a readable GeoJSON file: {err}") from None
    crs = None
    if isinstance(labels, Mapping):
        if labels.get("type") == "Feature":
            labels = [labels]
        elif labels.get("type") == "FeatureCollection":
            crs = (labels.get("crs") or {}).get("properties", {}).get("name")
            labels = labels.get("features", [])
        else:
            raise InvalidInputError(
                "labels must be a label raster, a GeoJSON FeatureCollection or Feature list"
            )
    features = list(labels)
    if not all(isinstance(f, Mapping) and "geometry" in f for f in features):
        raise InvalidInputError("labels: every GeoJSON feature needs a 'geometry'")
    return features, crs


def labels_to_raster(
    labels: Any,
    image: xr.DataArray,
    *,
    class_property: str = "class",
    labels_crs: Any = None,
    class_ids: Mapping[str, int] | None = None,
) -> tuple[np.ndarray, dict[int, str]]:
    """Label raster (int32, 0 = unlabelled) of polygons on ``image``'s grid.

    The polygons are burned by :func:`satlearn.prep.labels.rasterize_features`
    (GDAL's rasterizer, pixel centres inside, in the given order: the last
    polygon wins where they overlap); features with a null geometry burn
    nothing.

    Parameters
    ----------
    labels : dict, list of dict or path
        A GeoJSON FeatureCollection, a list of Features, or a GeoJSON file.
    image : xarray.DataArray
        The grid (transform, shape, CRS).
    class_property : str
        The feature property holding the class: a positive int id, or a name.
    labels_crs : optional
        CRS of the coordinates when the collection has no ``crs`` member;
        default WGS84 (RFC 7946).
    class_ids : mapping, optional
        Name -> id for named classes; other names get the next free ids in
        sorted name order (1..n when none is given).

    Returns
    -------
    (numpy.ndarray, dict)
        The (y, x) label raster and id -> name for named classes.

    Examples
    --------
    >>> raster, names = labels_to_raster("fields.geojson", scene)  # doctest: +SKIP
    """
    # The one polygon rasteriser of satlearn; this function adds the class-name
    # ids and the RFC 7946 default CRS that pixel classifiers take.
    from satlearn.prep.labels import rasterize_features

    features, crs = _load_geojson(labels)
    if not features:
        raise NoValidDataError("labels: the GeoJSON holds no feature")
    values = []
    for f in features:
        props = f.get("properties") or {}
        if class_property not in props:
            raise InvalidInputError(
                f"labels: a feature lacks the class property {class_property!r}; "
                f"its properties are {sorted(props)}"
            )
        values.append(props[class_property])
    named = any(isinstance(v, str) and not v.strip().isdigit() for v in values)
    names: dict[int, str] = {}
    if named:
        mapping = {str(k): int(v) for k, v in (class_ids or {}).items()}
        next_id = max([0, *mapping.values()]) + 1
        for name in sorted({str(v) for v in values} - set(mapping)):
            mapping[name] = next_id
            next_id += 1
        ids = [mapping[str(v)] for v in values]
        names = {i: n for n, i in mapping.items()}
    else:
        try:
            ids = [int(v) for v in values]
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"labels: class property {class_property!r} must hold ints or names"
            ) from None
    if min(ids) < 1:
        raise InvalidInputError("labels: polygon class ids must be >= 1 (0 means unlabelled)")
    source = crs if crs is not None else labels_crs
    if image.rio.crs is None and source is not None:
        raise CRSMismatchError("labels have a CRS but the image has none to rasterise onto")
    if image.rio.crs is not None and source is None:
        source = "EPSG:4326"  # RFC 7946: GeoJSON without a crs member is lon/lat
    burn = [
        {"type": "Feature", "geometry": f["geometry"], "properties": {"class": i}}
        for f, i in zip(features, ids, strict=True)
    ]
    # "as-is": where polygons overlap the later one wins, as rasterio burns them.
    raster = rasterize_features(
        burn,
        like=image,
        features_crs=source,
        attribute="class",
        order="as-is",
        fill=0,
        dtype="int32",
    )
    return raster, names


def _label_raster(
    labels: Any, image: xr.DataArray, ignore: int | None, **kwargs: Any
) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """(labels int64 (y, x), labelled mask, class names) from a raster or polygons."""
    names: dict[int, str] = {}
    if isinstance(labels, xr.DataArray | np.ndarray):
        if isinstance(labels, xr.DataArray):
            if labels.dims != ("y", "x"):
                raise InvalidInputError(f"labels must have dims (y, x), got {labels.dims}")
            crs_l, crs_i = labels.rio.crs, image.rio.crs
            if crs_l is not None and crs_i is not None and crs_l != crs_i:
                raise CRSMismatchError(f"labels CRS {crs_l} differs from the image CRS {crs_i}")
        values = np.asarray(labels)
        shape = (image.sizes["y"], image.sizes["x"])
        if values.shape != shape:
            raise InvalidInputError(
                f"labels have shape {values.shape}, the image grid is {shape} (y, x)"
            )
        if values.dtype.kind not in "iub":
            raise InvalidInputError(f"labels must hold integer class ids, got {values.dtype}")
        values = values.astype(np.int64)
        labelled = values != ignore if ignore is not None else np.ones(shape, bool)
        if isinstance(labels, xr.DataArray) and labels.rio.nodata is not None:
            labelled &= values != labels.rio.nodata
    else:
        raster, names = labels_to_raster(labels, image, **kwargs)
        values = raster.astype(np.int64)
        labelled = values != 0
    return values, labelled, names


# --------------------------------------------------------------------------- estimators


def _estimator(model: str, seed: int, params: dict[str, Any]) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import SGDClassifier
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    try:
        if model == "random-forest":
            # min_samples_leaf=3: full-depth trees on tens of thousands of
            # noisy pixels grow a leaf per pixel (slow fit, ONNX conversion and
            # inference); 3 shrinks them, and on eo-learn's LULC (3-fold
            # spatial CV inside the training block) kept accuracy (0.906) and
            # raised macro-F1 from 0.49 to 0.54 (5: 0.901 / 0.55).
            defaults = {"n_estimators": 100, "min_samples_leaf": 3, "n_jobs": -1}
            return RandomForestClassifier(**{**defaults, "random_state": seed, **params})
        if model == "gradient-boosting":
            return GradientBoostingClassifier(**{"random_state": seed, **params})
        if model == "sgd":
            return make_pipeline(
                StandardScaler(),
                SGDClassifier(**{"loss": "log_loss", "random_state": seed, **params}),
            )
        if model == "svm":
            # SVC(probability=True) is deprecated in scikit-learn 1.9; this is its replacement.
            svc = SVC(**{"kernel": "rbf", "random_state": seed, **params})
            return make_pipeline(
                StandardScaler(), CalibratedClassifierCV(svc, ensemble=False, method="sigmoid")
            )
        if model == "naive-bayes":
            return GaussianNB(**params)
    except TypeError as err:
        raise InvalidInputError(f"model {model!r}: bad parameter: {err}") from None
    raise InvalidInputError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")


def _final_step(estimator: Any) -> Any:
    return estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator


def _to_onnx(estimator: Any, n_features: int) -> bytes:
    import skl2onnx

    sample = np.zeros((1, n_features), dtype=np.float32)
    options = {id(_final_step(estimator)): {"zipmap": False}}
    with warnings.catch_warnings():
        # skl2onnx reads SVC.probA_/probB_, which scikit-learn 1.9 flags as deprecated.
        warnings.simplefilter("ignore", FutureWarning)
        model = skl2onnx.to_onnx(estimator, sample, options=options)
    return model.SerializeToString()


# --------------------------------------------------------------------------- ONNX runner


class _Runner:
    """Runs the ONNX graph on feature blocks; what dask's map_blocks calls."""

    def __init__(self, session: Any, classes: Sequence[int], token: str) -> None:
        self.session = session
        self.classes = np.asarray(classes, dtype=np.int64)
        self.input = session.get_inputs()[0].name
        self.token = token

    def __dask_tokenize__(self) -> str:  # a stable token; sessions are not hashable
        return self.token

    def rows(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        label, proba = self.session.run(None, {self.input: np.ascontiguousarray(x, np.float32)})
        return np.asarray(label), np.asarray(proba, dtype=np.float32)

    def _valid_rows(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n_features, h, w = block.shape
        rows = block.reshape(n_features, h * w).T
        return rows, np.isfinite(rows).all(axis=1)

    def labels(self, block: np.ndarray) -> np.ndarray:
        _, h, w = block.shape
        rows, ok = self._valid_rows(block)
        out = np.full(h * w, NODATA, dtype=np.int16)
        if ok.any():
            out[ok] = self.rows(rows[ok])[0]
        return out.reshape(h, w)

    def proba(self, block: np.ndarray) -> np.ndarray:
        _, h, w = block.shape
        rows, ok = self._valid_rows(block)
        out = np.full((h * w, self.classes.size), np.nan, dtype=np.float32)
        if ok.any():
            out[ok] = self.rows(rows[ok])[1]
        return out.T.reshape(self.classes.size, h, w)


# --------------------------------------------------------------------------- classifier


class PixelClassifier:
    """A trained per-pixel classifier (ONNX graph + feature spec + classes).

    Made by :func:`train_pixel_classifier` or :meth:`load`; not constructed
    directly.

    Attributes
    ----------
    classes : tuple of int
        Class ids, in the order of :meth:`predict_proba`'s ``class`` axis.
    class_names : dict of int to str
        Names of the classes (the id as text where none was given).
    feature_names : list of str
        Feature names, in the model's input order.
    spec : FeatureSpec
        How features are computed.
    metadata : dict
        The bundle.json content (model, parameters, metrics, provenance).
    estimator : sklearn estimator or None
        The fitted scikit-learn object after training; None after :meth:`load`.
    """

    def __init__(
        self,
        model_onnx: bytes,
        metadata: dict[str, Any],
        *,
        session: Any = None,
        estimator: Any = None,
    ) -> None:
        import onnxruntime as ort

        self._model_onnx = model_onnx
        self.metadata = metadata
        self.estimator = estimator
        self.spec = FeatureSpec.from_json(metadata["features"])
        self.feature_names = list(metadata["feature_names"])
        if self.feature_names != self.spec.names():
            raise BundleError(
                "bundle.json feature_names do not match its feature spec: "
                f"{self.feature_names} vs {self.spec.names()}"
            )
        self.classes = tuple(int(c["id"]) for c in metadata["classes"])
        self.class_names = {int(c["id"]): str(c["name"]) for c in metadata["classes"]}
        if session is None:
            session = ort.InferenceSession(model_onnx, providers=["CPUExecutionProvider"])
        self._runner = _Runner(session, self.classes, uuid.uuid4().hex)

    def __repr__(self) -> str:
        return (
            f"PixelClassifier(model={self.metadata.get('model')!r}, classes={list(self.classes)}, "
            f"features={len(self.feature_names)})"
        )

    # ---- prediction

    def features(self, image: xr.DataArray, extra: xr.DataArray | None = None) -> xr.DataArray:
        """The (lazy) feature stack this classifier reads from ``image`` (and ``extra``)."""
        stack = pixel_features(image, self.spec, extra)
        names = [str(n) for n in stack.coords["feature"].values]
        if names != self.feature_names:  # pragma: no cover - pixel_features follows the spec
            raise InvalidInputError(f"features {names} differ from the model's")
        return stack

    def _finish(self, result: xr.DataArray, image: xr.DataArray) -> xr.DataArray:
        # Carry the grid-mapping coordinate (CRS + GeoTransform) as compute_index does.
        grid_mapping = image.rio.grid_mapping
        if grid_mapping in image.coords:
            result = result.assign_coords({grid_mapping: image.coords[grid_mapping]})
            result.rio.write_grid_mapping(grid_mapping, inplace=True)
        if image.chunks is None:
            result = result.compute(scheduler="threads")
        return result

    def predict(self, image: xr.DataArray, extra: xr.DataArray | None = None) -> xr.DataArray:
        """Class ids of every pixel of ``image``.

        Parameters
        ----------
        image : xarray.DataArray
            (band, y, x) or (time, band, y, x) with the bands the model was
            trained on (any order; extra bands are ignored).
        extra : xarray.DataArray, optional
            (feature, y, x) layers the model was trained with (``extra=`` of
            :func:`train_pixel_classifier`), by name; required then.

        Returns
        -------
        xarray.DataArray
            int16 (y, x), -1 (nodata) where a feature is NaN; lazy when
            ``image`` is dask-backed.

        Raises
        ------
        UnknownBandError
            ``image`` lacks a band the model needs.

        Examples
        --------
        >>> clf.predict(scene).values  # doctest: +SKIP
        """
        check_image(image)
        stack = self.features(image, extra)
        data = stack.data.map_blocks(
            self._runner.labels, drop_axis=0, dtype=np.int16, meta=np.empty((0, 0), np.int16)
        )
        result = xr.DataArray(
            data, dims=("y", "x"), coords={"y": stack.y, "x": stack.x}, name="class"
        )
        result = self._finish(result, image)
        return result.rio.write_nodata(NODATA)

    def predict_proba(self, image: xr.DataArray, extra: xr.DataArray | None = None) -> xr.DataArray:
        """Class probabilities of every pixel of ``image`` (``extra`` as for :meth:`predict`).

        Returns
        -------
        xarray.DataArray
            float32 (class, y, x) with the class ids on ``class``; NaN where a
            feature is NaN. Lazy when ``image`` is dask-backed.

        Examples
        --------
        >>> clf.predict_proba(scene).sel({"class": 2})  # doctest: +SKIP
        """
        check_image(image)
        stack = self.features(image, extra)
        n = len(self.classes)
        chunks = ((n,), *stack.data.chunks[1:])
        data = stack.data.map_blocks(self._runner.proba, chunks=chunks, dtype=np.float32)
        result = xr.DataArray(
            data,
            dims=("class", "y", "x"),
            coords={"class": list(self.classes), "y": stack.y, "x": stack.x},
            name="probability",
        )
        result = self._finish(result, image)
        return result.rio.write_nodata(np.nan, encoded=False)

    # ---- persistence

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the classifier as a bundle folder (``model.onnx`` + ``bundle.json``).

        Examples
        --------
        >>> clf.save("models/landcover/1")  # doctest: +SKIP
        PosixPath('models/landcover/1')
        """
        return write_bundle(
            path, model_onnx=self._model_onnx, metadata=self.metadata, overwrite=overwrite
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PixelClassifier:
        """Read a classifier bundle; runs with onnxruntime only (no scikit-learn, no pickle).

        Raises
        ------
        BundleError
            Not a readable bundle, or not a pixel-classification bundle.

        Examples
        --------
        >>> clf = PixelClassifier.load("models/landcover/1")  # doctest: +SKIP
        """
        bundle = read_bundle(path)
        if bundle.task != TASK:
            raise BundleError(f"bundle {bundle.path}: task is {bundle.task!r}, not {TASK!r}")
        for key in ("features", "feature_names", "classes"):
            if key not in bundle.metadata:
                raise BundleError(f"bundle {bundle.path}: bundle.json lacks {key!r}")
        try:
            return cls(bundle.model_path.read_bytes(), bundle.metadata, session=bundle.session())
        except InvalidInputError as err:
            raise BundleError(f"bundle {bundle.path}: {err}") from None


# --------------------------------------------------------------------------- training


def _sample(labelled: np.ndarray, max_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    flat = np.flatnonzero(labelled)
    if flat.size > max_samples:
        rng = np.random.default_rng(seed)
        flat = np.sort(rng.choice(flat, size=max_samples, replace=False))
    return np.unravel_index(flat, labelled.shape)


def _gather(stack: xr.DataArray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Feature rows (n, n_features) at the given pixels, computing only the blocks holding them."""
    data = stack.data.transpose(1, 2, 0)
    return np.asarray(data.vindex[rows, cols].compute(scheduler="threads"), dtype=np.float32)


def train_pixel_classifier(
    image: xr.DataArray,
    labels: Any,
    *,
    model: str = "random-forest",
    bands: Sequence[str] | None = None,
    indices: Iterable[str] = (),
    texture: bool = False,
    texture_window: int = 5,
    temporal: bool = True,
    extra: xr.DataArray | None = None,
    valid: Any = None,
    ignore: int | None = 0,
    class_property: str = "class",
    labels_crs: Any = None,
    class_names: Mapping[int, str] | None = None,
    max_samples: int = 200_000,
    svm_samples: int = 20_000,
    seed: int = 0,
    **params: Any,
) -> PixelClassifier:
    """Train a per-pixel classifier on the labelled pixels of ``image``.

    Parameters
    ----------
    image : xarray.DataArray
        (band, y, x) or (time, band, y, x), numpy- or dask-backed, band names
        on ``band``. A series gives per-date features plus temporal statistics.
    labels : DataArray, ndarray, GeoJSON dict / list / path
        A (y, x) integer label raster on the image grid, or labelled polygons
        (see the module docstring).
    model : str
        One of :data:`MODELS`.
    bands : sequence of str, optional
        Bands to use as features; default all of the image's.
    indices : iterable of str
        Spectral indices to add as features (``("ndvi", "ndwi")``).
    texture : bool
        Add local mean / standard deviation features (window
        ``texture_window``) of brightness and of each index.
    temporal : bool
        For a series, add per-feature mean, std, min, max over time.
    extra : xarray.DataArray, optional
        (feature, y, x) layers on the image grid added as features (named on
        ``feature``), e.g. a cloud-masked series interpolated onto a date grid
        (:func:`satlearn.pixelml.features.interpolate_time` +
        :func:`~satlearn.pixelml.features.series_layers`) or a DEM. Their names are
        stored; prediction needs the same layers (``predict(image, extra)``).
    valid : array_like of bool (y, x), optional
        Only these pixels are used for training (e.g. cloud-free ones).
    ignore : int or None
        Label raster value meaning "unlabelled" (0 by default; None: every
        value is a class).
    class_property, labels_crs : optional
        For polygons: the class property and the coordinates' CRS.
    class_names : mapping, optional
        Class id -> name, stored in the bundle.
    max_samples : int
        At most this many labelled pixels (a seeded random sample) are used.
    svm_samples : int
        Sample bound for ``model="svm"``.
    seed : int
        Seed of the sampling and the estimator.
    **params
        Passed to the scikit-learn estimator.

    Returns
    -------
    PixelClassifier

    Raises
    ------
    UnknownBandError
        A requested band or one an index needs is missing.
    NoValidDataError
        No labelled, valid pixel with finite features.
    InvalidInputError
        Fewer than two classes, shapes that differ, an unknown model or
        parameter.

    Examples
    --------
    >>> from satlearn.synth import make_scene
    >>> scene = make_scene(128, seed=1, clouds=False, ships=False)
    >>> clf = train_pixel_classifier(scene.image.isel(time=0), scene.landcover + 1,
    ...                              indices=("ndvi",), n_estimators=10)
    >>> clf.predict(scene.image.isel(time=0)).shape
    (128, 128)
    """
    check_image(image)
    if model not in MODELS:
        raise InvalidInputError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    for name, value in (("max_samples", max_samples), ("svm_samples", svm_samples)):
        if not isinstance(value, int) or value < 2:
            raise InvalidInputError(f"{name} must be an int >= 2, got {value!r}")
    spec = FeatureSpec.from_image(
        image,
        bands=bands,
        indices=indices,
        texture=texture,
        texture_window=texture_window,
        temporal=temporal,
        extra=extra_names(extra),
    )
    values, labelled, names = _label_raster(
        labels,
        image,
        ignore,
        class_property=class_property,
        labels_crs=labels_crs,
    )
    if valid is not None:
        labelled &= check_valid_mask(valid, values.shape)
    if not labelled.any():
        raise NoValidDataError("labels: no labelled pixel (inside the valid mask) to train on")
    stack = pixel_features(image, spec, extra)
    limit = svm_samples if model == "svm" else max_samples
    rows, cols = _sample(labelled, limit, seed)
    x = _gather(stack, rows, cols)
    y = values[rows, cols]
    finite = np.isfinite(x).all(axis=1)
    x, y = x[finite], y[finite]
    if y.size == 0:
        raise NoValidDataError("every labelled pixel has a NaN feature (nodata)")
    classes = np.unique(y)
    if classes.size < 2:
        raise InvalidInputError(
            f"labels: need at least two classes among the labelled pixels, got {classes.tolist()}"
        )
    if classes.min() < np.iinfo(np.int16).min + 1 or classes.max() > np.iinfo(np.int16).max:
        raise InvalidInputError("labels: class ids must fit int16 (and -1 is nodata)")
    if NODATA in classes:
        raise InvalidInputError(f"labels: class id {NODATA} is reserved for nodata")

    estimator = _estimator(model, seed, dict(params))
    try:
        estimator.fit(x, y)
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"model {model!r}: {err}") from None
    model_onnx = _to_onnx(estimator, x.shape[1])

    all_names = {**names, **{int(k): str(v) for k, v in (class_names or {}).items()}}
    metadata = {
        "task": TASK,
        "classes": [{"id": int(c), "name": all_names.get(int(c), str(int(c)))} for c in classes],
        "bands": list(spec.bands),
        "features": spec.to_json(),
        "feature_names": spec.names(),
        "nodata": NODATA,
        "tile_size": None,
        "model": model,
        "params": {k: v for k, v in params.items() if isinstance(v, int | float | str | bool)},
        "metrics": {
            "training_pixels": int(y.size),
            "training_class_counts": {
                str(int(c)): int(n) for c, n in zip(*np.unique(y, return_counts=True), strict=True)
            },
        },
        "provenance": _provenance(seed),
    }
    clf = PixelClassifier(model_onnx, metadata, estimator=estimator)
    check = x[:: max(1, x.shape[0] // _CHECK_ROWS)]
    agreement = float(np.mean(clf._runner.rows(check)[0] == estimator.predict(check)))
    metadata["metrics"]["onnx_sklearn_agreement"] = agreement
    if agreement < 0.99:  # pragma: no cover - would be a skl2onnx bug
        raise BundleError(f"ONNX conversion of {model!r} disagrees with scikit-learn ({agreement})")
    return clf


def _provenance(seed: int) -> dict[str, Any]:
    import onnxruntime
    import skl2onnx
    import sklearn

    from satlearn import __version__

    return {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "satlearn": __version__,
        "scikit-learn": sklearn.__version__,
        "skl2onnx": skl2onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "seed": seed,
    }


def evaluate(
    classifier: PixelClassifier,
    image: xr.DataArray,
    labels: Any,
    *,
    valid: Any = None,
    ignore: int | None = 0,
    extra: xr.DataArray | None = None,
    **label_options: Any,
) -> ClassScores:
    """Scores of ``classifier`` on the labelled pixels of ``image``.

    Pixels the classifier cannot predict (NaN features) are left out, like
    unlabelled ones.

    Returns
    -------
    satlearn.metrics.ClassScores
        accuracy, macro-F1 (over the classes present in the labels), kappa,
        per-class F1 and the confusion matrix (indexed by class id).

    Examples
    --------
    >>> scores = evaluate(clf, test_scene, test_labels)  # doctest: +SKIP
    >>> scores.accuracy, scores.macro_f1  # doctest: +SKIP
    """
    check_image(image)
    values, labelled, _ = _label_raster(labels, image, ignore, **label_options)
    if valid is not None:
        labelled &= check_valid_mask(valid, values.shape)
    predicted = np.asarray(classifier.predict(image, extra).values)
    labelled &= predicted != NODATA
    if (values[labelled] < 0).any():
        raise InvalidInputError("labels: class ids must be non-negative to be scored")
    n_classes = int(max(values[labelled].max(initial=0), max(classifier.classes))) + 1
    return class_scores(
        np.where(labelled, predicted, 0), np.where(labelled, values, 0),
        n_classes=n_classes, valid=labelled,
    )  # fmt: skip
