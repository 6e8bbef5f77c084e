"""Shared set-up of the model tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # The test tensors are tiny: a second OpenMP thread buys nothing, and on
    # a busy 2-core machine its spin-waiting barriers made training steps
    # 50-100x slower (3.5 s instead of 30 ms for a tiny U-Net step).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
