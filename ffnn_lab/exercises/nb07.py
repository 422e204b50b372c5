"""Checks for notebook 07: parameter counts, reading a confusion matrix, a decision with unequal costs."""

from __future__ import annotations

import math

import torch

from . import FAILED, attempt, check, not_answered, not_yet, right, unanswered

# A bird-strike warning system: missing a bird costs this many times a false alarm.
MISS_COST = 9


@check
def check_parameter_count(fn) -> bool:
    """fn(widths) must count the weights and biases of Linear layers between consecutive widths."""
    for widths in ([3072, 512, 2], [3072, 1024, 512, 128, 2], [4, 3], [5, 7, 1]):
        out = attempt(fn, list(widths))
        if out is FAILED:
            return False
        if unanswered(out):
            return not_answered()
        pairs = list(zip(widths, widths[1:], strict=False))
        weights = sum(a * b for a, b in pairs)
        expected = weights + sum(widths[1:])
        if out == expected:
            continue
        label = "-".join(map(str, widths))
        if out == weights:
            return not_yet(
                f"{label}: you counted the weights only; every output unit of a layer also has a bias"
            )
        if out == weights + sum(widths):
            return not_yet(
                f"{label}: one bias too many per input: biases belong to each "
                "layer's OUTPUT units, so the 3,072 inputs have none"
            )
        if out == sum(a + b for a, b in pairs) or out == sum(a + b for a, b in pairs) + sum(widths[1:]):
            return not_yet(
                f"{label}: a layer from a to b units has a x b weights (every input "
                "to every output), not a + b"
            )
        return not_yet(
            f"{label}: wrong total; add a x b weights plus b biases for each pair of consecutive widths"
        )
    return right("a x b weights plus b biases per layer, summed over the layers.")


def _fraction(value) -> float:
    return float(torch.as_tensor(value, dtype=torch.float64).reshape(()))


@check
def check_confusion_reading(accuracy, birds_recognised, airplanes_called_birds, matrix) -> bool:
    """Three numbers read off a 2x2 confusion matrix (rows = truth, columns = prediction)."""
    if unanswered(birds_recognised) or unanswered(airplanes_called_birds):
        return not_answered()
    m = torch.as_tensor(matrix, dtype=torch.float64)
    values = {
        "accuracy": _fraction(accuracy),
        "birds_recognised": _fraction(birds_recognised),
        "airplanes_called_birds": _fraction(airplanes_called_birds),
    }
    for name, value in values.items():
        if value > 1:
            return not_yet(
                f"{name} = {value:g}: give a fraction between 0 and 1, not a percentage or a count"
            )

    def near(a: float, b: torch.Tensor) -> bool:
        return math.isclose(a, float(b), abs_tol=3e-3)  # answers rounded to two decimals pass

    total = m.sum()
    if near(values["accuracy"], (m[0, 1] + m[1, 0]) / total):
        return not_yet(
            "accuracy: that is the share of mistakes (off the diagonal); accuracy is "
            "the share on the diagonal"
        )
    if not near(values["accuracy"], m.trace() / total):
        return not_yet("accuracy: the right answers are on the diagonal; divide by all images")
    if near(values["birds_recognised"], m[1, 1] / m[:, 1].sum()):
        return not_yet(
            "birds_recognised: you divided by a COLUMN (all 'bird' answers); rows are "
            "the truth, so divide by the number of true birds"
        )
    if near(values["birds_recognised"], m[1, 1] / total):
        return not_yet("birds_recognised: divide by the number of true birds (their row), not by all images")
    if not near(values["birds_recognised"], m[1, 1] / m[1].sum()):
        return not_yet("birds_recognised: find the row of the true birds and the column of the answer 'bird'")
    if near(values["airplanes_called_birds"], m[1, 0] / m[1].sum()):
        return not_yet(
            "airplanes_called_birds: that is birds called airplanes; rows are the truth, columns the answer"
        )
    if not near(values["airplanes_called_birds"], m[0, 1] / m[0].sum()):
        return not_yet(
            "airplanes_called_birds: the share of the true airplanes (their row) that got the answer 'bird'"
        )
    return right("rows are the truth, columns the answer, and each share is divided by its row.")


@check
def check_decision(threshold, answer) -> bool:
    """The p(bird) above which a system whose missed bird costs MISS_COST false alarms says 'bird'."""
    if unanswered(answer):
        return not_answered()
    value = _fraction(threshold)
    expected = 1 / (1 + MISS_COST)
    if math.isclose(value, 0.5, abs_tol=1e-3):
        return not_yet(
            "threshold: 0.5 is the argmax rule, right only when both mistakes cost "
            "the same; here a missed bird costs more"
        )
    if math.isclose(value, 1 - expected, abs_tol=1e-3):
        return not_yet(
            "threshold: the other way round: the costly mistake is missing a bird, "
            "so say 'bird' even when the model is fairly unsure"
        )
    if math.isclose(value, 1 / MISS_COST, abs_tol=1e-3):
        return not_yet(
            "threshold: close, but compare expected costs: saying 'airplane' costs "
            f"p x {MISS_COST}, saying 'bird' costs (1 - p) x 1; where are they equal?"
        )
    if not math.isclose(value, expected, abs_tol=1e-3):
        return not_yet(
            "threshold: write down the expected cost of each answer as a function of "
            "p = p(bird) and find where they are equal"
        )
    if not isinstance(answer, str) or answer.strip().lower() not in {"a", "b"}:
        return not_yet('answer: give "a" or "b"')
    if answer.strip().lower() == "a":
        return not_yet(
            "answer: airplane is the most likely label, but with p(bird) above your "
            "threshold the cheaper call, on average, is the other one"
        )
    return right("the threshold balances the two expected costs, and the call follows it, not the argmax.")
