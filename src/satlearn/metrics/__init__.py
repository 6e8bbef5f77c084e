"""Agreement between a predicted map and a reference map.

The scores every evaluation in satlearn reports: for binary maps (change,
cloud, water, ship masks) precision, recall, F1, IoU, overall accuracy and
Cohen's kappa; for class maps (land cover) overall accuracy, macro-F1, kappa
and the confusion matrix; and Hungarian matching of unsupervised clusters to
reference classes.

Everything rests on one confusion matrix, counted with a single
``numpy.bincount`` over the valid pixels, so a score never needs more than
one pass over the maps and no temporary larger than the maps themselves.
Inputs may be NumPy arrays or DataArrays (dask-backed ones are computed).
``valid`` restricts the count to labelled pixels, for partial references such
as the change / no-change masks of the Taizhou pair.

Why not ``sklearn.metrics``: its functions take 1-D label vectors, build the
confusion matrix again for every score and, for kappa, materialise one-hot
copies; satlearn's maps are 2-D with masks, and each report wants all the
scores of one matrix at once.

Layout
------
One private module per family, a flat public face here (as in
``skimage.metrics``):

* ``_agreement``: the confusion matrix and the map-agreement scores;
* ``_segmentation``: learned-segmentation scores (IoU, boundary F1);
* ``_detection``: box IoU and average precision;
* ``_ships``: ship detections matched one to one against truth ships;
* ``_dem``: a DEM against a reference DEM (RMSE, NMAD, LE90).

Examples
--------
>>> import numpy as np
>>> predicted = np.array([[1, 1], [0, 0]], dtype=bool)
>>> reference = np.array([[1, 0], [0, 0]], dtype=bool)
>>> s = binary_scores(predicted, reference)
>>> float(s.precision), float(s.recall), round(float(s.kappa), 3)
(0.5, 1.0, 0.5)
"""

from __future__ import annotations

from satlearn.deprecation import moved
from satlearn.metrics._agreement import (
    BinaryScores,
    ClassScores,
    binary_scores,
    class_scores,
    cohen_kappa,
    confusion_matrix,
    match_clusters,
)
from satlearn.metrics._dem import DemAccuracy, dem_accuracy
from satlearn.metrics._detection import DetectionScores, box_iou, detection_scores
from satlearn.metrics._segmentation import (
    BoundaryScores,
    SegmentationScores,
    boundary_f1,
    iou_from_confusion,
    segmentation_scores,
    segmentation_scores_from_confusion,
)
from satlearn.metrics._ships import ShipScores, score_ships

__all__ = [
    "BinaryScores",
    "BoundaryScores",
    "ClassScores",
    "DemAccuracy",
    "DetectionScores",
    "SegmentationScores",
    "ShipScores",
    "binary_scores",
    "boundary_f1",
    "box_iou",
    "class_scores",
    "cohen_kappa",
    "confusion_matrix",
    "dem_accuracy",
    "detection_scores",
    "iou_from_confusion",
    "match_clusters",
    "score_ships",
    "segmentation_scores",
    "segmentation_scores_from_confusion",
]


# Moved in 0.2: drawing is viz's job. Importable from here for one release.
__getattr__ = moved(__name__, {"write_confusion_png": "satlearn.viz:write_confusion_png"})
