"""Checks for notebook 04: a parameter count by hand, a batched softmax, argmax versus cost."""

from __future__ import annotations

import torch

from ..models import count_parameters, deep
from . import FAILED, attempt, check, not_yet, returned_nothing, right

SIZES = (3072, 1024, 512, 128, 2)


@check
def check_deep_parameters(count: int) -> bool:
    """count must be the number of parameters of the 3072-1024-512-128-2 network."""
    if isinstance(count, bool) or not isinstance(count, int):
        return not_yet(f"write a whole number (an int expression is fine), got {type(count).__name__}")
    want = count_parameters(deep())
    pairs = list(zip(SIZES, SIZES[1:]))
    weights = sum(a * b for a, b in pairs)
    if count == want:
        return right("weights a x b plus b biases for every Linear(a, b), over all four layers.")
    if count == weights:
        return not_yet("you counted the weights only: each Linear(a, b) also has b biases")
    if count == weights + sum(a for a, _ in pairs):
        return not_yet("each Linear(a, b) has one bias per OUTPUT unit (b), not per input")
    if count < want and any(count == want - a * b - b for a, b in pairs):
        return not_yet("one layer is missing: 3072-1024-512-128-2 has four Linear layers")
    return not_yet("off: count b x a weights plus b biases for each of the four Linear(a, b) layers")


@check
def check_softmax_rows(fn) -> bool:
    """fn(scores) on (N, C) scores must give each row's softmax, without overflowing."""
    scores = torch.randn(5, 3, generator=torch.Generator().manual_seed(5)) * 3
    for x, what in ((scores, "random scores"), (scores + 1000, "large scores (+1000)")):
        got = attempt(fn, x.clone())
        if got is FAILED:
            return False
        if got is None:
            return returned_nothing()
        if not isinstance(got, torch.Tensor):
            return not_yet(f"return a tensor, got {type(got).__name__}")
        if got.shape != x.shape:
            return not_yet(
                f"on {what} shaped {tuple(x.shape)} the result is shaped "
                f"{tuple(got.shape)}: one probability per score (keepdim=True helps)"
            )
        if not torch.isfinite(got).all():
            return not_yet(
                f"nan or inf on {what}: exp overflows; subtract each row's largest "
                "score first (it does not change the result)"
            )
        if torch.allclose(got.sum(dim=0), torch.ones(x.shape[1]), atol=1e-5):
            return not_yet("the columns add up to 1, not the rows: normalise along dim=1")
        if not torch.allclose(got.sum(dim=1), torch.ones(x.shape[0]), atol=1e-5):
            return not_yet(f"on {what} the rows do not add up to 1")
        if not torch.allclose(got, torch.softmax(x, dim=1), atol=1e-5):
            if torch.allclose(got, torch.softmax(x.flatten(), 0).view_as(x) * x.shape[0], atol=1e-4):
                return not_yet("divide each row by its own total, not by the whole batch's")
            return not_yet(f"rows add up to 1 on {what}, but the values are not softmax's")
    return right("each row exponentiated and divided by its own total, stable for large scores.")


@check
def check_argmax_answer(answer: str) -> bool:
    """answer: the letter of the choice about an untrained network's confident-looking output."""
    choice = str(answer).strip().lower().strip("()")
    if choice not in {"a", "b", "c"}:
        return not_yet("answer with one letter: 'a', 'b' or 'c'")
    if choice == "a":
        return not_yet(
            "softmax makes any scores look like probabilities; with random weights the 98% says "
            "nothing about the picture (compare the untrained accuracy measured above)"
        )
    if choice == "c":
        return not_yet("flipping the answer of a network with random weights is still a guess")
    return right(
        "the numbers only look like probabilities: they are as good as the model, and an "
        "untrained one guesses."
    )
