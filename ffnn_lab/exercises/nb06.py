"""Checks for notebook 06 (training loop): batch sizes per epoch, the accuracy loop, random shifts."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler, TensorDataset

from ..tensors import shift
from .judge import call, check, fail, fresh, number, numbers, right, show


def _reference_sizes(n: int, b: int, drop_last: bool) -> list[int]:
    # the library's own batching: what a DataLoader over n samples hands out
    return [len(batch) for batch in BatchSampler(SequentialSampler(range(n)), b, drop_last)]


def _batch_cases(rng: np.random.Generator) -> list[tuple[int, int, bool]]:
    """(n_samples, batch_size, drop_last) drawn now, with the edges that teach: a last batch
    that is smaller, one that is full, fewer samples than one batch, batches of one."""
    b = int(rng.integers(3, 65))
    n = b * int(rng.integers(2, 40)) + int(rng.integers(1, b))
    full = b * int(rng.integers(1, 20))
    small = int(rng.integers(1, b))
    return [
        (n, b, False),
        (n, b, True),
        (full, b, False),
        (full, b, True),
        (small, b, False),
        (small, b, True),
        (small, 1, False),
    ]


def _brief(sizes: list[int]) -> str:
    if len(sizes) <= 6:
        return str(sizes)
    return f"{len(sizes)} batches [{sizes[0]}, {sizes[1]}, ..., {sizes[-2]}, {sizes[-1]}]"


def _judge_sizes(got: list[int], n: int, b: int, drop_last: bool) -> None:
    want = _reference_sizes(n, b, drop_last)
    if got == want:
        return
    what = f"for {n:,} samples in batches of {b}, drop_last={drop_last}, you gave {_brief(got)}"
    if got and got[-1] == 0:
        fail(f"{what}: a batch of 0 samples; when {b} divides {n:,} evenly there is no extra batch")
    if drop_last and n % b == 0 and got == want[:-1]:
        fail(
            f"{what}: {b} divides {n:,} evenly, so the last batch is full; drop_last drops only a smaller one"
        )
    if got == _reference_sizes(n, b, not drop_last):
        if drop_last:
            fail(f"{what}: with drop_last=True the last, smaller batch is dropped")
        fail(f"{what}: the last, smaller batch is a step too unless drop_last=True")
    if got and all(size == b for size in got) and n % b:
        fail(f"{what}: the last batch holds only the samples left over, fewer than {b}")
    if not drop_last and sum(got) != n:
        fail(f"{what}: the sizes add up to {sum(got):,}, but every sample is used once, {n:,} in all")
    fail(f"{what}: count how many full batches of {b} fit, then what is left over")


def _sizes(out: Any, what: str) -> list[int]:
    found = numbers(out, what)
    if found.values.ndim != 1:
        fail(
            f"return the list of batch sizes (its len is the number of steps); {what} is {show(found.values)}"
        )
    if np.any(found.values != np.round(found.values)):
        fail(f"batch sizes are whole numbers; {what} has {show(found.values)}")
    return [int(v) for v in found.values]


@check
def check_batch_sizes(fn: Any) -> bool:
    """fn(n_samples, batch_size, drop_last=False) must list the sizes of the batches a DataLoader
    hands out in one epoch (one optimiser step each)."""
    _, rng = fresh()
    cases = _batch_cases(rng)
    n, b, _ = cases[0]
    default = _sizes(call(fn, n, b, on=f"({n}, {b}) without drop_last"), "your list")
    if default != _reference_sizes(n, b, False):
        _judge_sizes(default, n, b, False)
    for n, b, drop_last in cases:
        got = _sizes(call(fn, n, b, drop_last, on=f"({n}, {b}, drop_last={drop_last})"), "your list")
        _judge_sizes(got, n, b, drop_last)
    return right("one batch per step, the last, smaller one included unless drop_last=True.")


class _Probe(nn.Module):
    """A tiny classifier with dropout that notes whether a forward pass recorded a graph: in
    training mode its dropout silences every input, so it answers class 0 to everything."""

    def __init__(self, n_classes: int) -> None:
        super().__init__()
        self.drop = nn.Dropout(p=1.0)
        self.linear = nn.Linear(n_classes, n_classes)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(n_classes))
            self.linear.bias.copy_(torch.eye(n_classes)[0] * 0.1)
        self.graph_recorded = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.graph_recorded |= torch.is_grad_enabled()
        # answered on the input's device, so a loop that moves batches to a GPU works as well
        return self.linear(self.drop(x.to(self.linear.weight.device))).to(x.device)


def _loader(gen: torch.Generator) -> tuple[DataLoader, dict[str, float], str]:
    """A loader drawn now, with its right accuracy and the accuracies of the usual slips; drawn
    again until they are all different numbers, so that each slip is told apart."""
    while True:
        b = int(torch.randint(3, 8, (1,), generator=gen))
        n = b * int(torch.randint(2, 5, (1,), generator=gen)) + int(torch.randint(1, b, (1,), generator=gen))
        x = torch.randn(n, 3, generator=gen)
        predicted = (x + torch.tensor([0.1, 0.0, 0.0])).argmax(dim=1)
        other = (predicted + torch.randint(1, 3, (n,), generator=gen)) % 3
        y = torch.where(torch.rand(n, generator=gen) < 0.6, predicted, other)
        hits = (predicted == y).float()
        batches = hits.split(b)
        accuracies = {
            "right": hits.mean().item(),
            "count": hits.sum().item(),
            "percent": 100 * hits.mean().item(),
            "batch mean": torch.stack([h.mean() for h in batches]).mean().item(),
            "no eval": (y == 0).float().mean().item(),
            "full batches": hits.sum().item() / (len(batches) * b),
            "last batch over all": batches[-1].sum().item() / n,  # a counter set, not added to
            "last batch": batches[-1].mean().item(),
        }
        values = sorted(accuracies.values())
        if all(b - a > 1e-3 for a, b in zip(values, values[1:])):
            sizes = ", ".join(str(len(h)) for h in batches)
            return (
                DataLoader(TensorDataset(x, y), batch_size=b),
                accuracies,
                f"{n} samples in batches of {sizes}",
            )


def _judge_accuracy(value: float, accuracies: dict[str, float], what: str) -> None:
    def near(key: str) -> bool:
        return abs(value - accuracies[key]) < 1e-4 * (1 + abs(accuracies[key]))

    if near("right"):
        return
    said = f"on {what} you gave {value:.4g}"
    if near("count"):
        fail(f"{said}: that is the number of correct answers; divide by the number of samples")
    if near("percent"):
        fail(f"{said}: a percentage; an accuracy here is a share between 0 and 1")
    if near("batch mean"):
        fail(
            f"{said}: the average of the batches' accuracies, but the last batch is smaller; count "
            "correct answers and samples over the whole loader, then divide once at the end"
        )
    if near("full batches"):
        fail(f"{said}: you divided by full batches; the last batch holds fewer samples")
    if near("last batch over all") or near("last batch"):
        fail(
            f"{said}: that counts the last batch only; add each batch's correct answers to a running "
            "total (`correct += ...`), not `correct = ...`"
        )
    if near("no eval"):
        fail(
            f"{said}: every sample got the same class, because the test model has dropout, which "
            "is active until you call model.eval()"
        )
    if not 0 <= value <= 1:
        fail(f"{said}: an accuracy lies between 0 and 1")
    fail(f"{said}: the prediction is the argmax over the classes (dim=1), compared with the labels")


@check
def check_accuracy(fn: Any) -> bool:
    """fn(model, loader) must be the share of samples whose argmax is the label, in eval mode, no graph."""
    gen, _ = fresh()
    for _ in range(2):
        loader, accuracies, what = _loader(gen)
        model = _Probe(3)
        out = call(fn, model, loader, on=what)
        _judge_accuracy(float(number(out, "the accuracy").values), accuracies, what)
        if model.graph_recorded:
            fail(
                "right number, but the forward passes recorded a graph for backward: wrap the "
                "loop in `with torch.no_grad():`, nothing is trained here"
            )
    return right("eval mode, no graph, correct answers counted over every sample.")


def _moves(m: int) -> list[tuple[int, int]]:
    return [(dx, dy) for dy in range(-m, m + 1) for dx in range(-m, m + 1)]


def _same(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per image, whether a and b hold the same values (to float round-off, so a shift made by
    interpolating at whole pixels counts)."""
    return torch.isclose(a, b, rtol=1e-5, atol=1e-5).flatten(1).all(dim=1)


