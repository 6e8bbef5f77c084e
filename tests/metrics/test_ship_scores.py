"""metrics.score_ships: ship detections matched one to one against truth ships."""

import numpy as np
import pytest

from satlearn.errors import InvalidInputError
from satlearn.metrics import score_ships


def test_score_ships_centroid_and_iou_matching():
    truths = [{"bbox": (10, 10, 13, 20), "row": 11.0, "col": 14.5, "date_index": 0},
              {"bbox": (40, 40, 44, 46), "row": 41.5, "col": 42.5, "date_index": 0},
              {"bbox": (70, 70, 72, 80), "row": 70.5, "col": 74.5, "date_index": 1}]  # fmt: skip
    found = [{"bbox_px": [11, 12, 14, 22], "row": 12.0, "col": 17.0},
             {"bbox_px": [10, 10, 13, 20], "row": 11.0, "col": 14.5},
             {"bbox_px": [90, 90, 92, 92], "row": 90.5, "col": 90.5}]  # fmt: skip
    by_centre = score_ships(found, truths, date_index=0)
    # both of the first two fall in truth 0; one to one, the nearer one wins
    assert by_centre.matches == [(1, 0)]
    assert (by_centre.tp, by_centre.fp, by_centre.fn) == (1, 2, 1)
    assert by_centre.precision == pytest.approx(1 / 3) and by_centre.recall == 0.5
    assert by_centre.f1 == pytest.approx(2 / 5)
    strict = score_ships(found, truths, match="iou", iou_threshold=0.99)
    assert strict.matches == [(1, 0)] and strict.fn == 2
    assert score_ships(found, truths, date_index=1).tp == 0
    # a tolerance of zero: the centre (12, 17) is inside box rows 10..12
    assert score_ships(found[:1], truths[:1], tolerance_px=0).tp == 1
    assert score_ships([{"bbox": (20, 20, 21, 21)}], truths[:1], tolerance_px=0).tp == 0
    assert by_centre.as_dict()["tp"] == 1


def test_score_ships_empty_cases_and_errors():
    truth = [{"bbox": (0, 0, 2, 2)}]
    none = score_ships([], truth)
    assert (none.recall, none.f1) == (0.0, 0.0) and np.isnan(none.precision)
    nothing = score_ships([], [])
    assert np.isnan(nothing.f1) and np.isnan(nothing.recall)
    with pytest.raises(InvalidInputError, match="unknown match 'area'"):
        score_ships([], truth, match="area")
    with pytest.raises(InvalidInputError, match="detection 0 has no 'bbox'"):
        score_ships([{"row": 1}], truth)
