"""CIFAR-10's interface over images in memory: image-folder and array copies, the synthetic stand-in."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image
from torchvision.datasets import VisionDataset

from .errors import InvalidInput
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
        data = np.asarray(data)
        if data.dtype != np.uint8 or data.ndim != 4 or data.shape[-1] != 3:
            raise InvalidInput(
                f"images are {data.dtype} shaped {data.shape}: pass uint8 pixels shaped (N, H, W, 3), "
                "as CIFAR10's .data holds them"
            )
        if len(targets) != len(data):
            raise InvalidInput(f"{len(data)} images but {len(targets)} labels: pass one label per image")
        self.data, self.train = data, train
        self.targets = [int(t) for t in targets]  # Python ints, as torchvision's CIFAR10 gives
        self.note = note or f"in-memory images at {self.root}"
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
