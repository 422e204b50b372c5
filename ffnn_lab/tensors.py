"""The fast path: CIFAR-2 preloaded once as normalised tensors on the device, minibatches drawn by
index, and augmentation applied to a whole batch at once (shifts, flips, mixup)."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset, Subset

from .data import (
    channel_stats,
    cifar2_indices,
    describe,
    load_cifar2,
    load_cifar10,
    to_arrays,
)
from .labels import remap_label


@dataclass
class TensorData:
    """Normalised images x (N, 3, 32, 32) float32 and labels y (N,) int64, on one device."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    @property
    def device(self) -> torch.device:
        return self.x.device


def preload(
    dataset: Dataset, mean: torch.Tensor, std: torch.Tensor, device: str | torch.device = "cpu"
) -> TensorData:
    """Convert a CIFAR-like dataset (or Subset) once: uint8 -> float, HWC -> CHW, (x/255 - mean)/std."""
    data, labels = to_arrays(dataset)
    device = torch.device(device)
    # Move bytes, not floats: the uint8 copy is 4x smaller, so the host-to-GPU transfer is too.
    x = torch.from_numpy(data).to(device).permute(0, 3, 1, 2).float().div_(255)
    mean = torch.as_tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    std = torch.as_tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    x = x.sub_(mean).div_(std).contiguous()
    return TensorData(x, torch.from_numpy(labels).to(device))


def batches(
    data: TensorData, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Minibatches of data, reshuffled on every call when shuffle=True (like DataLoader)."""
    n = len(data)
    if shuffle:
        # the permutation is drawn on the CPU generator so runs match across devices
        order = torch.randperm(n, generator=generator).to(data.device)
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            yield data.x[idx], data.y[idx]
    else:
        for i in range(0, n, batch_size):
            yield data.x[i : i + batch_size], data.y[i : i + batch_size]


def shift(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Images moved dx pixels right and dy down, the uncovered border filled with zeros (the mean)."""
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    if abs(dx) >= w or abs(dy) >= h:
        return out
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def augment(
    x: torch.Tensor, max_shift: int = 4, flip: bool = True, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A batch randomly translated by up to max_shift pixels (zero padding) and mirrored left-right.

    One gather for the whole batch, on x's device: no per-image Python and no PIL."""
    n, c, h, w = x.shape
    if max_shift > 0:
        p = max_shift
        padded = torch.nn.functional.pad(x, (p, p, p, p))
        oy = torch.randint(0, 2 * p + 1, (n,), generator=generator).to(x.device)
        ox = torch.randint(0, 2 * p + 1, (n,), generator=generator).to(x.device)
        rows = (oy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
        cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
        x = padded[
            torch.arange(n, device=x.device)[:, None, None, None],
            torch.arange(c, device=x.device)[None, :, None, None],
            rows,
            cols,
        ]
    if flip:
        mirror = (torch.rand(n, generator=generator) < 0.5).to(x.device)
        x = torch.where(mirror[:, None, None, None], x.flip(-1), x)
    return x


def mixup_batch(
    x: torch.Tensor,
    y: torch.Tensor,
    alpha: float,
    generator: torch.Generator | None = None,
    rng: random.Random | None = None,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Mixup: each image blended with a random partner from the batch, weight lam ~ Beta(alpha, alpha).

    Returns (blended images, the partners' labels, lam); the loss weighs y by lam, partners by 1 - lam."""
    lam = (rng or random).betavariate(alpha, alpha)
    partner = torch.randperm(len(y), generator=generator).to(x.device)
    return lam * x + (1 - lam) * x[partner], y[partner], lam


@dataclass
class Prepared:
    """CIFAR-2 ready to train on: fast-path train/val tensors, the statistics used, and a summary."""

    train: TensorData
    val: TensorData
    mean: torch.Tensor
    std: torch.Tensor
    summary: str


def prepare_cifar2(
    root: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    download: bool = False,
    *,
    holdout: int = 2000,
    split_seed: int = 0,
) -> Prepared:
    """CIFAR-2 train and validation preloaded on device, normalised with the training split's
    per-channel CIFAR-10 statistics (as the lecture's Normalize uses). root and download as in
    load_cifar10; holdout and split_seed choose the validation images when the copy has no test split.
    Rows keep the source's order: an image-folder copy is sorted by class, so take random rows, not
    the first n, for samples."""
    full = load_cifar10(root, True, None, remap_label, download, holdout=holdout, split_seed=split_seed)
    mean, std = channel_stats(full.data)
    train = Subset(full, cifar2_indices(full.targets))
    val = load_cifar2(root, False, download=download, holdout=holdout, split_seed=split_seed)
    summary = f"{describe(train)}\n{describe(val)}"
    return Prepared(preload(train, mean, std, device), preload(val, mean, std, device), mean, std, summary)
