"""Pictures for the notebooks: sample grids, loss curves, confusion matrices, shift curves."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch


def to_displayable(
    img: torch.Tensor, mean: Sequence[float] | None = None, std: Sequence[float] | None = None
) -> np.ndarray:
    """A CHW tensor (normalised if mean/std given) as HWC values in 0..1 that imshow shows unclipped."""
    img = img.detach().cpu().float()
    if mean is not None and std is not None:
        img = img * torch.as_tensor(std).view(3, 1, 1) + torch.as_tensor(mean).view(3, 1, 1)
    return img.permute(1, 2, 0).clamp(0, 1).numpy()


def show_images(
    images: Sequence,
    titles: Sequence[str] = (),
    ncols: int = 8,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    size: float = 1.4,
) -> plt.Figure:
    """A grid of images (PIL, HWC uint8 arrays, or CHW tensors) with optional titles."""
    n = len(images)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.15), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, img) in enumerate(zip(axes.flat, images, strict=False)):
        if isinstance(img, torch.Tensor):
            img = to_displayable(img, mean, std)
        ax.imshow(img)
        if i < len(titles):
            ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def plot_history(history: list[dict], title: str = "") -> plt.Figure:
    """Loss and accuracy per epoch, side by side."""
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax1.plot(epochs, [h["loss"] for h in history])
    ax1.set(xlabel="epoch", ylabel="training loss", title="Loss")
    ax2.plot(epochs, [h["train_accuracy"] for h in history], label="train")
    if history and history[0].get("val_accuracy") is not None:
        ax2.plot(epochs, [h["val_accuracy"] for h in history], label="validation")
    ax2.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    ax2.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_losses(curves: dict[str, Sequence[float]], xlabel: str = "epoch", title: str = "") -> plt.Figure:
    """Several named loss curves on one set of axes."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, label=name, marker="." if len(values) < 30 else None)
    ax.set(xlabel=xlabel, ylabel="loss", title=title)
    ax.legend()
    fig.tight_layout()
    return fig


def confusion_matrix(preds: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Counts[i, j]: samples of true class i predicted as class j."""
    idx = labels.long() * n_classes + preds.long()
    return torch.bincount(idx, minlength=n_classes**2).view(n_classes, n_classes)


def plot_confusion(matrix: torch.Tensor, classes: Sequence[str]) -> plt.Figure:
    """A confusion matrix with its counts written in the cells."""
    fig, ax = plt.subplots(figsize=(3.5, 3.2))
    ax.imshow(matrix.numpy(), cmap="Blues")
    ticks = range(len(classes))
    ax.set(
        xticks=ticks,
        yticks=ticks,
        xticklabels=classes,
        yticklabels=classes,
        xlabel="predicted",
        ylabel="true",
    )
    for (i, j), v in np.ndenumerate(matrix.numpy()):
        ax.text(
            j, i, str(v), ha="center", va="center", color="white" if v > matrix.max().item() / 2 else "black"
        )
    fig.tight_layout()
    return fig


def plot_shift_curves(curves: dict[str, Sequence[float]], shifts: Sequence[int]) -> plt.Figure:
    """Validation accuracy against how far every image is shifted, one line per model."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, acc in curves.items():
        ax.plot(shifts, acc, marker="o", label=name)
    ax.axhline(0.5, color="grey", linestyle=":", label="chance")
    ax.set(
        xlabel="shift (pixels, right and down)",
        ylabel="validation accuracy",
        title="Moving the picture, not changing it",
    )
    ax.legend()
    fig.tight_layout()
    return fig
