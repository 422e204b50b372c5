"""Training and evaluation: minibatch SGD (fit), the lecture's other two regimes, accuracy."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .tensors import TensorData, augment, batches, blend


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; .history holds the epochs finished before it."""

    def __init__(self, message: str, history: list[dict]) -> None:
        super().__init__(message)
        self.history = history


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' is CUDA when present, else CPU; asking for CUDA without one is an error that says so."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except RuntimeError:
        device = None
    if device is None or device.type not in {"cpu", "cuda"}:
        raise ValueError(f"unknown device {str(device)!r}: use auto, cpu or cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but this torch sees no CUDA GPU "
                         f"(torch {torch.__version__}): use --device cpu or auto")
    return device


Data = TensorData | DataLoader


def _batches(data: Data, batch_size: int, shuffle: bool, generator: torch.Generator | None,
             device: torch.device) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    if isinstance(data, TensorData):
        return batches(data, batch_size, shuffle, generator)
    if not isinstance(data, DataLoader):
        raise TypeError(f"got a {type(data).__name__}: pass a DataLoader over it (the teaching path) "
                        "or the tensors from ffnn_lab.prepare_cifar2() (the fast path)")
    # the teaching path: whatever the DataLoader was built with, moved batch by batch
    return ((x.to(device), y.to(device)) for x, y in data)


