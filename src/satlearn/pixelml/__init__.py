"""Classical machine learning on pixels: features, a trainable pixel classifier.

scikit-learn estimators fitted per pixel and run through ONNX; the torch
models are :mod:`satlearn.models` and :mod:`satlearn.train`. (Until 0.2 this
package was ``satlearn.ml``, which still imports, with a warning.)

See :mod:`satlearn.pixelml.pixel` (train, predict, evaluate, save as an ONNX
bundle) and :mod:`satlearn.pixelml.features` (the feature stack shared by
training, prediction and clustering).
"""

from satlearn.pixelml.features import FeatureSpec, pixel_features
from satlearn.pixelml.pixel import MODELS, PixelClassifier, evaluate, train_pixel_classifier

__all__ = [
    "MODELS",
    "FeatureSpec",
    "PixelClassifier",
    "evaluate",
    "pixel_features",
    "train_pixel_classifier",
]
