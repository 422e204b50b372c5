"""Checks for notebook 02: per-channel statistics, Normalize by hand, a target_transform."""

from __future__ import annotations

import pickle

import numpy as np
import torch
from torchvision import transforms

from ..data import channel_stats
from ..labels import CLASSES
from . import FAILED, attempt, check, not_yet, returned_nothing, right

VEHICLES = {"airplane", "automobile", "ship", "truck"}


def _as_triple(value) -> torch.Tensor | None:
    """value as a float64 tensor of shape (3,), or None when it is not three numbers."""
    try:
        t = torch.as_tensor(value.tolist() if hasattr(value, "tolist") else value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return None
    return t if t.shape == (3,) else None


@check
def check_channel_stats(fn) -> bool:
    """fn(data) on uint8 (N, H, W, 3) pictures must give per-channel (mean, std) on the 0..1 scale."""
    rng = np.random.default_rng(2)
    data = np.stack(
        [
            rng.integers(lo, hi, (20, 6, 5), dtype=np.uint8)  # channels that differ
            for lo, hi in ((0, 256), (40, 120), (150, 250))
        ],
        axis=-1,
    )
    got = attempt(fn, data)
    if got is FAILED:
        return False
    if got is None:
        return returned_nothing()
    if not isinstance(got, tuple) or len(got) != 2:
        return not_yet("return a pair: (mean, std), one value per channel in each")
    mean, std = map(_as_triple, got)
    if mean is None or std is None:
        shapes = [tuple(np.shape(v)) for v in got]
        return not_yet(
            f"mean and std need one value per colour channel, shape (3,); got {shapes}: "
            "reduce over every axis except the channel axis (the last one in .data)"
        )
    want_mean, want_std = (t.double() for t in channel_stats(data))
    if torch.allclose(mean, want_mean * 255, rtol=1e-3):
        return not_yet("the mean is on the 0..255 scale: ToTensor divides by 255 first")
    if not torch.allclose(mean, want_mean, atol=1e-3):
        if torch.allclose(mean.flip(0), want_mean, atol=1e-3):
            return not_yet("the channels come out in reverse order")
        return not_yet("the means are off: average over all pictures, rows and columns, per channel")
    if torch.allclose(std, want_std * 255, rtol=1e-2):
        return not_yet("the std is on the 0..255 scale: ToTensor divides by 255 first")
    if torch.allclose(std, want_std**2, rtol=1e-2):
        return not_yet("that is the variance; the standard deviation is its square root")
    if not torch.allclose(std, want_std, rtol=1e-2):
        return not_yet("the standard deviations are off: spread of all values of a channel")
    return right("per-channel mean and std on the 0..1 scale, as channel_stats computes them.")


@check
def check_normalize(fn) -> bool:
    """fn(t, mean, std) on a (C, H, W) tensor must equal transforms.Normalize(mean, std)(t)."""
    t = torch.rand(3, 4, 5, generator=torch.Generator().manual_seed(3))
    mean, std = (0.2, 0.5, 0.7), (0.1, 0.3, 0.2)
    got = attempt(fn, t.clone(), mean, std)
    if got is FAILED:
        return False
    if got is None:
        return returned_nothing()
    if not isinstance(got, torch.Tensor):
        return not_yet(f"return a tensor, got {type(got).__name__}")
    if got.shape != t.shape:
        return not_yet(
            f"the shape changed from {tuple(t.shape)} to {tuple(got.shape)}: "
            "reshape mean and std to (3, 1, 1) so they broadcast over each channel"
        )
    want = transforms.Normalize(mean, std)(t)
    if torch.allclose(got, want, atol=1e-5):
        return right("(x - mean[c]) / std[c] on every channel c, like transforms.Normalize.")
    m, s = torch.tensor(mean).view(3, 1, 1), torch.tensor(std).view(3, 1, 1)
    if torch.allclose(got, t / s - m, atol=1e-5):
        return not_yet("subtract the mean first, then divide by the std")
    if torch.allclose(got, (t - m) * s, atol=1e-5):
        return not_yet("divide by the std instead of multiplying by it")
    return not_yet("some channel got another channel's mean or std: index them by channel")


@check
def check_vehicle_transform(fn) -> bool:
    """fn(label) must map CIFAR-10 labels to 1 for vehicles and 0 for animals, as a picklable int."""
    for label, name in enumerate(CLASSES):
        got = attempt(fn, label)
        if got is FAILED:
            return False
        if got is None:
            return returned_nothing()
        if type(got) is not int:
            return not_yet(
                f"fn({label}) returned a {type(got).__name__}: return a plain int 0 or 1 "
                "(bool or tensor labels trip up the loss later)"
            )
        if got != int(name in VEHICLES):
            kind = "a vehicle" if name in VEHICLES else "an animal"
            return not_yet(f"label {label} ({name}) is {kind}, and fn({label}) says otherwise")
    try:
        pickle.dumps(fn)
    except Exception:  # lambdas and nested functions: no name pickle can find
        return not_yet(
            "right answers, but the function cannot be pickled (a lambda?), so a "
            "DataLoader with worker processes could not use it: write it with def"
        )
    return right("vehicles 1, animals 0, and picklable for DataLoader workers.")
