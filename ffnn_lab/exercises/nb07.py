"""Checks for notebook 07: the weights that look at one pixel, reading a confusion matrix, a
decision with unequal costs."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .judge import Numbers, answered, call, check, fail, fresh, number, numbers, right
from .sealed import SEALED
from .written import Sealed, explanation_feedback

SIDE, CHANNELS = 32, 3
THRESHOLD = Sealed("nb07.threshold", SEALED["nb07.threshold"])
MISSED_BIRD, FALSE_ALARM = 9, 1  # the costs the exercise states


def _probe_pixel(layer: nn.Linear, row: int, col: int) -> np.ndarray:
    """The weights with which each unit sees pixel (row, col), found by showing the layer one
    lit pixel per colour: (out_features, 3)."""
    dots = torch.zeros(CHANNELS, CHANNELS, SIDE, SIDE)
    for c in range(CHANNELS):
        dots[c, c, row, col] = 1.0
    with torch.no_grad():
        return (layer(dots.flatten(1)) - layer.bias).T.double().numpy()


def _layer(gen: torch.Generator) -> nn.Linear:
    units = int(torch.randint(4, 20, (1,), generator=gen))  # never 3: (units, 3) is then not square
    layer = nn.Linear(CHANNELS * SIDE * SIDE, units)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(units, CHANNELS * SIDE * SIDE, generator=gen))
        layer.bias.copy_(torch.randn(units, generator=gen))
    return layer


def _judge_pixel(found: Numbers, layer: nn.Linear, row: int, col: int) -> None:
    want = _probe_pixel(layer, row, col)
    units = layer.out_features
    what = f"for pixel (row {row}, column {col}) of a layer with {units} units"
    if found.shape == (CHANNELS, units) and units != CHANNELS:
        fail(
            f"{what} your result is shaped {found.shape}: one row per unit, one column per colour, "
            f"({units}, 3)"
        )
    if found.shape != want.shape:
        fail(f"{what} expected one weight per unit and colour, shape ({units}, 3); yours is {found.shape}")
    if found.close(want):
        return
    weights = layer.weight.detach().double()
    colour_last = weights[:, [(row * SIDE + col) * CHANNELS + c for c in range(CHANNELS)]].numpy()
    mistakes = [
        (
            _probe_pixel(layer, col, row),
            "row and column are swapped: in a (3, 32, 32) picture the row comes first",
        ),
        (
            colour_last,
            "those are the weights for pictures stored (32, 32, 3), colour last; ours are (3, 32, 32)",
        ),
        (
            want + layer.bias.detach().double().numpy()[:, None],
            "the bias belongs to the unit, not to the pixel",
        ),
    ]
    for value_if, reason in mistakes:
        if found.close(value_if):
            fail(f"{what}: {reason}")
    fail(f"{what} these are not the weights that multiply its red, green and blue values")


@check
def check_pixel_weights(fn: Any) -> bool:
    """fn(layer, row, col) must give, for each unit of a Linear(3072, units) layer, its three
    weights on the red, green and blue values of pixel (row, col) of a (3, 32, 32) picture."""
    gen, rng = fresh()
    row, col = (int(v) for v in rng.choice(SIDE, 2, replace=False))
    for r, c in ((row, col), (0, SIDE - 1), (SIDE - 1, int(rng.integers(1, SIDE - 1)))):
        layer = _layer(gen)
        out = call(fn, layer, r, c, on=f"pixel (row {r}, column {c})")
        _judge_pixel(numbers(out, "the weights"), layer, r, c)
    return right(
        "every pixel has its own three weights in every unit, so a pattern learnt at one "
        "place says nothing about the next pixel."
    )


def _shares(matrix: torch.Tensor) -> np.ndarray:
    """(accuracy, birds recognised, airplanes called birds), from one (truth, answer) pair per
    image rebuilt from the counts: rows are the truth, columns the answer."""
    counts = matrix.flatten().long()
    truth = torch.tensor([0, 0, 1, 1]).repeat_interleave(counts)
    answer = torch.tensor([0, 1, 0, 1]).repeat_interleave(counts)
    return np.array(
        [
            (answer == truth).double().mean().item(),
            (answer[truth == 1] == 1).double().mean().item(),
            (answer[truth == 0] == 1).double().mean().item(),
        ]
    )


NAMES = ("accuracy", "birds_recognised", "airplanes_called_birds")


def _share_mistake(value: float, name: str, index: int, matrix: torch.Tensor) -> str:
    """Why one share read off matrix is wrong."""
    want = _shares(matrix)[index]
    swapped = _shares(matrix.T)[index]
    total = float(matrix.sum())
    if np.isclose(value, 100 * want):
        return f"{name} = {value:g} is a percentage: give a share between 0 and 1"
    if value > 1 and np.isclose(value, round(value)):
        return f"{name} = {value:g} is a count: divide it by the right number of images"
    if value == 0 and want > 0:
        return f"{name} = 0: a whole-number division (// or ints) rounds a share down; divide as floats"
    if abs(value - round(want, 1)) < 1e-6:
        return f"{name} = {value:g} is rounded to one decimal: keep at least two"
    if index == 0 and np.isclose(value, 1 - want):
        return "accuracy: that is the share of mistakes (off the diagonal); accuracy is the share on it"
    if index > 0 and np.isclose(value, float(matrix[1, 1] if index == 1 else matrix[0, 1]) / total):
        kind = "birds" if index == 1 else "airplanes"
        return f"{name}: divide by the number of true {kind} (their row), not by all images"
    if index > 0 and np.isclose(value, swapped):
        return f"{name}: rows are the truth and columns the answer; you read them the other way round"
    if index == 2 and np.isclose(value, float(matrix[1, 0] / matrix[1].sum())):
        return f"{name}: that is the share of birds called airplanes; the true airplanes are the first row"
    if index == 2 and np.isclose(value, 1 - want):
        return f"{name}: that is the share of airplanes recognised; count those the model called bird"
    if index == 1 and np.isclose(value, 1 - want):
        return f"{name}: that is the share of birds called airplanes; count those the model called bird"
    return f"{name} = {value:.4g}: find the row of the true class and the column of the answer"


def _read_right(value: float, want: float) -> bool:
    """A share read right: exact to round-off, or rounded to two, three or four decimals (either way
    at a half: 894/1200 is 0.745 in float64 but a little more in float32, so 0.74 and 0.75 are right)."""
    return bool(np.isclose(value, want, rtol=1e-5, atol=1e-7)) or any(
        abs(value - round(value, digits)) < 1e-6 and abs(value - want) <= 10.0**-digits / 2 + 1e-6
        for digits in range(2, 5)
    )


def _matrices(gen: torch.Generator, given: Any) -> list[torch.Tensor]:
    drawn = [torch.randint(5, 900, (2, 2), generator=gen) for _ in range(2)]
    return [*drawn, torch.as_tensor(given)] if given is not None else drawn


@check
def check_confusion_reading(fn: Any, matrix: Any = None) -> bool:
    """fn(matrix) must return (accuracy, birds_recognised, airplanes_called_birds) read off a 2x2
    confusion matrix whose rows are the truth and columns the answer."""
    gen, _ = fresh()
    for m in _matrices(gen, matrix):
        out = call(fn, m.clone(), on=f"the matrix {m.tolist()}")
        found = numbers(out, "your three shares")
        if found.values.size != 3:
            fail(f"return three numbers: {', '.join(NAMES)}; you returned {found.values.size}")
        for index, (name, value) in enumerate(zip(NAMES, found.values.ravel())):
            if not _read_right(float(value), _shares(m)[index]):
                fail(f"on the matrix {m.tolist()}: {_share_mistake(float(value), name, index, m)}")
    return right("rows are the truth, columns the answer, and each class's share is divided by its row.")


def _costs(
    p: torch.Tensor, is_bird: torch.Tensor, t: float, miss: float = MISSED_BIRD, alarm: float = FALSE_ALARM
) -> float:
    said = (p > t).long()
    counts = torch.bincount(is_bird * 2 + said, minlength=4).double()  # (truth, call) pairs
    return ((miss * counts[2] + alarm * counts[1]) / len(p)).item()


def _cost_slips(p: torch.Tensor, is_bird: torch.Tensor, t: float) -> list[tuple[float, str]]:
    """The mean cost the usual slips give, with what each one missed."""
    return [
        (_costs(p, is_bird, t) * len(p), "that is the total cost; the mean is per image"),
        (
            _costs(p, is_bird, t, FALSE_ALARM, MISSED_BIRD),
            "the costs are swapped: a MISSED bird costs 9, a false alarm 1",
        ),
        (_costs(p, is_bird, t, 1, 1), "that counts mistakes; weigh each one by its cost"),
        (
            _costs(-p, is_bird, -t),
            "the call is the wrong way round: say bird when p(bird) is ABOVE the threshold",
        ),
        (
            _costs(p, is_bird, 0.5),
            "the threshold is not used: you called bird from p(bird) > 0.5 whatever it is",
        ),
    ]


def _cost_cases(gen: torch.Generator) -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    """Validation-like (p_bird, is_bird) drawn now, judged at several thresholds: well below one
    half, well above, and just below. No p equals a threshold (so > and >= make the same calls),
    and no two slips give the same cost, so each one is told apart; drawn again until so."""
    while True:
        n = int(torch.randint(40, 100, (1,), generator=gen))
        is_bird = torch.randint(0, 2, (n,), generator=gen)
        p = (torch.rand(n, generator=gen) * 0.98 + 0.01).round(decimals=3)
        draws = [float(torch.rand(1, generator=gen)) for _ in range(3)]
        spans = ((0.05, 0.25), (0.6, 0.35), (0.33, 0.12))
        thresholds = [round(a + b * draw, 2) + 0.0005 for (a, b), draw in zip(spans, draws)]
        apart = True
        for t in thresholds[:2]:  # just below one half, the argmax slip may well agree
            values = sorted([_costs(p, is_bird, t)] + [v for v, _ in _cost_slips(p, is_bird, t)])
            apart &= all(b - a > 1e-3 for a, b in zip(values, values[1:]))
        if apart:
            return [(p, is_bird, t) for t in thresholds]


def _judge_cost(value: Numbers, p: torch.Tensor, is_bird: torch.Tensor, t: float) -> None:
    if value.close(_costs(p, is_bird, t)):
        return
    said = f"on {len(p)} images at threshold {t:g} you gave {float(value.values):.4g}"
    for value_if, reason in _cost_slips(p, is_bird, t):
        if value.close(value_if):
            fail(f"{said}: {reason}")
    fail(f"{said}: a missed bird (a bird called airplane) costs 9, a false alarm 1; average over the images")


@check
def check_decision(threshold: Any, mean_cost: Any = ..., explanation: Any = ...) -> bool:
    """threshold: p(bird) above which saying bird is cheaper when a missed bird costs 9 false
    alarms; mean_cost(p_bird, is_bird, threshold): the average cost per image of that rule."""
    value = number(answered(threshold), "threshold")
    entry = THRESHOLD.entry(float(value.values))
    if entry is None:
        fail(
            f"threshold = {float(value.values):.4g}: write down the expected cost of each answer "
            "as a function of p = p(bird), 9p and 1 - p, and find where they are equal"
        )
    if not entry["right"]:
        fail(f"threshold = {float(value.values):.4g}: {entry['why']}")
    gen, _ = fresh()
    for p, is_bird, t in _cost_cases(gen):
        out = call(
            mean_cost,
            p.clone(),
            is_bird.clone(),
            t,
            on=f"{len(p)} images at threshold {t:g}",
            so_far="threshold is right.",
        )
        _judge_cost(number(out, "the mean cost"), p, is_bird, t)
    praise = f"threshold: {entry['why']} mean_cost weighs each mistake by its cost."
    return right(explanation_feedback(THRESHOLD, float(value.values), explanation, praise))
