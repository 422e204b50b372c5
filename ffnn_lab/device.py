"""Where to compute: 'auto', 'cpu' or 'cuda', checked against what this machine has."""

from __future__ import annotations

import torch

from .errors import InvalidInput


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' is CUDA when present, else CPU; asking for CUDA without one is an error that says so."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        resolved = None
    if resolved is None or resolved.type not in {"cpu", "cuda"}:
        raise InvalidInput(f"unknown device {str(device)!r}: use 'auto', 'cpu' or 'cuda'")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInput(
            f"device {str(device)!r} asked for, but this torch sees no CUDA GPU "
            f"(torch {torch.__version__}): use 'cpu' or 'auto'"
        )
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise InvalidInput(
            f"device {str(device)!r}: this machine has {torch.cuda.device_count()} "
            "CUDA GPU(s), numbered from 0"
        )
    return resolved
