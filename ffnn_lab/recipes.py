"""How networks are trained: the Recipe, its choices, and the registry of named networks.

The registry (MODELS) is the one list of models: a name maps to its builder and its default recipe."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from .errors import InvalidInput
from .models import baseline, deep, small, wide_mlp

# The optimiser and schedule choices, defined once; the CLI offers exactly these names.
OPTIMIZERS: dict[str, Callable[[Iterable[nn.Parameter], Recipe], torch.optim.Optimizer]] = {
    # fused: one pass over each weight per step instead of several (the step is memory-bound)
    "sgd": lambda params, r: torch.optim.SGD(
        params, lr=r.lr, momentum=r.momentum, weight_decay=r.weight_decay, fused=True
    ),
    "adamw": lambda params, r: torch.optim.AdamW(params, lr=r.lr, weight_decay=r.weight_decay, fused=True),
}
SCHEDULES = ("constant", "onecycle")


@dataclass(frozen=True)
class Recipe:
    """How a network is trained: the default is the lecture's (100 epochs of plain SGD, batch 64, lr 0.01)."""

    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-2
    optimizer: str = "sgd"  # a name in OPTIMIZERS: "sgd" (as in the lecture) or "adamw"
    momentum: float = 0.0  # SGD's only: AdamW keeps its own running averages
    weight_decay: float = 0.0
    schedule: str = "constant"  # or "onecycle": warm up, then anneal, over the whole run
    max_shift: int = 0  # random translation in pixels (0: no augmentation)
    flip: bool = False  # random left-right mirroring
    mixup: float = 0.0  # mixup strength alpha: blend pairs of images and their labels (0: off)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "max_shift"):
            if not isinstance(getattr(self, name), int):
                raise InvalidInput(f"{name}={getattr(self, name)}: use a whole number")
        for name in ("epochs", "batch_size", "lr"):
            if not 0 < getattr(self, name) < math.inf:
                raise InvalidInput(f"{name}={getattr(self, name)}: use a finite number greater than 0")
        for name in ("momentum", "weight_decay", "max_shift", "mixup"):
            if not 0 <= getattr(self, name) < math.inf:
                raise InvalidInput(f"{name}={getattr(self, name)}: use 0 (off) or a finite positive number")
        if self.optimizer not in OPTIMIZERS:
            raise InvalidInput(f"unknown optimizer={self.optimizer!r}: use one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise InvalidInput(f"unknown schedule={self.schedule!r}: use one of {', '.join(SCHEDULES)}")
        if self.momentum and self.optimizer != "sgd":
            # AdamW keeps its own running averages (betas); silently dropping momentum would mislead
            raise InvalidInput(
                f"momentum={self.momentum:g} applies to optimizer='sgd' only: "
                "choose optimizer='sgd', or drop momentum"
            )

    def describe(self) -> str:
        """One line a student can read: how this recipe trains."""
        extras = [
            f"momentum {self.momentum:g}" if self.momentum else "",
            f"weight decay {self.weight_decay:g}" if self.weight_decay else "",
            f"{self.schedule} schedule" if self.schedule != "constant" else "",
            f"shifts up to {self.max_shift} px" if self.max_shift else "",
            "flips" if self.flip else "",
            f"mixup {self.mixup:g}" if self.mixup else "",
        ]
        return (
            f"recipe: {self.epochs} epochs, batch {self.batch_size}, {self.optimizer} lr {self.lr:g}"
            + "".join(f", {e}" for e in extras if e)
        )


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """The recipe's optimiser (see OPTIMIZERS) over model's parameters."""
    return OPTIMIZERS[recipe.optimizer](model.parameters(), recipe)


def make_schedule(
    opt: torch.optim.Optimizer, recipe: Recipe, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The recipe's learning-rate schedule, stepped once per batch; None for a constant rate."""
    if recipe.schedule == "onecycle":
        steps = recipe.epochs * steps_per_epoch
        return torch.optim.lr_scheduler.OneCycleLR(opt, recipe.lr, total_steps=steps)
    return None


@dataclass(frozen=True)
class NamedNetwork:
    """A network the command line trains by name: how to build a fresh one, and how it is trained."""

    build: Callable[[], nn.Module]
    recipe: Recipe


MODELS = {
    "baseline": NamedNetwork(baseline, Recipe()),
    "small": NamedNetwork(small, Recipe()),
    "deep": NamedNetwork(deep, Recipe()),
    # notebook 09's network and recipe, for after the graded exercise: not an answer to notebook 08
    "best": NamedNetwork(
        wide_mlp,
        Recipe(
            epochs=150,
            batch_size=128,
            lr=2e-3,
            optimizer="adamw",
            weight_decay=0.05,
            schedule="onecycle",
            max_shift=3,
            flip=True,
            mixup=0.2,
        ),
    ),
}
RECIPES = {name: network.recipe for name, network in MODELS.items()}  # each name's recipe alone


def build_model(name: str) -> nn.Module:
    """A fresh network by name (see MODELS)."""
    if name not in MODELS:
        raise InvalidInput(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    return MODELS[name].build()
