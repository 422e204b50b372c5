"""resolve_device: 'auto', 'cpu' or 'cuda', checked against this machine."""

import pytest
import torch

from ffnn_lab import InvalidInput
from ffnn_lab.device import resolve_device


@pytest.mark.parametrize("device", ["tpu", "gpu0", "cuda:x", "mps"])
def test_resolve_device_names_what_was_asked(device):
    with pytest.raises(InvalidInput, match=f"unknown device '{device}': use 'auto', 'cpu' or 'cuda'"):
        resolve_device(device)


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(InvalidInput, match="device 'cuda' asked for, but this torch sees no CUDA"):
            resolve_device("cuda")
