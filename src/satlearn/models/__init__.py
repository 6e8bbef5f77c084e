"""Deep-learning architectures for satellite imagery (plain torch, any band count).

Every model is built by name through :func:`build_model` and keeps its
constructor arguments in ``model.config`` (JSON-ready, ``name`` included), so
``build_model(**model.config)`` rebuilds the same architecture: that is how a
bundle's ``weights.safetensors`` is loaded back (:func:`load_torch_model`).
Models are created on the CPU; move them with ``model.to(default_device())``
to use CUDA when present.

Registered models
-----------------
=====================  =================================  =====================================
name                   input -> output                    notes
=====================  =================================  =====================================
``resnet-classifier``  (N, C, H, W) -> (N, K) logits      residual CNN sized by width/depth;
                                                          softmax (single-label) or sigmoid
                                                          (multi-label) is the caller's
``chip-classifier``    (N, C, H, W) -> (N, K) logits      the same family, K = 2 by default:
                                                          keep/drop classical candidates
``unet``               (N, C, H, W) -> (N, K, H, W)       U-Net, residual encoder; any H, W
``siamese-unet``       (N, 2C, H, W) -> (N, K, H, W)      change: dates stacked on channels
                                                          (before then after), shared encoder,
                                                          fusion ``"difference"``/``"concat"``
``early-fusion-unet``  (N, 2C, H, W) -> (N, K, H, W)      change: a U-Net over both dates
``srcnn``              (N, C, h, w) -> (N, C, sh, sw)     super-resolution x2/x4; bicubic
``vdsr``               (N, C, h, w) -> (N, C, sh, sw)     upsampling inside the model, so the
``espcn``              (N, C, h, w) -> (N, C, sh, sw)     input is always the low-res tile
``centernet``          (N, C, H, W) -> (N, K+4, H/s, W/s) heatmaps (sigmoid) + w, h + offset;
                                                          :func:`decode_detections` -> boxes
=====================  =================================  =====================================

:func:`dihedral_ensemble` averages a model's outputs over the eight flips and
rotations of its input (test-time augmentation).

Examples
--------
>>> import torch
>>> model = build_model("unet", in_channels=4, num_classes=3, width=8, depth=2)
>>> model(torch.zeros(1, 4, 30, 30)).shape
torch.Size([1, 3, 30, 30])
>>> build_model(**model.config).config == model.config
True
"""

from __future__ import annotations

# The architecture modules register themselves on import.
from satlearn.models import (  # noqa: F401
    change,
    classification,
    detection,
    segmentation,
    superres,
)
from satlearn.models.detection import decode_detections
from satlearn.models.ensemble import dihedral_ensemble
from satlearn.models.export import export_bundle, load_torch_model
from satlearn.models.registry import MODELS, build_model, default_device, register_model

__all__ = [
    "MODELS",
    "build_model",
    "decode_detections",
    "default_device",
    "dihedral_ensemble",
    "export_bundle",
    "load_torch_model",
    "register_model",
]
