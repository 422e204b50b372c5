"""CIFAR-10's class names and the course's remapping to birds vs airplanes."""

from __future__ import annotations

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# airplane stays 0, bird becomes 1, and automobile takes bird's old 2 so no label collides.
LABEL_MAP = {0: 0, 2: 1, 1: 2}
CIFAR2_CLASSES = ("airplane", "bird")
CIFAR2_SOURCE_LABELS = (0, 2)  # the original labels of airplane and bird


def remap_label(label: int) -> int:
    """The course's target_transform: airplane 0->0, bird 2->1, automobile 1->2, others unchanged."""
    return LABEL_MAP.get(label, label)
