"""DEM accuracy: robust and plain figures, masks, refusals (moved from ops.stereo)."""

from __future__ import annotations

import numpy as np
import pytest

from satlearn.errors import InvalidInputError, NoValidDataError
from satlearn.metrics import dem_accuracy


def test_dem_accuracy_reports_robust_and_plain_figures():
    rng = np.random.default_rng(0)
    reference = rng.uniform(100, 200, 100_000)
    errors = rng.normal(0.5, 2.0, reference.size)
    errors[:1000] = 500.0  # 1 % blunders: RMSE feels them, NMAD does not
    score = dem_accuracy(reference + errors, reference)
    assert score.nmad == pytest.approx(2.0, rel=0.05)
    assert score.median == pytest.approx(0.5, abs=0.05)
    assert score.rmse > 40
    assert score.max_abs == pytest.approx(500.0)
    assert score.n == reference.size
    masked = dem_accuracy(reference + errors, reference, valid=errors < 100)
    assert masked.rmse == pytest.approx(np.sqrt(0.25 + 4.0), rel=0.05)
    assert set(score.as_dict()) == {"rmse", "nmad", "bias", "median", "le90", "max_abs", "n"}
    with pytest.raises(InvalidInputError, match="shape"):
        dem_accuracy(reference[:10], reference)
    with pytest.raises(NoValidDataError):
        dem_accuracy(np.full(5, np.nan), np.ones(5))
