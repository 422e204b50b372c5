"""Checks for notebook 02: per-channel statistics, Normalize by hand, a target_transform."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import torch
import torchvision.transforms.functional as TF
import torchvision.transforms.v2.functional as TF2
from torchvision import transforms

from ..data import channel_stats
from ..labels import CLASSES
from .answers import fingerprint
from .judge import Ban, Numbers, call, check, fail, fresh, numbers, right, show

# the vehicles' labels, fingerprinted (see answers.py): reading this module does not tell them
VEHICLES = frozenset({"08386fea74cfe772", "46596c27db1e9940", "e6a002c88aa7a2e5", "0554289ebe9a6f1f"})
NO_CHANNEL_STATS = Ban("ffnn_lab.channel_stats (write the reduction yourself)", helpers=(channel_stats,))
NO_NORMALIZE = Ban(
    "transforms.Normalize (write the broadcasting yourself)",
    helpers=(transforms.Normalize.forward, TF.normalize, TF2.normalize, TF2.normalize_image),
    code_names=frozenset({"Normalize"}),  # transforms.v2.Normalize too
)
STD_RTOL = 2e-3  # a std divided by n or by n - 1 are both right on thousands of values


def _pictures(rng: np.random.Generator) -> np.ndarray:
    """uint8 (N, H, W, 3) pictures drawn now: each channel at its own level, and each picture
    brighter or darker than the others, as real ones are."""
    n, h, w = int(rng.integers(40, 70)), int(rng.integers(5, 9)) | 1, int(rng.integers(4, 9)) & ~1
    base = rng.permutation([0, 30, 60]) + rng.integers(0, 10, 3)  # channels apart, in any order
    levels = base + rng.integers(0, rng.integers(80, 140, 3), (n, 1, 1, 3))
    return (levels + rng.integers(0, 40, (n, h, w, 3))).astype(np.uint8)


def _triple(value: Any, what: str) -> Numbers:
    found = numbers(value, what)
    if found.shape != (3,):
        fail(
            f"your {what} has shape {found.shape}, not (3,): one value per colour channel; "
            "reduce over every axis except the channel axis (the last one of .data)"
        )
    return found


def _judge_mean(mean: Numbers, want: np.ndarray, data: np.ndarray) -> None:
    if mean.close(want):
        return
    if mean.close(want * 255):
        fail("your means are on the 0..255 scale: ToTensor divides by 255 first")
    if mean.close(want[::-1]):
        fail("your means come out in reverse channel order (blue, green, red)")
    mixed = data.reshape(3, -1) / 255  # what reshape(3, -1) does without moving the channels first
    if mean.close(mixed.mean(axis=1)):
        fail(
            "reshape(3, -1) on (N, H, W, 3) pictures mixes the channels: move the channel axis "
            "to the front first (permute or transpose), or reduce over axes (0, 1, 2)"
        )
    fail(f"your means {show(mean.values)} are off: average over all pictures, rows and columns, per channel")


def _judge_std(std: Numbers, want: np.ndarray, data: np.ndarray) -> None:
    values = std.values
    if np.allclose(values, want, rtol=STD_RTOL):
        return
    if np.allclose(values, want * 255, rtol=STD_RTOL):
        fail("your standard deviations are on the 0..255 scale: ToTensor divides by 255 first")
    if np.allclose(values, want**2, rtol=STD_RTOL):
        fail("that is the variance; the standard deviation is its square root")
    per_picture = (data / 255).std(axis=(1, 2)).mean(axis=0)
    if np.allclose(values, per_picture, rtol=STD_RTOL):
        fail(
            "that is the average of each picture's own std, which misses how pictures differ "
            "from each other: take one std over all values of a channel"
        )
    fail(f"your standard deviations {show(values)} are off: the spread of all values of a channel")


@check
def check_channel_stats(fn: Any) -> bool:
    """fn(data) on uint8 (N, H, W, 3) pictures must give per-channel (mean, std) on the 0..1 scale."""
    _, rng = fresh()
    for _ in range(2):
        data = _pictures(rng)
        got = call(fn, data.copy(), on=f"pictures shaped {data.shape}", without=NO_CHANNEL_STATS)
        if isinstance(got, dict | str) or not hasattr(got, "__len__") or len(got) != 2:
            fail("return a pair: (mean, std), three numbers in each")
        mean, std = _triple(got[0], "mean"), _triple(got[1], "std")
        want_mean, want_std = (t.double().numpy() for t in channel_stats(data))
        _judge_mean(mean, want_mean, data)
        _judge_std(std, want_std, data)
    return right("per-channel mean and std on the 0..1 scale, as channel_stats computes them.")


def _normalize_cases(gen: torch.Generator, rng: np.random.Generator) -> list[tuple]:
    """(C, H, W) tensors drawn now with their mean and std: first one only 3 pixels wide, where
    a mean shaped (3,) would line up with the columns without an error; float32 and float64."""
    cases = []
    for dtype, width, kind in (
        (torch.float32, 3, tuple),
        (torch.float32, 7, list),
        (torch.float64, 6, tuple),
    ):
        t = torch.rand(3, int(rng.integers(3, 8)), width, generator=gen, dtype=dtype)
        mean = kind(float(v) for v in rng.uniform(0.2, 0.7, 3).round(3))
        std = kind(float(v) for v in rng.uniform(0.1, 0.4, 3).round(3))
        cases.append((t, mean, std))
    return cases


def _judge_normalized(got: Numbers, t: torch.Tensor, mean: Any, std: Any) -> None:
    want = transforms.Normalize(mean, std)(t).double().numpy()
    if got.shape != want.shape:
        fail(
            f"the shape changed from {tuple(t.shape)} to {got.shape}: shape mean and std "
            "(3, 1, 1) so that they broadcast over each channel's pixels"
        )
    if got.close(want):
        return
    x = t.double().numpy()
    m, s = np.asarray(mean).reshape(3, 1, 1), np.asarray(std).reshape(3, 1, 1)
    if got.close(x / s - m):
        fail("subtract the mean first, then divide by the std")
    if got.close((x - m) * s):
        fail("divide by the std instead of multiplying by it")
    if got.close((x - s) / m):
        fail("mean and std are swapped: subtract the mean, divide by the std")
    if got.close((x - m.reshape(3)) / s.reshape(3)):
        fail(
            f"on a tensor shaped {tuple(t.shape)} a mean shaped (3,) lines up with the last "
            "axis, the columns: view mean and std as (3, 1, 1)"
        )
    if got.close(x - m):
        fail("you subtracted the mean but did not divide by the std")
    own_mean = x.mean(axis=(1, 2), keepdims=True)
    if got.close(x - own_mean) or any(
        got.close((x - own_mean) / x.std(axis=(1, 2), keepdims=True, ddof=d)) for d in (0, 1)
    ):
        fail("that uses this tensor's own mean and std: normalise with the mean and std you are given")
    fail(f"on a tensor shaped {tuple(t.shape)} some channel got another channel's mean or std")


@check
def check_normalize(fn: Any) -> bool:
    """fn(t, mean, std) on a (C, H, W) tensor must equal transforms.Normalize(mean, std)(t)."""
    gen, rng = fresh()
    for t, mean, std in _normalize_cases(gen, rng):
        out = call(fn, t, mean, std, on=f"a {t.dtype} tensor shaped {tuple(t.shape)}", without=NO_NORMALIZE)
        if not isinstance(out, torch.Tensor | np.ndarray):
            fail(f"return a tensor, not a {type(out).__name__}")
        _judge_normalized(numbers(out, "the result"), t, mean, std)
    return right("(x - mean[c]) / std[c] on every channel c, like transforms.Normalize.")


def _is_vehicle(label: int) -> bool:
    return fingerprint("nb02.vehicle", label) in VEHICLES


def _label_value(out: Any, label: int) -> int:
    """A returned label as an int, or the end of the check when its type would trouble training."""
    if isinstance(out, bool | np.bool_) or (isinstance(out, torch.Tensor) and out.dtype == torch.bool):
        fail(
            f"vehicle({label}) returned {out!r}, a bool: return the int 1 or 0 (a batch of "
            "bools cannot be a target for the loss)"
        )
    if isinstance(out, float | np.floating) or (isinstance(out, torch.Tensor) and out.is_floating_point()):
        fail(f"vehicle({label}) returned {out!r}, a float: return the int 1 or 0 (labels are whole numbers)")
    if isinstance(out, torch.Tensor) and out.numel() == 1:
        out = out.item()
    if not isinstance(out, int | np.integer):
        fail(f"vehicle({label}) returned {type(out).__name__}: return the int 1 or 0")
    return int(out)


@check
def check_vehicle_transform(fn: Any) -> bool:
    """fn(label) must map CIFAR-10 labels to 1 for vehicles and 0 for animals, as a picklable int."""
    _, rng = fresh()
    for label in rng.permutation(len(CLASSES)).tolist():
        value = _label_value(call(fn, label, on=f"label {label}"), label)
        if value not in (0, 1):
            fail(f"vehicle({label}) returned {value}: return 1 for a vehicle and 0 for an animal")
        if value != int(_is_vehicle(label)):
            said = "a vehicle" if value else "an animal"
            fail(f"vehicle({label}) says a {CLASSES[label]} is {said}: look the names up in ffnn_lab.CLASSES")
    try:
        pickle.dumps(fn)
    except Exception:  # lambdas and nested functions: no name pickle can find
        fail(
            "right answers, but the function cannot be pickled (a lambda?), so a DataLoader "
            "with worker processes could not use it: write it with def"
        )
    return right("vehicles 1, animals 0, and picklable for DataLoader workers.")
