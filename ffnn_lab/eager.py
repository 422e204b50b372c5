"""The eager loop: one training epoch, batch by batch, as the notebooks teach it.

Per batch: augment, forward, loss, zero_grad, backward, step; the epoch's sums stay on the device
(EpochSums, which the graph engine keeps too)."""

from __future__ import annotations

import random
from collections.abc import Iterable

import torch
from torch import nn

from .recipes import Recipe
from .tensors import augment, mixup_batch


class EpochSums:
    """An epoch's summed loss and correct predictions, and its first batch's loss, kept on the device
    (no host sync per batch) and updated in place (so a captured graph can too). seen counts the
    samples: the eager loop adds as it goes, the graph's epoch sets it once."""

    def __init__(self, device: torch.device, seen: int = 0) -> None:
        self.loss = torch.zeros((), device=device)
        self.correct = torch.zeros((), dtype=torch.long, device=device)
        self.first = torch.zeros((), device=device)
        self.seen = seen

    def add(self, loss: torch.Tensor, out: torch.Tensor, y: torch.Tensor, first: bool = False) -> None:
        """Count one batch; first=True also keeps its loss as the epoch's first."""
        if first:
            self.first.copy_(loss.detach())
        self.loss += loss.detach() * len(y)
        self.correct += (out.argmax(dim=1) == y).sum()


def _forward(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    recipe: Recipe,
    loss_fn: nn.Module,
    gen: torch.Generator,
    rng: random.Random,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Augment and blend a batch as the recipe asks, then run it: (loss, outputs, labels to count).

    With mixup, accuracy counts the label of the stronger image in each blend."""
    if recipe.max_shift or recipe.flip:
        x = augment(x, recipe.max_shift, recipe.flip, gen)
    if not recipe.mixup:
        out = model(x)
        return loss_fn(out, y), out, y
    x, partner_y, lam = mixup_batch(x, y, recipe.mixup, gen, rng)
    out = model(x)
    loss = lam * loss_fn(out, y) + (1 - lam) * loss_fn(out, partner_y)
    return loss, out, (y if lam >= 0.5 else partner_y)


def train_epoch(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler | None,
    loss_fn: nn.Module,
    recipe: Recipe,
    gen: torch.Generator,
    rng: random.Random,
    check_each_batch: bool,
) -> EpochSums:
    """One epoch of the plain PyTorch loop: forward, loss, zero_grad, backward, step, per batch.

    check_each_batch stops at the first non-finite loss, before it reaches the weights (the sums
    then say so); on a GPU that check would wait for every batch, so fit checks the epoch's sums."""
    sums = EpochSums(next(model.parameters()).device)
    for x, y in batches:
        loss, out, y = _forward(model, x, y, recipe, loss_fn, gen, rng)
        sums.add(loss, out, y, first=not sums.seen)
        sums.seen += len(y)
        if check_each_batch and not torch.isfinite(loss):
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    return sums
