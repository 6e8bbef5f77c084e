"""Classical machine learning on pixels: features, a trainable pixel classifier.

See :mod:`satlearn.ml.pixel` (train, predict, evaluate, save as an ONNX
bundle) and :mod:`satlearn.ml.features` (the feature stack shared by
training, prediction and clustering).
"""

from satlearn.ml.features import FeatureSpec, pixel_features
from satlearn.ml.pixel import MODELS, PixelClassifier, evaluate, train_pixel_classifier

__all__ = [
    "MODELS",
    "FeatureSpec",
    "PixelClassifier",
    "evaluate",
    "pixel_features",
    "train_pixel_classifier",
]
