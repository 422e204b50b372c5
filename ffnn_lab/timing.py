"""Run times that hold on the machine at hand: an epoch measured before a long run, and two ways of
doing one job timed in turns, so that a claim printed in a notebook is true where it is printed."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .data import TensorData
from .train import fit

# A claim "A is faster than B" is printed only when A won so many rounds that chance alone would do
# so at most this often (a sign test), and by at least CLEAR_FACTOR at the median: a busy machine can
# make any one round go either way.
SIGNIFICANCE = 0.05
CLEAR_FACTOR = 1.1
MIN_ROUNDS = 5  # fewer rounds than this cannot reach SIGNIFICANCE even if one way wins them all
WARM_UP = 256  # images trained on, untimed, before an epoch is timed


def about(seconds: float) -> str:
    """A duration as a person says it: 'about 40 seconds', 'about 3 minutes', 'about 1.5 hours'."""
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"about {seconds:.0f} seconds"
    if seconds < 90 * 60:
        return f"about {seconds / 60:.0f} minutes"
    return f"about {seconds / 3600:.1f} hours"


def epoch_seconds(
    build: Callable[[], nn.Module],
    train: TensorData,
    val: TensorData | None = None,
    *,
    seed: int = 0,
    **changes: Any,
) -> float:
    """Seconds one epoch of fit takes here, as the run to estimate makes it: a fresh build() on
    train's device, warmed up on a few batches (one-off start-up costs are not an epoch's), then one
    epoch with the recipe fields in changes, scored on val after it if given (as fit does). One epoch
    on a machine whose load changes is a rough guide, no promise."""
    torch.manual_seed(seed)
    model = build().to(train.device)
    warm = TensorData(train.x[:WARM_UP], train.y[:WARM_UP])
    fit(model, warm, seed=seed, progress=False, **{**changes, "epochs": 1})
    return fit(model, train, val, seed=seed, progress=False, **{**changes, "epochs": 1})[0]["seconds"]


def estimate(per_epoch: float, epochs: int) -> str:
    """'100 epochs at 0.62 s each (measured here): about 62 seconds'."""
    return f"{epochs} epochs at {per_epoch:.2f} s each (measured here): {about(per_epoch * epochs)}"


@dataclass
class Race:
    """Two ways of doing the same job, timed in turns: times[name] holds one duration per round."""

    times: dict[str, list[float]] = field(default_factory=dict)

    def median(self, name: str) -> float:
        """The median duration of name's rounds, in seconds."""
        return statistics.median(self.times[name])

    def verdict(self) -> str:
        """What the rounds show, in a sentence: a claim only when one way won clearly more rounds than
        luck explains (sign test) by a clear median factor; otherwise that it is too close to call."""
        (a, ta), (b, tb) = self.times.items()
        rounds = len(ta)
        wins = {a: sum(y > x for x, y in zip(ta, tb)), b: sum(x > y for x, y in zip(ta, tb))}
        ratio = statistics.median(y / x for x, y in zip(ta, tb))  # how many times as long b took as a
        medians = f"medians {self.median(a):.3g} s and {self.median(b):.3g} s"
        if rounds < MIN_ROUNDS:
            return f"{rounds} rounds are too few to say which is faster ({medians})."
        for fast, slow, factor in ((a, b, ratio), (b, a, 1 / ratio)):
            if wins[fast] >= rounds_needed(rounds) and factor >= CLEAR_FACTOR:
                return (
                    f"{fast} was faster than {slow} in {wins[fast]} of {rounds} rounds, "
                    f"{factor:.1f} times as fast at the median ({medians})."
                )
        return (
            f"too close to call here: {a} was faster in {wins[a]} of {rounds} rounds, {b} in {wins[b]} "
            f"({medians}). On a busy machine whatever else runs decides rounds like these."
        )


def rounds_needed(rounds: int) -> int:
    """The fewest wins out of rounds that chance (a fair coin per round) reaches at most SIGNIFICANCE
    of the time: 5 of 5, 7 of 8, 20 of 30."""
    for wins in range(rounds + 1):
        if sum(math.comb(rounds, k) for k in range(wins, rounds + 1)) / 2**rounds <= SIGNIFICANCE:
            return wins
    return rounds + 1  # unreachable: too few rounds


def race(
    contenders: dict[str, Callable[[], object]], rounds: int, device: torch.device | str = "cpu"
) -> Race:
    """Time two callables in turns, rounds times each, alternating which goes first, so that a
    change in the machine's load hits both alike. Each is run once untimed first (warm-up)."""
    if len(contenders) != 2:
        raise ValueError(f"race() compares two contenders, got {len(contenders)}")
    cuda = torch.device(device).type == "cuda"
    names = list(contenders)
    result = Race({name: [] for name in names})
    for name in names:
        contenders[name]()
    for i in range(rounds):
        for name in names if i % 2 == 0 else names[::-1]:
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            contenders[name]()
            if cuda:
                torch.cuda.synchronize()  # GPU work runs asynchronously: wait for it before reading the clock
            result.times[name].append(time.perf_counter() - start)
    return result
