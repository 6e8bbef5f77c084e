"""Boxes from a CenterNet output, the inverse of :func:`satlearn.train.losses.centernet_targets`.

The output is ``(N, K + 4, h, w)``: K centre heatmaps (probabilities), box
width and height in input pixels, and the centre's sub-cell offset in output
cells. Peaks are local maxima of a 3 x 3 window (CenterNet's max-pool NMS)
above ``min_score``.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter

__all__ = ["decode_centernet"]


def decode_centernet(
    output: np.ndarray,
    num_classes: int,
    input_size: tuple[int, int],
    *,
    min_score: float = 0.05,
    max_detections: int = 100,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per image ``(boxes (n, 4) x0 y0 x1 y1, scores (n,), labels (n,))``.

    Examples
    --------
    >>> out = np.zeros((1, 5, 8, 8), np.float32)
    >>> out[0, 0, 2, 3] = 0.9; out[0, 1:3, 2, 3] = 8; out[0, 3:5, 2, 3] = 0.5
    >>> boxes, scores, labels = decode_centernet(out, 1, (32, 32))[0]
    >>> boxes.tolist(), labels.tolist()
    ([[10.0, 6.0, 18.0, 14.0]], [0])
    """
    output = np.asarray(output, dtype=np.float32)
    heat = output[:, :num_classes]
    h, w = heat.shape[-2:]
    stride_y, stride_x = input_size[0] / h, input_size[1] / w
    peaks = (heat == maximum_filter(heat, size=(1, 1, 3, 3), mode="constant")) & (heat >= min_score)
    results = []
    for i in range(len(output)):
        k, ys, xs = np.nonzero(peaks[i])
        scores = heat[i, k, ys, xs]
        order = np.argsort(-scores, kind="stable")[:max_detections]
        k, ys, xs, scores = k[order], ys[order], xs[order], scores[order]
        bw, bh = output[i, num_classes, ys, xs], output[i, num_classes + 1, ys, xs]
        cx = (xs + output[i, num_classes + 2, ys, xs]) * stride_x
        cy = (ys + output[i, num_classes + 3, ys, xs]) * stride_y
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        results.append((boxes.astype(np.float32), scores.astype(np.float32), k.astype(np.int64)))
    return results
