"""How good OSM labels are: labelled fraction per class, and noise against a truth.

OSM is incomplete (buildings not yet mapped), shifted (traced on older or
misregistered imagery) and generalised (a road is a centreline with a
nominal width). Two figures say how much: the share of the scene each class
labels, and, where a truth exists (a synthetic scene, a hand-labelled tile),
per class the IoU, the *omission* (truth pixels OSM does not label: missing
features) and the *commission* (labelled pixels that are not truth: shifted
or too wide features). Ignored pixels count in neither.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from satlearn.errors import InvalidInputError

__all__ = ["LabelNoise", "label_noise", "labelled_fraction"]


@dataclass(frozen=True)
class LabelNoise:
    """Agreement of one class's labels with its truth (ignored pixels excluded)."""

    iou: float
    omission: float
    commission: float
    labelled: int
    truth: int


def labelled_fraction(mask: Any, names: Sequence[str], *, ignore: int = 255) -> dict[str, float]:
    """Share of the scene's pixels each class labels, and the ``"ignored"`` share.

    Examples
    --------
    >>> labelled_fraction(np.array([[0, 1], [1, 255]]), ["background", "road"])
    {'background': 0.25, 'road': 0.5, 'ignored': 0.25}
    """
    values = np.asarray(mask)
    counts = np.bincount(values.ravel().astype(np.int64), minlength=max(len(names), ignore + 1))
    total = max(values.size, 1)
    out = {name: float(counts[i]) / total for i, name in enumerate(names) if name}
    out["ignored"] = float(counts[ignore]) / total
    return out


def label_noise(
    mask: Any, truth: Mapping[str, Any], names: Sequence[str], *, ignore: int = 255
) -> dict[str, LabelNoise]:
    """Per class of ``truth``, how the labels in ``mask`` agree with it.

    Parameters
    ----------
    mask : array (y, x)
        Class ids (``names[i]`` is class ``i``), ``ignore`` where unlabelled.
    truth : mapping of class name -> bool array (y, x)
        The true extent of each class to score.
    names : sequence of str
        Class names by id.

    Raises
    ------
    InvalidInputError
        A truth names no class of ``names``, or its shape is not the mask's.

    Examples
    --------
    >>> m = np.array([[1, 1], [0, 0]])
    >>> truth = {"road": np.array([[1, 0], [0, 0]], bool)}
    >>> label_noise(m, truth, ["background", "road"])["road"].iou
    0.5
    """
    values = np.asarray(mask)
    valid = values != ignore
    out = {}
    for name, extent in truth.items():
        if name not in names:
            raise InvalidInputError(
                f"truth {name!r}: not a class ({', '.join(n for n in names if n)})"
            )
        extent = np.asarray(extent, dtype=bool)
        if extent.shape != values.shape:
            raise InvalidInputError(
                f"truth {name!r}: shape {extent.shape} is not the labels' {values.shape}"
            )
        labelled = (values == names.index(name)) & valid
        true = extent & valid
        inter = int((labelled & true).sum())
        union = int((labelled | true).sum())
        n_lab, n_true = int(labelled.sum()), int(true.sum())
        out[name] = LabelNoise(
            iou=inter / union if union else 1.0,
            omission=1 - inter / n_true if n_true else 0.0,
            commission=1 - inter / n_lab if n_lab else 0.0,
            labelled=n_lab,
            truth=n_true,
        )
    return out
