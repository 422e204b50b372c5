"""CIFAR-10's interface over images in memory: image-folder and array copies, the synthetic stand-in."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image
from torchvision.datasets import VisionDataset

from .labels import CLASSES


class ArrayCIFAR10(VisionDataset):
    """Like torchvision's CIFAR10 (.data uint8 NxHxWxC, .targets, .classes; a PIL image and a label per
    item, each through its transform) but built from arrays, so there is nothing to download or verify.

    note says where the images came from; describe() prints it."""

    def __init__(
        self,
        root: str | os.PathLike,
        data: np.ndarray,
        targets: Sequence[int],
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        note: str = "",
    ) -> None:
        super().__init__(os.fspath(root), transform=transform, target_transform=target_transform)
        self.data, self.targets, self.train, self.note = data, list(targets), train, note
        self.classes = list(CLASSES)
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img, target = Image.fromarray(self.data[index]), self.targets[index]
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self) -> int:
        return len(self.data)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Validation'}\n{self.note}"
