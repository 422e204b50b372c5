"""Checks for notebook 04: parameters counted by hand, a batched softmax, what an untrained
network's confidence is worth."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..models import count_parameters, deep
from .judge import Ban, call, check, fail, fresh, is_gap, not_written, numbers, right, show, whole
from .sealed import SEALED
from .written import Sealed, explanation_feedback, judge_choice

NO_SOFTMAX = Ban(
    "torch.softmax",
    torch_names=frozenset(
        {"softmax", "_softmax", "log_softmax", "special_softmax", "special_log_softmax", "softmin"}
    ),
)
NO_BUILDING = Ban(
    "nn.Linear or count_parameters (count the weights and biases yourself)",
    helpers=(nn.Linear.__init__, count_parameters),
)
UNTRAINED = Sealed("nb04.untrained-98", SEALED["nb04.untrained-98"])


def _linears(widths: list[int]) -> list[nn.Linear]:
    # on the meta device: the layers have shapes but no memory, so big widths cost nothing
    return [nn.Linear(a, b, device="meta") for a, b in zip(widths, widths[1:])]


def _count_mistake(count: int, widths: list[int]) -> str:
    """What a wrong parameter count for Linear layers between widths most likely missed."""
    layers = _linears(widths)
    weights = sum(layer.weight.numel() for layer in layers)
    if count == weights:
        return "you counted the weights only: each Linear(a, b) also has b biases"
    if count == weights + sum(layer.in_features for layer in layers):
        return "each Linear(a, b) has one bias per OUTPUT unit (b), not one per input"
    if count == weights + sum(widths):
        return "the inputs have no biases: only each layer's output units do"
    if count == sum(layer.in_features + layer.out_features for layer in layers) + sum(widths[1:]):
        return "a layer from a to b units has a x b weights (every input to every output), not a + b"
    full = count_parameters(nn.Sequential(*layers))
    if len(layers) > 1 and any(count == full - m.weight.numel() - m.bias.numel() for m in layers):
        return f"one layer is missing: {len(widths)} widths make {len(layers)} Linear layers"
    return "count b x a weights plus b biases for every Linear(a, b) between consecutive widths"


def _width_lists(rng: np.random.Generator) -> list[list[int]]:
    """Networks drawn now, plus one layer alone and a list with no layer at all."""
    drawn = [[int(w) for w in rng.integers(1, 4000, int(rng.integers(3, 7)))] for _ in range(3)]
    return [*drawn, [int(rng.integers(2, 100)), int(rng.integers(2, 100))], [int(rng.integers(2, 100))]]


def _judge_deep(deep_parameters: Any) -> None:
    if is_gap(deep_parameters):
        not_written()
    with torch.device("meta"):
        model = deep()
    widths = [3072] + [m.out_features for m in model if isinstance(m, nn.Linear)]
    count = whole(deep_parameters, "deep_parameters")
    if count != count_parameters(model):
        fail(f"deep_parameters is {count:,}: {_count_mistake(count, widths)}")


@check
def check_parameter_count(deep_parameters: Any, count_parameters_by_hand: Any) -> bool:
    """deep_parameters: the 3072-1024-512-128-2 network's count; count_parameters_by_hand(widths):
    the weights and biases of Linear layers between consecutive widths, for any widths."""
    _judge_deep(deep_parameters)
    _, rng = fresh()
    for widths in _width_lists(rng):
        shown = "-".join(map(str, widths))
        out = call(
            count_parameters_by_hand,
            list(widths),
            on=f"widths {widths}",
            without=NO_BUILDING,
            so_far="deep_parameters is right.",
        )
        count = whole(out, f"the count for {shown}")
        if count != count_parameters(nn.Sequential(*_linears(widths))):
            fail(f"for widths {widths} you gave {count:,}: {_count_mistake(count, widths)}")
    return right("a x b weights plus b biases per Linear(a, b), counted by hand and for any widths.")


def _score_batches(gen: torch.Generator) -> list[tuple[torch.Tensor, str]]:
    """Scores drawn now: random, huge, rows far apart from each other, one row spread from -1,000
    to +1,000 (subtracting its smallest score overflows), square, one row, float64."""
    n, c = int(torch.randint(2, 8, (1,), generator=gen)), int(torch.randint(2, 6, (1,), generator=gen))
    n += n == c  # a square batch comes later, on purpose
    scores = torch.randn(n, c, generator=gen) * 3
    offsets = torch.linspace(-1000, 1000, n).view(n, 1)
    square = torch.randn(c, c, generator=gen) * 3
    return [
        (scores, f"random scores shaped ({n}, {c})"),
        (scores + 1000, "scores near 1,000"),
        (scores + offsets, "rows far apart (one near -1,000, another near +1,000)"),
        (torch.linspace(-1000, 1000, c + 1).view(1, -1), "a row whose scores run from -1,000 to +1,000"),
        (square, f"a square batch shaped ({c}, {c})"),
        (torch.randn(1, c + 1, generator=gen), "one row"),
        (scores.double(), "float64 scores"),
    ]


def _judge_softmax(got: Any, x: torch.Tensor, what: str) -> None:
    found = numbers(got, "the result")
    if found.shape != tuple(x.shape):
        fail(f"on {what} the result is shaped {found.shape}: one probability per score (keepdim=True helps)")
    values = found.values
    if not np.isfinite(values).all():
        fail(
            f"nan or inf on {what}: exp overflows or 0 / 0 appears; subtract each row's OWN "
            "largest score first, max(dim=1, keepdim=True) (it does not change the result)"
        )
    x64 = x.double()
    scale = 1 + float(x64.abs().max())
    if found.close(torch.softmax(x64, dim=1).numpy(), scale):
        return
    rows = values.sum(axis=1)
    if x.shape[0] > 1 and found.close(torch.softmax(x64, dim=0).numpy(), scale):
        fail(f"on {what} the columns add up to 1, not the rows: normalise along dim=1")
    if not np.allclose(rows, 1, atol=1e-3):
        fail(f"on {what} your rows add up to {show(rows)}, not 1: divide each row by its own total")
    fail(f"on {what} your rows add up to 1, but the values are not each row's softmax")


@check
def check_softmax_rows(fn: Any) -> bool:
    """fn(scores) on (N, C) scores must give each row's softmax, by hand, without overflowing."""
    gen, _ = fresh()
    for x, what in _score_batches(gen):
        _judge_softmax(call(fn, x.clone(), on=what, without=NO_SOFTMAX), x, what)
    return right("each row exponentiated and divided by its own total, stable for large scores.")


@check
def check_argmax_answer(answer: Any, explanation: Any = ...) -> bool:
    """answer: the letter about an untrained network's confident-looking output; explanation:
    when the most likely label can be acted on."""
    chosen, why = judge_choice(UNTRAINED, answer, "abcd")
    return right(explanation_feedback(UNTRAINED, chosen, explanation, f"({chosen}) {why}"))
