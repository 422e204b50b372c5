"""Checks for notebook 06 (training loop): updates per epoch, the accuracy loop, random shifts."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..tensors import shift
from . import FAILED, attempt, check, not_answered, not_yet, right, unanswered


@check
def check_updates_per_epoch(fn) -> bool:
    """fn(n_samples, batch_size) must be the number of minibatches (= optimiser steps) in one epoch."""
    for n, b in [(10, 4), (1000, 64), (8000, 64), (64, 64), (63, 64), (6000, 1), (6000, 6000)]:
        out = attempt(fn, n, b)
        if out is FAILED:
            return False
        if unanswered(out):
            return not_answered()
        expected = math.ceil(n / b)
        try:
            value = float(out)
        except (TypeError, ValueError):
            value = math.nan
        if isinstance(out, bool | str) or not math.isfinite(value) or value != int(value):
            return not_yet(
                f"for {n:,} samples in batches of {b} you gave {out!r}: a count of batches is a whole number"
            )
        out = int(value)
        if out == expected:
            continue
        if out == n // b:
            return not_yet(
                f"{n:,} samples in batches of {b}: the last, smaller batch is a step "
                "too (10 samples in batches of 4 make batches of 4, 4 and 2)"
            )
        return not_yet(
            f"wrong count for {n:,} samples in batches of {b}: how many batches of "
            f"{b} does it take to use every sample once?"
        )
    return right("one step per minibatch, the last, smaller one included.")


class _Probe(nn.Module):
    """A tiny model with dropout that records whether a forward pass recorded the graph."""

    def __init__(self) -> None:
        super().__init__()
        self.drop = nn.Dropout(p=1.0)  # training mode silences every input; eval mode none
        self.linear = nn.Linear(2, 2)
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
            self.linear.bias.copy_(torch.tensor([0.0, 0.1]))  # all-zero input -> class 1
        self.graph_recorded = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.graph_recorded |= torch.is_grad_enabled()
        return self.linear(self.drop(x))


def _accuracy_data() -> tuple[DataLoader, float]:
    # 10 samples in batches of 4, 4, 2: the model gets 4/4, 3/4 and 0/2 right (7 of 10), so
    # averaging the three batch accuracies gives 0.583, not 0.7; 6 of the labels are 1.
    x = torch.tensor([[1.0, 0], [1, 0], [0, 1], [0, 1], [1, 0], [0, 1], [0, 1], [0, 1], [1, 0], [1, 0]])
    y = torch.tensor([0, 0, 1, 1, 0, 1, 1, 0, 1, 1])
    return DataLoader(TensorDataset(x, y), batch_size=4, shuffle=False), 0.7


@check
def check_accuracy(fn) -> bool:
    """fn(model, loader) must be the share of samples whose argmax is the label, in eval mode, no graph."""
    loader, expected = _accuracy_data()
    model = _Probe()
    out = attempt(fn, model, loader)
    if out is FAILED:
        return False
    if unanswered(out):
        return not_answered()
    value = float(torch.as_tensor(out, dtype=torch.float64).reshape(()))
    if math.isclose(value, expected * 10):
        return not_yet("that is the number of correct answers: divide by the number of samples")
    if math.isclose(value, (1 + 0.75 + 0) / 3):
        return not_yet(
            "the last batch holds 2 samples, not 4: count correct answers and samples "
            "over the whole loader, then divide once at the end"
        )
    if math.isclose(value, 0.6):
        return not_yet(
            "every sample got the same class: the test model has dropout, which is "
            "active until you call model.eval()"
        )
    if not 0 <= value <= 1:
        return not_yet(f"an accuracy lies between 0 and 1; you gave {value:g}")
    if not math.isclose(value, expected):
        return not_yet(
            "wrong value: the prediction is the argmax over the classes (dim=1), compared with the labels"
        )
    if model.graph_recorded:
        return not_yet(
            "right number, but the forward passes recorded a graph for backward: "
            "wrap the loop in `with torch.no_grad():`, nothing is trained here"
        )
    return right("eval mode, no graph, correct answers counted over every sample.")


def _offsets(x: torch.Tensor, out: torch.Tensor, max_shift: int) -> list[tuple[int, int] | None]:
    """For each image, a (dx, dy) within max_shift that turns x[i] into out[i], or None."""
    found = []
    moves = [(dx, dy) for dy in range(-max_shift, max_shift + 1) for dx in range(-max_shift, max_shift + 1)]
    for image, result in zip(x, out, strict=True):
        found.append(next((m for m in moves if torch.equal(shift(image, *m), result)), None))
    return found


@check
def check_random_shift(fn) -> bool:
    """fn(x, max_shift, generator) must move each image by its own random dx, dy, each within max_shift."""
    x = torch.randn(32, 3, 8, 8, generator=torch.Generator().manual_seed(6))
    original = x.clone()
    out = attempt(fn, x, 2, torch.Generator().manual_seed(0))
    if out is FAILED:
        return False
    if unanswered(out):
        return not_answered()
    if not torch.equal(x, original):
        return not_yet("your function changed the batch it was given: return a new tensor")
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return not_yet(f"expected a batch shaped like the input, {tuple(x.shape)}; got {shape}")
    found = _offsets(x, out, 2)
    offsets = [m for m in found if m is not None]
    if len(offsets) < len(found):
        return not_yet(
            "some images are not the input moved by at most max_shift pixels "
            "(the uncovered border filled with zeros): use ffnn_lab.shift on each image"
        )
    if len(set(offsets)) == 1:
        return not_yet("every image got the same shift: draw a new (dx, dy) for each image")
    if all(dx >= 0 and dy >= 0 for dx, dy in offsets) or all(dx <= 0 and dy <= 0 for dx, dy in offsets):
        return not_yet("the shifts only go one way: draw dx and dy from -max_shift to +max_shift")
    again = attempt(fn, x, 2, torch.Generator().manual_seed(0))
    if again is FAILED:
        return False
    if not torch.equal(out, again):
        return not_yet(
            "two runs with the same seeded generator differ: draw the shifts with "
            "the `generator` argument (e.g. torch.randint(..., generator=generator))"
        )
    still = attempt(fn, x, 0, torch.Generator().manual_seed(0))
    if still is FAILED:
        return False
    if not torch.equal(still, x):
        return not_yet("with max_shift=0 the images must stay where they are")
    return right("each image moved by its own random amount, both ways, repeatable from the seed.")
