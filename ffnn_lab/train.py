"""Training by recipe and evaluation: fit (either engine, the history, its checks), evaluate, predict."""

from __future__ import annotations

import dataclasses
import math
import random
import time
import warnings
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .data import TensorData
from .eager import EpochSums, train_epoch
from .errors import InvalidInput, TrainingDiverged, TrainingUnstable
from .graphed import graph_runner
from .recipes import Recipe, make_optimizer, make_schedule
from .tensors import batches

# An epoch loss this many times the first batch's (or 1, whichever is larger) means the run broke.
UNSTABLE_FACTOR = 10

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
    fit(model, data.train, data.val, epochs=20, momentum=0.9), or a whole Recipe:
    fit(model, data.train, recipe=Recipe(optimizer="adamw", lr=1e-3)), Recipe from ffnn_lab.
    Returns one dict per epoch:
    epoch, loss, train_accuracy (counted on the epoch's own augmented batches as they go by),
    val_accuracy, seconds.

    seed drives everything random in training: shuffling, augmentation, mixup and dropout (it reseeds
    torch's global generator). A NaN loss stops training (TrainingDiverged); an epoch loss far above
    the first batch's warns (TrainingUnstable). Ctrl-C returns the epochs finished so far.
    A DataLoader brings its own batches: a batch_size= that disagrees with it is refused.

    engine="eager" runs ffnn_lab.eager's loop, batch by batch (the teaching path); engine="graph" runs the
    same epoch as one captured CUDA graph (ffnn_lab.graphed: same batches, augmentation and results
    within float tolerance; on the CPU it runs uncaptured). "auto" (default) is the eager loop, and
    the graph on CUDA only where graphed.AUTO_PICKS_GRAPH records that it was measured to pay there
    (TensorData, a cross-entropy or NLL loss, no mixup, a constant schedule); "graph" refuses what it
    cannot run, saying why."""
    recipe = _recipe_for(train, recipe, changes)
    device = next(model.parameters()).device
    loss_fn = _mean_loss(loss_fn or nn.CrossEntropyLoss())
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


def _mean_loss(loss_fn: nn.Module) -> nn.Module:
    """loss_fn if it averages over the batch, as the epoch's sums (mean loss times batch size) assume."""
    if getattr(loss_fn, "reduction", "mean") != "mean":
        raise InvalidInput(
            f"loss_fn has reduction={loss_fn.reduction!r}: fit assumes each batch's mean "
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