def _offsets(x: torch.Tensor, out: torch.Tensor, m: int) -> list[tuple[int, int] | None]:
    """For each image, the (dx, dy) within m that turns x[i] into out[i], or None. A few pixels
    name each image's candidate move cheaply; the whole image then confirms it."""
    n, channels, h, w = x.shape
    probe = torch.Generator().manual_seed(0)
    c, r, col = (torch.randint(0, size, (96,), generator=probe) for size in (channels, h, w))
    seen = out[:, c, r, col]
    candidate: list[tuple[int, int] | None] = [None] * n
    for dx, dy in _moves(m):
        rows, cols = r - dy, col - dx
        inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        moved = x[:, c, rows.clamp(0, h - 1), cols.clamp(0, w - 1)] * inside
        for i in _same(moved, seen).nonzero().flatten().tolist():
            candidate[i] = candidate[i] or (dx, dy)
    found: list[tuple[int, int] | None] = [None] * n
    for move in {c for c in candidate if c is not None}:
        idx = [i for i in range(n) if candidate[i] == move]
        confirmed = _same(shift(x[idx], *move), out[idx]).tolist()
        for i, ok in zip(idx, confirmed):
            found[i] = move if ok else None
    return found


def _unmatched_reason(x: torch.Tensor, out: torch.Tensor, m: int) -> str:
    """Why some images are not the input moved by at most m pixels."""

    def all_match(candidates: list[torch.Tensor]) -> bool:
        return bool(torch.stack([_same(c, out) for c in candidates]).any(dim=0).all())

    shifted = [shift(x, *move) for move in _moves(m)]
    if all_match(shifted + [s.flip(-1) for s in shifted]):
        return "some images are mirrored left-right: this exercise asks for shifts only (no flips)"
    if all_match([x.roll((dy, dx), dims=(-2, -1)) for dx, dy in _moves(m)]):
        return (
            "the pixels that leave one side come back on the other (roll): the uncovered border "
            "must be filled with zeros, as ffnn_lab.shift does"
        )
    if all_match([shift(x, *move) for move in _moves(m + 3)]):
        return f"some images moved by more than max_shift = {m} pixels"
    return (
        "some images are not their input moved by at most max_shift pixels with the uncovered "
        "border filled with zeros: use ffnn_lab.shift(image, dx, dy) on each image"
    )


