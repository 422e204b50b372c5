"""Checks for notebook 03: the label-map trap, a Subset by targets, class balance."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..data import cifar2_indices
from . import FAILED, attempt, check, not_yet, returned_nothing, right

AIRPLANE, AUTOMOBILE, BIRD = 0, 1, 2


def _positions(value) -> list[int] | None:
    """value as a list of ints, or None when it is not a sequence of whole numbers."""
    try:
        items = value.tolist() if hasattr(value, "tolist") else list(value)
    except TypeError:
        return None
    if not all(isinstance(i, int | np.integer) and not isinstance(i, bool) for i in items):
        return None
    return [int(i) for i in items]


@check
def check_label_trap(kept: Sequence[int], targets: Sequence[int]) -> bool:
    """kept: the positions a naive map (only birds 2 -> 1) lets through a filter on {0, 1}."""
    positions = _positions(kept)
    if positions is None:
        return not_yet("kept should be a list of positions (ints) in the dataset")
    if len(set(positions)) != len(positions):
        return not_yet("some positions appear twice: keep each picture once")
    labels = np.asarray(targets)
    if any(not 0 <= p < len(labels) for p in positions):
        return not_yet("some positions are outside the dataset")
    found = set(labels[positions].tolist()) if positions else set()
    if found - {AIRPLANE, AUTOMOBILE, BIRD}:
        return not_yet(
            "classes other than airplane, automobile and bird got in: filter on the "
            "labels after the naive map, {0, 1}"
        )
    wanted = set(np.flatnonzero(np.isin(labels, [AIRPLANE, AUTOMOBILE, BIRD])).tolist())
    if set(positions) == set(np.flatnonzero(np.isin(labels, [AIRPLANE, BIRD])).tolist()):
        return not_yet(
            "no automobile slipped in: did you use the course's map (which moves them "
            "to 2)? The exercise asks for the naive map that moves only the birds"
        )
    if set(positions) != wanted:
        missing = sorted({AIRPLANE, AUTOMOBILE, BIRD} - found) or "some pictures"
        return not_yet(f"some positions that pass the filter are missing (classes: {missing})")
    return right("every automobile slipped in, each one now passing for a bird.")


@check
def check_cifar2_positions(fn) -> bool:
    """fn(targets) must list, in order, the positions whose original label is airplane or bird."""
    rng = np.random.default_rng(4)
    cases = [[0, 1, 2, 3, 2, 0, 9, 1], [5, 6, 7], list(rng.integers(0, 10, 200))]
    for targets in cases:
        got = attempt(fn, [int(t) for t in targets])
        if got is FAILED:
            return False
        if got is None:
            return returned_nothing()
        positions = _positions(got)
        if positions is None:
            return not_yet(f"return a list of positions (ints), got {type(got).__name__}")
        want = cifar2_indices(targets)
        if positions == want:
            continue
        if sorted(positions) == want:
            return not_yet("right positions, wrong order: keep them in dataset order")
        labels = {int(targets[p]) for p in positions if 0 <= p < len(targets)}
        if AUTOMOBILE in labels:
            return not_yet(
                "automobiles got in: targets holds the ORIGINAL labels (the map only "
                "runs when an item is fetched), so birds are still 2 there"
            )
        if positions and set(positions) <= set(want):
            return not_yet("some airplanes or birds are missing")
        return not_yet("some positions hold neither an airplane nor a bird, or are not positions")
    return right("positions read from the original labels, no picture decoded.")


@check
def check_majority_accuracy(fn, cifar2_labels: torch.Tensor) -> bool:
    """fn(labels) must be the accuracy of always answering the most frequent label."""
    cases = [torch.tensor([0] * 9 + [1]), torch.tensor([1, 1, 0, 2, 1, 2]), cifar2_labels]
    for labels in cases:
        got = attempt(fn, labels.clone())
        if got is FAILED:
            return False
        if got is None:
            return returned_nothing()
        try:
            value = float(got)
        except (TypeError, ValueError, RuntimeError):
            return not_yet(f"return one number between 0 and 1, got {type(got).__name__}")
        counts = torch.bincount(labels)
        want = counts.max().item() / len(labels)
        if abs(value - want) < 1e-6:
            continue
        if abs(value - counts.max().item()) < 1e-6:
            return not_yet("that is a count: divide by the number of labels to get an accuracy")
        if abs(value - counts.min().item() / len(labels)) < 1e-6:
            return not_yet("that is the share of the rarest label: the model answers the most frequent")
        return not_yet("off: the model is right exactly on the pictures of its (most frequent) label")
    return right(
        "a model that always answers the majority class scores its share, so on a "
        "balanced CIFAR-2 the bar to beat is a coin flip."
    )
