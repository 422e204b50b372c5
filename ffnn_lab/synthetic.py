"""A synthetic, deterministic stand-in for CIFAR-10, for offline tests and CI only."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .array_dataset import ArrayCIFAR10

# A rough colour per class (background, object), so the task is learnable but not trivial.
_PALETTE = np.array(
    [
        [(120, 160, 220), (200, 200, 210)],  # airplane: sky, pale body
        [(110, 110, 110), (180, 40, 40)],  # automobile: road, red car
        [(90, 140, 70), (150, 110, 70)],  # bird: foliage, brown bird
        [(150, 130, 110), (200, 170, 120)],  # cat
        [(80, 120, 60), (140, 100, 60)],  # deer
        [(140, 120, 100), (110, 80, 50)],  # dog
        [(70, 110, 60), (60, 150, 60)],  # frog
        [(120, 140, 80), (100, 70, 40)],  # horse
        [(60, 100, 170), (220, 220, 220)],  # ship
        [(120, 120, 120), (60, 90, 170)],  # truck
    ],
    dtype=np.float32,
)


def make_images(n_per_class: int, seed: int) -> tuple[np.ndarray, list[int]]:
    """Procedural 32x32 RGB images: class colours, a class-tilted stripe texture, a blob, noise."""
    rng = np.random.default_rng(seed)
    n = 10 * n_per_class
    labels = np.repeat(np.arange(10), n_per_class)
    rng.shuffle(labels)  # interleaved like the official batches
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32) / 32
    angle = labels[:, None, None] * math.pi / 10
    phase = rng.uniform(0, 2 * math.pi, (n, 1, 1))
    stripes = np.sin(2 * math.pi * 3 * (xx * np.cos(angle) + yy * np.sin(angle)) + phase)
    cy, cx = rng.uniform(0.25, 0.75, (2, n, 1, 1))
    radius = rng.uniform(0.12, 0.25, (n, 1, 1))
    blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
    jitter = rng.normal(0, 60, (n, 2, 3)).astype(np.float32)
    bg, fg = (_PALETTE[labels] + jitter).transpose(1, 0, 2)[:, :, None, None, :]
    shade = (0.8 + 0.2 * stripes)[..., None]
    img = bg * shade * (1 - blob[..., None]) + fg * blob[..., None]
    img += rng.normal(0, 80, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), labels.tolist()


def synthetic_cifar10(
    root: str | None = None,
    train: bool = True,
    transform: Callable | None = None,
    target_transform: Callable | None = None,
    download: bool = False,  # accepted like CIFAR10's; there is nothing to download
) -> ArrayCIFAR10:
    """The made-up stand-in with CIFAR-10's interface: 3,000 training images, 1,000 validation images."""
    data, targets = make_images(300 if train else 100, seed=0 if train else 1)
    note = "SYNTHETIC stand-in (made-up images, not CIFAR-10)"
    return ArrayCIFAR10(root or "synthetic", data, targets, train, transform, target_transform, note)
