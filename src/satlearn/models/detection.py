"""Small-object detection: an anchor-free centre-heatmap detector (CenterNet-style).

``centernet`` (Zhou et al. 2019, "Objects as Points") predicts, on a grid at
``stride`` 4 (or 2, or 1, for objects of a few pixels: ships and vehicles at
10 m), one tensor ``(N, K + 4, ceil(H/stride), ceil(W/stride))``:

- channels ``0..K-1``: a heatmap per class, already through a sigmoid
  (probability that an object centre of that class lies in the cell);
- ``K, K+1``: box width and height, in input pixels;
- ``K+2, K+3``: the centre's sub-cell offset (x, y), in cells.

One output tensor keeps the ONNX graph and the server simple;
``bundle.json`` records the layout (``"heatmap+wh+offset"``).
:func:`decode_detections` turns it into boxes (numpy), :func:`centernet_targets`
builds the training targets from boxes and :func:`centernet_loss` is the
paper's loss (penalty-reduced focal loss on the heatmap, L1 on size and
offset at the centres).

The backbone is the residual encoder of the U-Net with its decoder stopped at
``stride``; inputs of any size are padded inside and the grid cropped back.

Examples
--------
>>> import torch
>>> from satlearn.models import build_model
>>> model = build_model("centernet", in_channels=4, num_classes=2, width=8, depth=3)
>>> model(torch.zeros(1, 4, 64, 60)).shape
torch.Size([1, 6, 16, 15])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn

from satlearn.errors import InvalidInputError
from satlearn.models.blocks import (
    ResidualEncoder,
    SatlearnModel,
    UNetDecoder,
    check_norm,
    check_positive_int,
    pad_to_multiple,
)
from satlearn.models.registry import register_model

__all__ = ["STRIDES", "CenterNet", "centernet_loss", "centernet_targets", "decode_detections"]

STRIDES = (1, 2, 4, 8)
# CenterNet's heatmap bias: sigmoid(-2.19) = 0.1, so the untrained focal loss
# is not swamped by the many background cells.
_HEATMAP_PRIOR = -2.19


@register_model("centernet")
class CenterNet(SatlearnModel):
    """Centre-heatmap detector: (N, C, H, W) -> (N, K + 4, ceil(H/s), ceil(W/s)).

    Parameters
    ----------
    name : str
        The registry name.
    in_channels : int
        Input bands.
    num_classes : int
        Object classes K.
    width, depth, blocks, norm
        The residual encoder (as for the U-Net); ``2**depth`` must be at least
        ``stride``.
    stride : {1, 2, 4, 8}
        Output grid stride (default 4; 2 for objects of a few pixels).
    head_width : int, optional
        Hidden channels of each head (default: the decoder's).
    """

    task = "object-detection"

    def __init__(
        self,
        name: str = "centernet",
        *,
        in_channels: int,
        num_classes: int | None = None,
        width: int = 32,
        depth: int = 4,
        blocks: int = 1,
        norm: str = "batch",
        stride: int = 4,
        head_width: int | None = None,
    ) -> None:
        check_positive_int("in_channels", in_channels, model=name)
        check_positive_int("num_classes", num_classes, model=name)
        check_positive_int("width", width, model=name)
        check_positive_int("depth", depth, model=name)
        check_positive_int("blocks", blocks, model=name)
        check_norm(norm, model=name)
        if stride not in STRIDES or isinstance(stride, bool):
            raise InvalidInputError(f"{name}: stride must be one of {STRIDES}, got {stride!r}")
        level = stride.bit_length() - 1
        if level > depth:
            raise InvalidInputError(
                f"{name}: stride {stride} needs depth >= {level}, got depth {depth}"
            )
        if head_width is not None:
            check_positive_int("head_width", head_width, model=name)
        super().__init__(
            name,
            in_channels=in_channels,
            num_classes=num_classes,
            width=width,
            depth=depth,
            blocks=blocks,
            norm=norm,
            stride=stride,
            head_width=head_width,
        )
        self.stride = stride
        self.num_classes = num_classes
        self.multiple = 2**depth
        self.encoder = ResidualEncoder(
            in_channels, width=width, depth=depth, blocks=blocks, norm=norm
        )
        self.decoder = UNetDecoder(self.encoder.channels, stop=level, norm=norm)
        hidden = head_width or self.decoder.out_channels

        def head(out: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(self.decoder.out_channels, hidden, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(hidden, out, 1),
            )

        self.heatmap = head(num_classes)
        self.size = head(2)
        self.offset = head(2)
        nn.init.constant_(self.heatmap[-1].bias, _HEATMAP_PRIOR)

    @property
    def output(self) -> dict:
        return {
            "kind": "heatmap+wh+offset",
            "classes": self.num_classes,
            "stride": self.stride,
            "channels": "0..K-1 sigmoid heatmaps, K..K+1 width/height (input px), "
            "K+2..K+3 centre offset x/y (cells)",
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        features = self.decoder(self.encoder(pad_to_multiple(x, self.multiple)))
        out = torch.cat(
            [torch.sigmoid(self.heatmap(features)), self.size(features), self.offset(features)],
            dim=1,
        )
        s = self.stride
        return out[..., : (h + s - 1) // s, : (w + s - 1) // s]


def decode_detections(
    outputs: Any, *, k: int = 100, threshold: float = 0.3, stride: int = 4
) -> Any:
    """Boxes from a centernet output: local heatmap peaks, top ``k``, above ``threshold``.

    Parameters
    ----------
    outputs : array-like
        ``(K + 4, h, w)`` for one image or ``(N, K + 4, h, w)`` for a batch
        (numpy or a torch tensor), laid out as :class:`CenterNet` returns it.
    k : int
        Most detections per image (default 100).
    threshold : float
        Lowest heatmap score kept (default 0.3).
    stride : int
        The model's output stride (``bundle.json`` ``output.stride``).

    Returns
    -------
    boxes, scores, classes : numpy arrays
        For one image: float32 (M, 4) boxes ``(x0, y0, x1, y1)`` in input
        pixels (column, row), float32 (M,) scores and int64 (M,) class ids,
        best first. For a batch: a list of such triples, one per image.

    Raises
    ------
    InvalidInputError
        Not a 3-D or 4-D array with at least 5 channels.

    Examples
    --------
    >>> out = np.zeros((5, 8, 8), np.float32)
    >>> out[0, 2, 3], out[1:3, 2, 3] = 0.5, [6, 4]
    >>> boxes, scores, classes = decode_detections(out, stride=4)
    >>> boxes.tolist(), scores.tolist(), classes.tolist()
    ([[9.0, 6.0, 15.0, 10.0]], [0.5], [0])
    """
    if isinstance(outputs, torch.Tensor):
        outputs = outputs.detach().cpu().numpy()
    array = np.asarray(outputs, dtype=np.float32)
    if array.ndim not in (3, 4) or array.shape[-3] < 5:
        raise InvalidInputError(
            "decode_detections needs (K + 4, h, w) or (N, K + 4, h, w) centernet outputs "
            f"with K >= 1, got shape {array.shape}"
        )
    if array.ndim == 3:
        return _decode_one(array, k, threshold, stride)
    return [_decode_one(a, k, threshold, stride) for a in array]


def _decode_one(
    out: np.ndarray, k: int, threshold: float, stride: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_classes = out.shape[0] - 4
    heat = out[:n_classes]
    # A 3x3 max filter keeps one cell per peak: CenterNet's replacement for NMS.
    peaks = heat == ndimage.maximum_filter(heat, size=(1, 3, 3), mode="constant", cval=-np.inf)
    scores = np.where(peaks & (heat >= threshold), heat, -np.inf).ravel()
    keep = min(k, int(np.count_nonzero(np.isfinite(scores))))
    if keep == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    best = np.argpartition(-scores, keep - 1)[:keep]
    best = best[np.argsort(-scores[best], kind="stable")]
    classes, rows, cols = np.unravel_index(best, heat.shape)
    width, height = out[n_classes, rows, cols], out[n_classes + 1, rows, cols]
    cx = (cols + out[n_classes + 2, rows, cols]) * stride
    cy = (rows + out[n_classes + 3, rows, cols]) * stride
    boxes = np.stack([cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2], axis=1)
    return boxes.astype(np.float32), scores[best].astype(np.float32), classes.astype(np.int64)


def centernet_targets(
    boxes: Any,
    classes: Any,
    *,
    num_classes: int,
    size: tuple[int, int],
    stride: int = 4,
) -> dict[str, np.ndarray]:
    """Training targets of one image for :func:`centernet_loss`.

    Parameters
    ----------
    boxes : array-like (M, 4)
        ``(x0, y0, x1, y1)`` in input pixels.
    classes : array-like (M,)
        Class ids in ``0..num_classes-1``.
    num_classes : int
    size : (int, int)
        The input image's (height, width).
    stride : int
        The model's output stride.

    Returns
    -------
    dict of numpy arrays
        ``heatmap`` (K, h, w) float32 Gaussian splats (peak 1 at each centre
        cell), ``size`` (2, h, w) and ``offset`` (2, h, w) float32 set at the
        centres, ``mask`` (h, w) float32, 1 at the centres.

    Raises
    ------
    InvalidInputError
        Boxes not (M, 4), classes of another length or out of range.

    Examples
    --------
    >>> t = centernet_targets([[8, 8, 16, 12]], [0], num_classes=1, size=(32, 32))
    >>> t["heatmap"].shape, float(t["heatmap"].max()), t["size"][:, 2, 3].tolist()
    ((1, 8, 8), 1.0, [8.0, 4.0])
    """
    box = np.asarray(boxes, dtype=np.float64)
    if box.size == 0:
        box = np.zeros((0, 4))
    elif box.ndim != 2 or box.shape[1] != 4:
        raise InvalidInputError(f"boxes must be (M, 4) x0, y0, x1, y1; got shape {box.shape}")
    cls = np.asarray(classes, dtype=np.int64).ravel()
    if len(cls) != len(box):
        raise InvalidInputError(f"{len(box)} boxes but {len(cls)} classes")
    if len(cls) and (cls.min() < 0 or cls.max() >= num_classes):
        raise InvalidInputError(f"class ids must be in 0..{num_classes - 1}, got {cls.tolist()}")
    h, w = -(-size[0] // stride), -(-size[1] // stride)
    heatmap = np.zeros((num_classes, h, w), np.float32)
    wh = np.zeros((2, h, w), np.float32)
    offset = np.zeros((2, h, w), np.float32)
    mask = np.zeros((h, w), np.float32)
    ys, xs = np.arange(h)[:, None], np.arange(w)[None, :]
    # One splat per object (objects are few; the splat itself is vectorised).
    for (x0, y0, x1, y1), c in zip(box, cls, strict=True):
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        if not (0 <= cx < size[1] and 0 <= cy < size[0]) or x1 <= x0 or y1 <= y0:
            continue  # centre outside the image, or an empty box: nothing to learn
        cx, cy = cx / stride, cy / stride
        col, row = int(cx), int(cy)
        # Gaussian of the object's size in cells (CenterNet uses a radius at
        # which a shifted box keeps IoU 0.7; size/6 is the usual shortcut),
        # at least a third of a cell so a 2-pixel ship still has a peak.
        sigma = max((x1 - x0) / stride, (y1 - y0) / stride) / 6 + 1 / 3
        splat = np.exp(-((xs - col) ** 2 + (ys - row) ** 2) / (2 * sigma**2)).astype(np.float32)
        np.maximum(heatmap[c], splat, out=heatmap[c])
        wh[:, row, col] = (x1 - x0, y1 - y0)
        offset[:, row, col] = (cx - col, cy - row)
        mask[row, col] = 1.0
    return {"heatmap": heatmap, "size": wh, "offset": offset, "mask": mask}


def centernet_loss(
    outputs: torch.Tensor,
    targets: dict[str, torch.Tensor],
    *,
    size_weight: float = 0.1,
    offset_weight: float = 1.0,
) -> torch.Tensor:
    """CenterNet's loss: focal loss on heatmaps + L1 on size and offset at centres.

    Parameters
    ----------
    outputs : torch.Tensor
        (N, K + 4, h, w) from :class:`CenterNet`.
    targets : dict of torch.Tensor
        :func:`centernet_targets` of each image, stacked on a batch axis.
    size_weight, offset_weight : float
        Weights of the L1 terms (the paper's 0.1 and 1).

    Returns
    -------
    torch.Tensor
        A scalar, normalised by the number of objects (at least 1).

    Examples
    --------
    >>> t = centernet_targets([[8, 8, 16, 12]], [0], num_classes=1, size=(32, 32))
    >>> batch = {key: torch.as_tensor(v)[None] for key, v in t.items()}
    >>> float(centernet_loss(torch.full((1, 5, 8, 8), 0.5), batch)) > 0
    True
    """
    k = outputs.shape[1] - 4
    # Clamped as in the reference implementation, so log() stays finite.
    pred = outputs[:, :k].clamp(1e-4, 1 - 1e-4)
    gt = targets["heatmap"]
    positive = gt.eq(1).float()
    negative_weight = (1 - gt) ** 4
    pos_loss = torch.log(pred) * (1 - pred) ** 2 * positive
    neg_loss = torch.log(1 - pred) * pred**2 * negative_weight * (1 - positive)
    mask = targets["mask"].unsqueeze(1)
    count = mask.sum().clamp(min=1.0)
    focal = -(pos_loss.sum() + neg_loss.sum()) / count
    size_l1 = (F.l1_loss(outputs[:, k : k + 2], targets["size"], reduction="none") * mask).sum()
    off_l1 = (F.l1_loss(outputs[:, k + 2 :], targets["offset"], reduction="none") * mask).sum()
    return focal + (size_weight * size_l1 + offset_weight * off_l1) / count
