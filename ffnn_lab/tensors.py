"""The fast path's batches: minibatches drawn by index, and augmentation of whole batches.

Shuffled batches from tensors already on the device; shifts, flips and mixup on a batch at once."""

from __future__ import annotations

import random
from collections.abc import Iterator

import torch

from .data import TensorData


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


def augmentation_draws(
    n: int, max_shift: int, flip: bool, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A batch's random shifts and mirrors, drawn on the CPU: rows (vertical offset, horizontal offset,
    mirror flag) of n int64 each, 0 where switched off; offsets run 0..2*max_shift, max_shift is none.

    The one place these draws are made, in this order, so the eager loop and the graph engine
    (which draws a whole epoch ahead) take the same numbers from the same generator."""
    draws = torch.zeros(3, n, dtype=torch.long)
    if max_shift > 0:
        draws[0] = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
        draws[1] = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    if flip:
        draws[2] = torch.rand(n, generator=generator) < 0.5
    return draws


def apply_augmentation(x: torch.Tensor, draws: torch.Tensor, max_shift: int, flip: bool) -> torch.Tensor:
    """x moved by draws' offsets (zero padding) and mirrored left-right where flagged, as
    augmentation_draws made them; draws on x's device. One gather for the whole batch: no per-image
    Python and no PIL."""
    n, c, h, w = x.shape
    if max_shift > 0:
        p = max_shift
        padded = torch.nn.functional.pad(x, (p, p, p, p))
        rows = (draws[0][:, None] + torch.arange(h, device=x.device))[:, None, :, None]
        cols = (draws[1][:, None] + torch.arange(w, device=x.device))[:, None, None, :]
        x = padded[
            torch.arange(n, device=x.device)[:, None, None, None],
            torch.arange(c, device=x.device)[None, :, None, None],
            rows,
            cols,
        ]
    if flip:
        x = torch.where(draws[2].bool()[:, None, None, None], x.flip(-1), x)
    return x


def augment(
    x: torch.Tensor, max_shift: int = 4, flip: bool = True, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A batch randomly translated by up to max_shift pixels (zero padding) and mirrored left-right."""
    draws = augmentation_draws(len(x), max_shift, flip, generator)
    return apply_augmentation(x, draws.to(x.device), max_shift, flip)


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
