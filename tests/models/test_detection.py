"""centernet: output grid, targets, loss, decoding boxes back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from satlearn.errors import InvalidInputError
from satlearn.models import build_model, decode_detections
from satlearn.models.detection import centernet_loss, centernet_targets

BOXES = np.array([[4, 4, 8, 10], [20, 20, 23, 22]], dtype=np.float32)
CLASSES = np.array([0, 1])


@pytest.mark.parametrize("stride", [2, 4])
@pytest.mark.parametrize(("height", "width"), [(32, 32), (33, 30)])
@pytest.mark.parametrize("bands", [1, 4])
def test_grid_is_input_over_stride_with_k_plus_4_channels(stride, height, width, bands):
    model = build_model(
        "centernet", in_channels=bands, num_classes=3, width=4, depth=3, stride=stride
    )
    out = model(torch.randn(2, bands, height, width))
    assert out.shape == (2, 7, -(-height // stride), -(-width // stride))
    heat = out[:, :3]
    assert bool(((heat > 0) & (heat < 1)).all())  # heatmaps are probabilities


def test_targets_put_unit_peaks_sizes_and_offsets_at_the_centres():
    t = centernet_targets(BOXES, CLASSES, num_classes=2, size=(32, 32), stride=2)
    assert t["heatmap"].shape == (2, 16, 16) and t["mask"].sum() == 2
    # box 0: centre (6, 7) px -> cell (row 3, col 3), offset (0, 0.5)
    assert t["heatmap"][0, 3, 3] == 1.0 and t["heatmap"][1, 3, 3] < 1.0
    assert t["size"][:, 3, 3].tolist() == [4.0, 6.0]
    assert t["offset"][:, 3, 3].tolist() == [0.0, 0.5]
    # box 1: centre (21.5, 21) -> cell (10, 10), offset (0.75, 0.5)
    assert t["heatmap"][1, 10, 10] == 1.0
    assert t["offset"][:, 10, 10].tolist() == [0.75, 0.5]
    # Gaussian: falls off away from the centre
    assert 0 < t["heatmap"][0, 3, 5] < t["heatmap"][0, 3, 4] < 1


def test_targets_skip_boxes_outside_or_empty_and_accept_no_boxes():
    t = centernet_targets([[-10, -10, -4, -4], [5, 5, 5, 9]], [0, 0], num_classes=1, size=(16, 16))
    assert t["mask"].sum() == 0 and t["heatmap"].max() == 0
    empty = centernet_targets(np.zeros((0, 4)), [], num_classes=1, size=(16, 16))
    assert empty["heatmap"].shape == (1, 4, 4) and empty["mask"].sum() == 0


@pytest.mark.parametrize(
    ("boxes", "classes", "match"),
    [
        ([[1, 2, 3]], [0], r"\(M, 4\)"),
        ([[1, 2, 3, 4]], [0, 1], "1 boxes but 2 classes"),
        ([[1, 2, 3, 4]], [2], r"class ids must be in 0\.\.1"),
    ],
)
def test_bad_targets(boxes, classes, match):
    with pytest.raises(InvalidInputError, match=match):
        centernet_targets(boxes, classes, num_classes=2, size=(16, 16))


def test_decode_inverts_the_targets():
    t = centernet_targets(BOXES, CLASSES, num_classes=2, size=(32, 32), stride=2)
    out = np.concatenate([t["heatmap"], t["size"], t["offset"]])
    boxes, scores, classes = decode_detections(out, stride=2, threshold=0.99)
    order = np.argsort(classes)
    np.testing.assert_allclose(boxes[order], BOXES)
    assert scores.tolist() == [1.0, 1.0] and sorted(classes.tolist()) == [0, 1]


def test_decode_keeps_local_peaks_best_first_up_to_k_per_image():
    out = np.zeros((2, 5, 8, 8), np.float32)
    out[0, 0, 2, 2], out[0, 0, 2, 3] = 0.9, 0.8  # neighbours: only the peak survives
    out[0, 0, 6, 6] = 0.5
    out[0, 0, 0, 7] = 0.2  # below the threshold
    out[1, 0, 4, 4] = 0.7
    (b0, s0, c0), (b1, s1, c1) = decode_detections(torch.as_tensor(out), stride=4)
    assert s0.tolist() == pytest.approx([0.9, 0.5]) and c0.tolist() == [0, 0]
    assert b0.shape == (2, 4) and b0.dtype == np.float32
    assert s1.tolist() == pytest.approx([0.7]) and c1.tolist() == [0] and b1.shape == (1, 4)
    _, top, _ = decode_detections(out[0], k=1, stride=4)
    assert top.tolist() == pytest.approx([0.9])
    boxes, scores, classes = decode_detections(out[0], threshold=0.95)
    assert boxes.shape == (0, 4) and scores.shape == (0,) and classes.dtype == np.int64


def test_decode_refuses_what_is_not_a_centernet_output():
    with pytest.raises(InvalidInputError, match="K >= 1"):
        decode_detections(np.zeros((4, 8, 8)))
    with pytest.raises(InvalidInputError, match="got shape"):
        decode_detections(np.zeros((8, 8)))


def test_training_finds_the_objects():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    t = centernet_targets(BOXES, CLASSES, num_classes=2, size=(32, 32), stride=2)
    for x0, y0, x1, y1 in BOXES.astype(int):
        x[:, :, y0:y1, x0:x1] += 3.0  # bright objects on noise
    batch = {k: torch.as_tensor(v)[None].repeat(2, *[1] * v.ndim) for k, v in t.items()}
    model = build_model("centernet", in_channels=3, num_classes=2, width=8, depth=2, stride=2)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        optimiser.zero_grad()
        loss = centernet_loss(model(x), batch)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    with torch.no_grad():
        boxes, _, classes = decode_detections(model.eval()(x[:1]), stride=2)[0]
    order = np.argsort(classes[:2])
    assert sorted(classes[:2].tolist()) == [0, 1]
    np.testing.assert_allclose(boxes[:2][order], BOXES, atol=1.5)


def test_loss_is_zero_for_a_perfect_answer_without_objects():
    t = centernet_targets(np.zeros((0, 4)), [], num_classes=1, size=(16, 16))
    batch = {k: torch.as_tensor(v)[None] for k, v in t.items()}
    perfect = torch.zeros(1, 5, 4, 4)
    assert float(centernet_loss(perfect, batch)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"stride": 3}, "stride must be one of"),
        ({"stride": 8, "depth": 2}, "stride 8 needs depth >= 3"),
        ({"head_width": 0}, "head_width"),
    ],
)
def test_bad_options(options, match):
    with pytest.raises(InvalidInputError, match=match):
        build_model("centernet", in_channels=3, num_classes=1, **options)


def test_head_width_sets_the_hidden_channels():
    model = build_model("centernet", in_channels=3, num_classes=1, width=4, depth=2, head_width=5)
    assert model.heatmap[0].out_channels == 5
    assert model.output["kind"] == "heatmap+wh+offset" and model.output["stride"] == 4
