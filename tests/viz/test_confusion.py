"""viz.write_confusion_png: a confusion matrix as a PNG, written atomically."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from satlearn.errors import InvalidInputError
from satlearn.viz import write_confusion_png


def test_write_confusion_png(tmp_path) -> None:
    path = write_confusion_png([[5, 1], [0, 4]], tmp_path / "sub" / "c.png", classes=["a", "bb"])
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape[0] > 80 and image.shape[1] > 80
    # The darkest cell is the one with the largest row share (4/4 in row "bb").
    assert image.min() < 60
    assert not list(path.parent.glob(".*tmp"))
    with pytest.raises(InvalidInputError, match="square"):
        write_confusion_png([[1, 2]], tmp_path / "x.png")
    with pytest.raises(InvalidInputError, match="class names"):
        write_confusion_png([[1]], tmp_path / "x.png", classes=["a", "b"])
    with pytest.raises(InvalidInputError, match="cell"):
        write_confusion_png([[1]], tmp_path / "x.png", cell=2)


def test_the_old_metrics_name_still_works_with_a_deprecation_warning(tmp_path) -> None:
    import satlearn.metrics

    with pytest.warns(DeprecationWarning, match=r"satlearn\.viz\.write_confusion_png"):
        old = satlearn.metrics.write_confusion_png
    assert old is write_confusion_png
