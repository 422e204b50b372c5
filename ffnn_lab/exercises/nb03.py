"""Checks for notebook 03: the label-map trap, CIFAR-2 picked from its labels, the score to beat."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import torch

from ..data import cifar2_indices
from ..labels import CLASSES
from .answers import fingerprint
from .judge import Ban, call, check, fail, fresh, number, numbers, right, show

# the classes the naive map lets through, fingerprinted (see answers.py)
NAIVE_KEPT = frozenset({"09f0ed5ad9fc7b35", "3521cf129e8a3aa8", "3e91220f03cb8562"})
NO_CIFAR2_INDICES = Ban("ffnn_lab.cifar2_indices (write the filter yourself)", helpers=(cifar2_indices,))


def _positions(value: Any, n: int, what: str) -> list[int]:
    """An answer's positions as ints, ending the check when they are not positions into n labels."""
    found = numbers(value, what)
    if found.values.ndim != 1:
        fail(f"{what} should be a flat list of positions, but it has shape {found.shape}")
    values = found.values
    if np.any(values != np.round(values)):
        fail(f"{what} should be whole numbers (positions), but some have fractions")
    if len(values) == n and n > 2 and set(values.tolist()) <= {0.0, 1.0}:
        fail(
            f"you returned one True/False or 0/1 per label ({n} of them): that is a mask; return "
            "the positions themselves, e.g. with a list comprehension over enumerate(targets)"
        )
    positions = [int(v) for v in values]
    if len(set(positions)) != len(positions) and max(positions) < len(CLASSES):
        fail(f"{what} repeat small numbers: are those labels? Return the positions of the pictures")
    if len(set(positions)) != len(positions):
        fail(f"some positions appear twice in {what}: keep each picture once")
    if any(not 0 <= p < n for p in positions):
        fail(f"some of {what} lie outside the {n} labels: positions run from 0 to {n - 1}")
    return positions


def _where(targets: list[int], classes: set[int]) -> set[int]:
    return {i for i, t in enumerate(targets) if t in classes}


def _naive_lists(rng: np.random.Generator) -> list[list[int]]:
    """Labels drawn now: every class, then no automobile, then animals only."""
    mixed = rng.permutation(list(range(10)) + rng.integers(0, 10, int(rng.integers(30, 80))).tolist())
    return [mixed.tolist(), [t for t in mixed.tolist() if t != 1], [t for t in mixed.tolist() if t > 2]]


def _judge_kept(kept: set[int], targets: list[int], passing: set[int]) -> None:
    if kept == _where(targets, passing):
        return
    what = f"on {len(targets)} labels"
    if kept == _where(targets, {0, 2}) and kept != _where(targets, passing):
        fail(
            f"{what} you kept exactly the airplanes and birds: that is the right CIFAR-2 filter, "
            "but the exercise asks what the naive map {2: 1} lets through a filter on {0, 1}"
        )
    if kept == _where(targets, {0, 1}):
        fail(f"{what} no bird got in: apply the naive map to each label first (birds become 1), then filter")
    extra = sorted({targets[i] for i in kept} - passing)
    if extra:
        fail(
            f"{what} pictures of class {extra[0]} ({CLASSES[extra[0]]}) got in: after the naive "
            "map their label is neither 0 nor 1"
        )
    missing = sorted({targets[i] for i in _where(targets, passing) - kept})
    fail(f"{what} some pictures that pass the filter are missing (class {missing[0]}, {CLASSES[missing[0]]})")


@check
def check_label_trap(fn: Any) -> bool:
    """fn(targets): the positions a naive map (only birds 2 -> 1) lets through a filter on {0, 1}."""
    passing = {c for c in range(len(CLASSES)) if fingerprint("nb03.naive-kept", c) in NAIVE_KEPT}
    _, rng = fresh()
    for targets in _naive_lists(rng):
        out = call(fn, list(targets), on=f"a list of {len(targets)} labels")
        _judge_kept(set(_positions(out, len(targets), "the positions")), targets, passing)
    return right("every automobile slipped in, each one now passing for a bird.")