def _shifted(fn: Any, x: torch.Tensor, m: int, seed: int) -> torch.Tensor:
    out = call(
        fn, x, m, torch.Generator().manual_seed(seed), on=f"a batch shaped {tuple(x.shape)}, max_shift={m}"
    )
    if not isinstance(out, torch.Tensor):
        fail(f"return a tensor (a batch for the model), not a {type(out).__name__}")
    if tuple(out.shape) != tuple(x.shape):
        fail(f"expected a batch shaped like the input, {tuple(x.shape)}; yours is {tuple(out.shape)}")
    return out.detach().cpu().to(x.dtype)


def _judge_draws(moves: list[tuple[int, int]], m: int) -> None:
    """Every (dx, dy) within m drawn, for each image on its own, not in a fixed pattern."""
    combos = len(set(moves))
    if combos == 1:
        none = ", (0, 0): no image moved" if moves[0] == (0, 0) else ""
        fail(f"every image got the same shift{none}; draw a new (dx, dy) for each image")
    # before the counts below: a shift shared by whole groups also leaves combinations out
    repeats = sum(a == b for a, b in zip(moves, moves[1:]))
    if repeats > len(moves) * (3 / combos + 0.05):  # drawn independently: about 1 in `combos`
        fail(
            f"over {len(moves)} images, {repeats} take the same shift as the image before them: "
            "draw a new shift for every image, not one per group"
        )
    for axis, name in ((0, "dx"), (1, "dy")):
        drawn = {move[axis] for move in moves}
        missing = sorted(set(range(-m, m + 1)) - drawn)
        if missing:
            hint = " (torch.randint's upper bound is left out: use max_shift + 1)" if missing == [m] else ""
            fail(f"over {len(moves)} images {name} never takes the value(s) {missing}{hint}")
    if combos < (2 * m + 1) ** 2:
        fail(
            f"over {len(moves)} images only {combos} of the {(2 * m + 1) ** 2} combinations (dx, dy) "
            "occur: draw dx and dy separately"
        )
    pairs = len(set(zip(moves, moves[1:])))
    if pairs < len(moves) // 4:
        fail(
            "the shifts follow a fixed pattern from one image to the next: draw each image's "
            "shift at random, with the generator"
        )


@check
def check_random_shift(fn: Any) -> bool:
    """fn(x, max_shift, generator) must move each image by its own random dx, dy in [-max_shift,
    max_shift], zero-filled, and repeat exactly for the same generator state."""
    gen, rng = fresh()
    seed = int(rng.integers(2**31))
    for m, n in ((2, 400), (1, 150)):
        x = torch.randn(n, 3, 32, 32, generator=gen)
        out = _shifted(fn, x, m, seed)
        moves = _offsets(x, out, m)
        if any(move is None for move in moves):
            fail(_unmatched_reason(x, out, m))
        _judge_draws([move for move in moves if move is not None], m)
        if not torch.equal(_shifted(fn, x, m, seed), out):
            fail(
                "two runs with the same seeded generator differ: draw the shifts with the "
                "`generator` argument (e.g. torch.randint(..., generator=generator))"
            )
        if torch.equal(_shifted(fn, x, m, seed + 1), out):
            fail("two differently seeded generators give the same shifts: draw them with `generator`")
    x = torch.randn(5, 3, 32, 32, generator=gen)
    if not torch.equal(_shifted(fn, x, 0, seed), x):
        fail("with max_shift=0 the images must stay where they are")
    return right("each image moved by its own random amount, every shift drawn, repeatable from the seed.")