@torch.no_grad()
def predict(model: nn.Module, data: Data, batch_size: int = 1024) -> torch.Tensor:
    """The predicted class (argmax of the outputs) for every sample, in order, on the CPU."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    preds = [model(x).argmax(dim=1) for x, _ in _batches(data, batch_size, False, None, device)]
    model.train(was_training)
    return torch.cat(preds).cpu()


def labels_of(data: Data) -> torch.Tensor:
    """The labels of data, in order, on the CPU."""
    if isinstance(data, TensorData):
        return data.y.cpu()
    return torch.cat([torch.as_tensor(y) for _, y in data])


def evaluate(model: nn.Module, data: Data, batch_size: int = 1024) -> float:
    """Accuracy of model on data: the share of samples whose argmax is the label."""
    if isinstance(data, DataLoader) and isinstance(data.sampler, torch.utils.data.RandomSampler):
        raise ValueError("evaluate needs a DataLoader with shuffle=False, so that predictions "
                         "and labels line up")
    preds = predict(model, data, batch_size)
    return (preds == labels_of(data)).float().mean().item()


def make_optimizer(model: nn.Module, name: str, lr: float, momentum: float = 0.0,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """SGD (the lecture's) or AdamW over model's parameters, as one fused update per parameter."""
    # fused: one pass over each weight per step instead of several (the step is memory-bound)
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                               weight_decay=weight_decay, fused=True)
    if name == "adamw":
        if momentum:  # AdamW keeps its own running averages (betas); silently dropping it would mislead
            raise ValueError(f"momentum={momentum:g} applies to the sgd optimizer only: choose sgd "
                             "(--optimizer sgd), or drop momentum")
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
    raise ValueError(f"unknown optimizer {name!r}: use sgd or adamw")


def fit(model: nn.Module, train: Data, val: Data | None = None, *, epochs: int = 100,
        batch_size: int = 64, lr: float = 1e-2, optimizer: str = "sgd", momentum: float = 0.0,
        weight_decay: float = 0.0, schedule: str = "constant", max_shift: int = 0,
        flip: bool = False, mixup: float = 0.0, loss_fn: nn.Module | None = None, seed: int = 0,
        progress: bool = True) -> list[dict]:
    """Minibatch training; returns one dict per epoch: epoch, loss, train_accuracy, val_accuracy, seconds.

    train_accuracy is counted on the epoch's own (augmented) batches as they go by, for free; with
    mixup, against the label of the stronger image in each blend.
    Ctrl-C stops after the current batch and returns the epochs finished so far."""
    if epochs < 1 or batch_size < 1 or not lr > 0:
        raise ValueError(f"epochs={epochs}, batch_size={batch_size}, lr={lr}: "
                         "each must be positive")
    if max_shift < 0 or not 0 <= mixup < math.inf:
        raise ValueError(f"max_shift={max_shift}, mixup={mixup}: use 0 (off) or a positive value")
    device = next(model.parameters()).device
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    torch.manual_seed(seed)  # dropout masks: this reseeds torch's global generator
    gen = torch.Generator().manual_seed(seed)  # shuffling and augmentation
    rng = random.Random(seed)  # mixup's blend weights
    opt = make_optimizer(model, optimizer, lr, momentum, weight_decay)
    n_batches = len(train) if isinstance(train, DataLoader) else math.ceil(len(train) / batch_size)
    if schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=epochs * n_batches)
    elif schedule == "constant":
        sched = None
    else:
        raise ValueError(f"unknown schedule {schedule!r}: use constant or onecycle")
    history: list[dict] = []
    check_each_batch = device.type == "cpu"

    def diverged(value: float):
        raise TrainingDiverged(
            f"the loss became {value} in epoch {len(history) + 1}: training stopped. "
            f"The learning rate ({lr:g}) is probably too high: try {lr / 10:g}.", history)

    bar = tqdm(range(1, epochs + 1), desc="epochs", unit="epoch", disable=not progress)
    try:
        for epoch in bar:
            start = time.perf_counter()
            model.train()
            total_loss = torch.zeros((), device=device)
            correct = torch.zeros((), dtype=torch.long, device=device)
            seen = 0
            for x, y in _batches(train, batch_size, True, gen, device):
                if max_shift or flip:
                    x = augment(x, max_shift, flip, gen)
                if mixup:
                    x, partner_y, lam = blend(x, y, mixup, gen, rng)
                    out = model(x)
                    loss = lam * loss_fn(out, y) + (1 - lam) * loss_fn(out, partner_y)
                    if lam < 0.5:  # train accuracy counts the label of the dominant image
                        y = partner_y
                else:
                    out = model(x)
                    loss = loss_fn(out, y)
                # On the CPU check every batch; on a GPU that would copy a flag back each batch,
                # so there the epoch's summed loss (NaN-infected too) is checked once at its end.
                if check_each_batch and not torch.isfinite(loss):
                    diverged(loss.item())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                total_loss += loss.detach() * len(y)
                correct += (out.argmax(dim=1) == y).sum()
                seen += len(y)
            if not check_each_batch and not torch.isfinite(total_loss):
                diverged(total_loss.item())
            record = {"epoch": epoch, "loss": total_loss.item() / seen,
                      "train_accuracy": correct.item() / seen,
                      "val_accuracy": evaluate(model, val) if val is not None else None}
            record["seconds"] = time.perf_counter() - start
            history.append(record)
            bar.set_postfix(loss=f"{record['loss']:.4f}", train=f"{record['train_accuracy']:.3f}",
                            **({"val": f"{record['val_accuracy']:.3f}"} if val is not None else {}))
    except KeyboardInterrupt:
        print(f"\nInterrupted: stopped during epoch {len(history) + 1}; "
              f"returning the {len(history)} finished epoch(s).")
    finally:
        bar.close()
    return history


def train_full_batch(model: nn.Module, data: TensorData, epochs: int, lr: float,
                     loss_fn: nn.Module | None = None, chunk: int = 1024) -> list[float]:
    """Regime A: one update per epoch, with the gradient accumulated over every sample.

    The dataset is fed in chunks only to bound memory; the update sees the whole sum."""
    loss_fn = loss_fn or nn.CrossEntropyLoss(reduction="sum")
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        opt.zero_grad()
        total = 0.0
        for x, y in batches(data, chunk):
            loss = loss_fn(model(x), y) / len(data)  # mean over the whole set, built up piecewise
            loss.backward()  # gradients add up in .grad until the step
            total += loss.item()
        opt.step()
        losses.append(total)
    return losses


def train_per_sample(model: nn.Module, data: TensorData, epochs: int, lr: float,
                     loss_fn: nn.Module | None = None, seed: int = 0) -> list[float]:
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