def _cifar2_lists(rng: np.random.Generator) -> list[list[int]]:
    """Labels drawn now, then an empty list and one with neither airplanes nor birds."""
    drawn = rng.integers(0, 10, int(rng.integers(30, 120))).tolist() + [0, 1, 2]
    return [drawn, [], [t for t in drawn if t not in (0, 2)] or [5]]


@check
def check_cifar2_positions(fn: Any) -> bool:
    """fn(targets) must list, in order, the positions whose original label is airplane or bird."""
    _, rng = fresh()
    for targets in _cifar2_lists(rng):
        out = call(fn, list(targets), on=f"a list of {len(targets)} labels", without=NO_CIFAR2_INDICES)
        positions = _positions(out, len(targets), "the positions")
        want = cifar2_indices(targets) if targets else []
        if positions == want:
            continue
        what = f"on {len(targets)} labels"
        if sorted(positions) == want:
            fail(f"{what} you have the right positions in another order: keep them in dataset order")
        if 1 in {targets[p] for p in positions}:
            fail(
                f"{what} automobiles got in: targets holds the ORIGINAL labels (the map only runs "
                "when an item is fetched), so birds are still 2 there"
            )
        if [p + 1 for p in want] == positions:
            fail(f"{what} your positions are one too high: positions start at 0")
        if set(positions) < set(want):
            fail(f"{what} some airplanes or birds are missing ({len(want) - len(positions)} of {len(want)})")
        fail(f"{what} some of your positions hold neither an airplane nor a bird")
    return right("positions read from the original labels, no picture decoded.")


def _majority_cases(gen: torch.Generator, cifar2_labels: torch.Tensor) -> list[torch.Tensor]:
    """Label sets drawn now: most frequent class 0, then 2 with no 0 at all, then one class
    only, and the real CIFAR-2 labels. 23 and 17 labels: no share of them is a half or a third,
    so a slip cannot land on another slip's number."""
    first = torch.cat([torch.zeros(9, dtype=torch.long), torch.randint(0, 3, (14,), generator=gen)])
    second = torch.cat([torch.full((8,), 2), torch.randint(1, 3, (9,), generator=gen)])
    only = torch.full(
        (int(torch.randint(1, 6, (1,), generator=gen)),), int(torch.randint(0, 2, (1,), generator=gen))
    )
    cases = [
        first[torch.randperm(len(first), generator=gen)],
        second[torch.randperm(len(second), generator=gen)],
    ]
    return [*cases, only, torch.as_tensor(cifar2_labels).long()]


@check
def check_majority_accuracy(fn: Any, cifar2_labels: torch.Tensor) -> bool:
    """fn(labels) must be the accuracy of always answering the most frequent label."""
    gen, _ = fresh()
    for labels in _majority_cases(gen, cifar2_labels):
        n = len(labels)
        got = number(call(fn, labels.clone(), on=f"{n} labels"), "the accuracy")
        counts = Counter(labels.tolist())
        majority, top = counts.most_common(1)[0]
        if got.close(top / n):
            continue
        value = float(got.values)
        sizes = show(sorted(counts.values(), reverse=True))
        what = f"on {n} labels ({sizes} of each class) you gave {value:.4g}"
        if got.close(top):
            fail(f"{what}: that is a count; divide by the number of labels to get an accuracy")
        if got.close(100 * top / n):
            fail(f"{what}: a percentage; an accuracy here is a share between 0 and 1")
        label_itself = f"the majority label itself ({majority}) over {n}; count the labels equal to it"
        if majority > 0 and got.close(majority / n) and majority != min(counts.values()):
            fail(f"{what}: that is {label_itself}")
        if got.close(min(counts.values()) / n):
            fail(f"{what}: that is the share of the rarest label; the model answers the most frequent")
        if got.close(0.0):
            also = f", or it is {label_itself}" if majority == 0 else ""
            fail(f"{what}: a whole-number division (// or ints) rounds the share down to 0{also}")
        if got.close(1 / len(counts)):
            fail(f"{what}: one over the number of classes assumes they are balanced; count them")
        fail(f"{what}: the model is right exactly on the pictures of its one answer, the most frequent label")
    return right(
        "a model that always answers the majority class scores its share, so on a balanced "
        "CIFAR-2 the bar to beat is a coin flip."
    )
