"""Training and evaluation: the recipe, minibatch training (fit), the lecture's other two regimes."""

from __future__ import annotations

import dataclasses
import math
import random
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .errors import InvalidInput, TrainingDiverged, TrainingUnstable
from .graphed import EpochSums, graph_runner
from .tensors import TensorData, augment, batches, mixup_batch

# The optimiser and schedule choices, defined once; the CLI offers exactly these names.
OPTIMIZERS: dict[str, Callable[[Iterable[nn.Parameter], Recipe], torch.optim.Optimizer]] = {
    # fused: one pass over each weight per step instead of several (the step is memory-bound)
    "sgd": lambda params, r: torch.optim.SGD(
        params, lr=r.lr, momentum=r.momentum, weight_decay=r.weight_decay, fused=True
    ),
    "adamw": lambda params, r: torch.optim.AdamW(params, lr=r.lr, weight_decay=r.weight_decay, fused=True),
}
SCHEDULES = ("constant", "onecycle")
# An epoch loss this many times the first batch's (or 1, whichever is larger) means the run broke.
UNSTABLE_FACTOR = 10


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


# Each named model's default recipe (ffnn_lab.models.MODELS builds the networks).
RECIPES = {
    "baseline": Recipe(),
    "small": Recipe(),
    "deep": Recipe(),
    "best": Recipe(
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
}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' is CUDA when present, else CPU; asking for CUDA without one is an error that says so."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        resolved = None
    if resolved is None or resolved.type not in {"cpu", "cuda"}:
        raise InvalidInput(f"unknown device {str(device)!r}: use 'auto', 'cpu' or 'cuda'")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInput(
            f"device {str(device)!r} asked for, but this torch sees no CUDA GPU "
            f"(torch {torch.__version__}): use 'cpu' or 'auto'"
        )
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise InvalidInput(
            f"device {str(device)!r}: this machine has {torch.cuda.device_count()} "
            "CUDA GPU(s), numbered from 0"
        )
    return resolved


Data = TensorData | DataLoader


def _batches(
    data: Data, batch_size: int, shuffle: bool, generator: torch.Generator | None, device: torch.device
) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    if isinstance(data, TensorData):
        return batches(data, batch_size, shuffle, generator)
    if not isinstance(data, DataLoader):
        raise TypeError(
            f"got a {type(data).__name__}: pass a DataLoader over it (the teaching path) "
            "or the tensors from ffnn_lab.prepare_cifar2() (the fast path)"
        )
    # the teaching path: whatever the DataLoader was built with, moved batch by batch
    return ((x.to(device), y.to(device)) for x, y in data)


@torch.no_grad()
def _predictions(model: nn.Module, data: Data, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted class, label) for every sample, in order, on the CPU, from one pass over data."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    preds, labels = [], []
    try:
        for x, y in _batches(data, batch_size, False, None, device):
            preds.append(model(x).argmax(dim=1))
            labels.append(y)
    finally:
        model.train(was_training)
    return torch.cat(preds).cpu(), torch.cat(labels).cpu()


def predict(model: nn.Module, data: Data, batch_size: int = 1024) -> torch.Tensor:
    """The predicted class (argmax of the outputs) for every sample, in order, on the CPU."""
    return _predictions(model, data, batch_size)[0]


def evaluate(model: nn.Module, data: Data, batch_size: int = 1024) -> float:
    """Accuracy of model on data: the share of samples whose argmax is the label (one pass, so a
    shuffled DataLoader counts the same)."""
    preds, labels = _predictions(model, data, batch_size)
    return (preds == labels).float().mean().item()


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


def _recipe_for(train: Data, recipe: Recipe | None, changes: dict[str, Any]) -> Recipe:
    """recipe (default: the lecture's) with changes applied; a DataLoader keeps its own batch size."""
    fields = [f.name for f in dataclasses.fields(Recipe)]
    unknown = sorted(set(changes) - set(fields))
    if unknown:
        raise InvalidInput(f"fit() got {', '.join(unknown)}: not a recipe field; use {', '.join(fields)}")
    # a DataLoader brings its own batches: a batch size asked for (as a keyword or in a recipe)
    # that it would silently override is refused; a batch_sampler's loader has no one size to compare
    asked = changes.get("batch_size", recipe.batch_size if recipe else None)
    made = train.batch_size if isinstance(train, DataLoader) else None
    if made is not None and asked not in (None, made):
        where = f"batch_size={asked}" if "batch_size" in changes else f"the recipe's batch_size={asked}"
        fix = f"pass batch_size={made} to fit" + (" (it replaces the recipe's)" if recipe else "")
        raise InvalidInput(
            f"{where} but the DataLoader makes batches of {made}: {fix}, "
            f"or build the DataLoader with batch_size={asked}"
        )
    return dataclasses.replace(recipe or Recipe(), **changes)


def _forward(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    recipe: Recipe,
    loss_fn: nn.Module,
    gen: torch.Generator,
    rng: random.Random,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Augment and blend a batch as the recipe asks, then run it: (loss, outputs, labels to count).

    With mixup, accuracy counts the label of the stronger image in each blend."""
    if recipe.max_shift or recipe.flip:
        x = augment(x, recipe.max_shift, recipe.flip, gen)
    if not recipe.mixup:
        out = model(x)
        return loss_fn(out, y), out, y
    x, partner_y, lam = mixup_batch(x, y, recipe.mixup, gen, rng)
    out = model(x)
    loss = lam * loss_fn(out, y) + (1 - lam) * loss_fn(out, partner_y)
    return loss, out, (y if lam >= 0.5 else partner_y)


def train_epoch(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler | None,
    loss_fn: nn.Module,
    recipe: Recipe,
    gen: torch.Generator,
    rng: random.Random,
    check_each_batch: bool,
) -> EpochSums:
    """One epoch of the plain PyTorch loop: forward, loss, zero_grad, backward, step, per batch.

    check_each_batch stops at the first non-finite loss, before it reaches the weights (the sums
    then say so); on a GPU that check would wait for every batch, so fit checks the epoch's sums."""
    sums = EpochSums(next(model.parameters()).device)
    for x, y in batches:
        loss, out, y = _forward(model, x, y, recipe, loss_fn, gen, rng)
        sums.add(loss, out, y, first=not sums.seen)
        sums.seen += len(y)
        if check_each_batch and not torch.isfinite(loss):
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    return sums


def _lr_advice(lr: float) -> str:
    return f"The learning rate ({lr:g}) is probably too high: try {lr / 10:g}."


def fit(
    model: nn.Module,
    train: Data,
    val: Data | None = None,
    *,
    recipe: Recipe | None = None,
    seed: int = 0,
    loss_fn: nn.Module | None = None,
    progress: bool = True,
    engine: str = "auto",
    **changes: Any,
) -> list[dict]:
    """Minibatch training by recipe (default: the lecture's), any field changed by keyword, e.g.
    fit(model, data.train, data.val, recipe=RECIPES["best"], epochs=8). Returns one dict per epoch:
    epoch, loss, train_accuracy (counted on the epoch's own augmented batches as they go by),
    val_accuracy, seconds.

    seed drives everything random in training: shuffling, augmentation, mixup and dropout (it reseeds
    torch's global generator). A NaN loss stops training (TrainingDiverged); an epoch loss far above
    the first batch's warns (TrainingUnstable). Ctrl-C returns the epochs finished so far.
    A DataLoader brings its own batches: a batch_size= that disagrees with it is refused.

    engine="eager" runs the loop below, batch by batch (the teaching path); engine="graph" runs the
    same epoch as one captured CUDA graph (ffnn_lab.graphed: same batches, augmentation and results
    within float tolerance; on the CPU it runs uncaptured). "auto" (default) is the eager loop, and
    the graph on CUDA only where graphed.AUTO_PICKS_GRAPH records that it was measured to pay there
    (TensorData, a cross-entropy or NLL loss, no mixup, a constant schedule); "graph" refuses what it
    cannot run, saying why."""
    recipe = _recipe_for(train, recipe, changes)
    device = next(model.parameters()).device
    loss_fn = _mean_loss(loss_fn or nn.CrossEntropyLoss(), "fit")
    torch.manual_seed(seed)  # dropout masks
    gen = torch.Generator().manual_seed(seed)  # shuffling and augmentation
    rng = random.Random(seed)  # mixup's blend weights
    opt = make_optimizer(model, recipe)
    steps = len(train) if isinstance(train, DataLoader) else math.ceil(len(train) / recipe.batch_size)
    sched = make_schedule(opt, recipe, steps)
    runner = graph_runner(engine, model, train, recipe, loss_fn, opt, gen)  # None: the eager loop
    history: list[dict] = []
    first_loss = None  # the untrained network's loss: the yardstick for TrainingUnstable
    bar = tqdm(range(1, recipe.epochs + 1), desc="epochs", unit="epoch", disable=not progress)
    try:
        for epoch in bar:
            start = time.perf_counter()
            model.train()
            if runner is not None:
                sums = runner.run_epoch()
            else:
                epoch_batches = _batches(train, recipe.batch_size, True, gen, device)
                check = device.type == "cpu"  # free there; a GPU checks the epoch's sum instead
                sums = train_epoch(model, epoch_batches, opt, sched, loss_fn, recipe, gen, rng, check)
            if not torch.isfinite(sums.loss):
                raise _diverged(sums.loss.item(), recipe.lr, history)
            first_loss = sums.first.item() if first_loss is None else first_loss
            history.append(_record(epoch, sums, model, val, start))
            _warn_if_unstable(history, first_loss, recipe.lr)
            bar.set_postfix(_postfix(history[-1]))
    except KeyboardInterrupt:
        print(
            f"\nInterrupted: stopped during epoch {len(history) + 1}; "
            f"returning the {len(history)} finished epoch(s)."
        )
    finally:
        bar.close()
    return history


def _record(epoch: int, sums: EpochSums, model: nn.Module, val: Data | None, start: float) -> dict:
    """The epoch's line of history: its mean loss and accuracy, and the model's on val if given."""
    return {
        "epoch": epoch,
        "loss": sums.loss.item() / sums.seen,
        "train_accuracy": sums.correct.item() / sums.seen,
        "val_accuracy": evaluate(model, val) if val is not None else None,
        "seconds": time.perf_counter() - start,
    }


def _postfix(record: dict) -> dict[str, str]:
    shown = {"loss": f"{record['loss']:.4f}", "train": f"{record['train_accuracy']:.3f}"}
    if record["val_accuracy"] is not None:
        shown["val"] = f"{record['val_accuracy']:.3f}"
    return shown


def _mean_loss(loss_fn: nn.Module, caller: str) -> nn.Module:
    """loss_fn if it averages over the batch; the lab's sums and the full-batch weights assume so."""
    if getattr(loss_fn, "reduction", "mean") != "mean":
        raise InvalidInput(
            f"loss_fn has reduction={loss_fn.reduction!r}: {caller} assumes each batch's mean "
            "loss, so pass a loss with reduction='mean' (the default)"
        )
    return loss_fn


def _diverged(value: float, lr: float, history: list[dict]) -> TrainingDiverged:
    return TrainingDiverged(
        f"the loss became {value} in epoch {len(history) + 1}: training stopped. " + _lr_advice(lr), history
    )


def _warn_if_unstable(history: list[dict], first_loss: float | None, lr: float) -> None:
    """Warn once per run when the last epoch's loss ends far above where training started."""
    limit = UNSTABLE_FACTOR * max(first_loss or 0.0, 1.0)
    *before, record = history
    if record["loss"] > limit and all(h["loss"] <= limit for h in before):
        warnings.warn(
            f"the epoch loss grew from {first_loss:.3g} (first batch) to {record['loss']:.3g} "
            f"in epoch {record['epoch']}: training is unstable. " + _lr_advice(lr),
            TrainingUnstable,
            stacklevel=3,
        )


def train_full_batch(
    model: nn.Module,
    data: TensorData,
    epochs: int,
    lr: float,
    loss_fn: nn.Module | None = None,
    chunk: int = 1024,
) -> list[float]:
    """Regime A: one update per epoch, with the gradient of the mean loss over every sample.

    The dataset is fed in chunks only to bound memory: each chunk's mean loss (loss_fn must average,
    as the default CrossEntropyLoss() does) is weighted by its share of the data, so the update sees
    the whole set's mean."""
    loss_fn = _mean_loss(loss_fn or nn.CrossEntropyLoss(), "train_full_batch")
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        opt.zero_grad()
        total = 0.0
        for x, y in batches(data, chunk):
            loss = loss_fn(model(x), y) * (len(y) / len(data))
            loss.backward()  # gradients add up in .grad until the step
            total += loss.item()
        opt.step()
        losses.append(total)
    return losses


def train_per_sample(
    model: nn.Module,
    data: TensorData,
    epochs: int,
    lr: float,
    loss_fn: nn.Module | None = None,
    seed: int = 0,
) -> list[float]:
    """Regime B: one update per sample, in shuffled order; returns each epoch's mean loss."""
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(epochs):
        total = 0.0
        for x, y in batches(data, 1, shuffle=True, generator=gen):
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        losses.append(total / len(data))
    return losses
