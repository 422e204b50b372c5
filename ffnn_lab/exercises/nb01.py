"""Checks for notebook 01: the Dataset protocol, labels without decoding, what an item is."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from . import FAILED, attempt, check, not_answered, not_yet, returned_nothing, right, unanswered


@check
def check_every_other(cls: type) -> bool:
    """EveryOther(base) must show items 0, 2, 4, ... of base, with the right len and an end."""
    for n in (0, 1, 6, 7):
        base = [(f"item{i}", i) for i in range(n)]
        ds = attempt(cls, base)
        if ds is FAILED:
            return False
        if getattr(ds, "__len__", None) is not None and attempt(ds.__len__) is None:
            return returned_nothing()
        size = attempt(len, ds)
        if size is FAILED:
            return False
        wanted = (n + 1) // 2
        if size != wanted:
            return not_yet(
                f"over a dataset of {n} items, len() gives {size!r}: count the items at "
                "even positions (an odd-sized base has one more of them)"
            )
        for k in range(wanted):
            item = attempt(ds.__getitem__, k)
            if item is FAILED:
                return False
            if item is None:
                return returned_nothing()
            if item != base[2 * k]:
                hint = " (that is base[k]: skip every second item)" if item == base[k] else ""
                return not_yet(
                    f"item {k} over a base of {n} items is {item!r}, not the item at "
                    f"position 2 * {k} of the base{hint}"
                )
        try:
            ds[wanted]
        except IndexError:
            continue
        except Exception as error:  # any other error would break a for loop over the dataset
            return not_yet(
                f"asking for item {wanted} of {wanted} raised {type(error).__name__}: "
                "past the end, __getitem__ must raise IndexError so a for loop stops"
            )
        return not_yet(
            f"item {wanted} of a dataset with {wanted} items exists: past the end, "
            "__getitem__ must raise IndexError (a for loop would never stop otherwise)"
        )
    return right("len, indexing and the IndexError at the end all follow the Dataset protocol.")


@check
def check_class_counts(counts: Sequence[int], targets: Sequence[int]) -> bool:
    """counts[c] must be how many labels in targets equal c, for all ten classes."""
    values = np.asarray(counts.tolist() if isinstance(counts, torch.Tensor) else counts)
    if values.shape != (10,):
        return not_yet(f"expected one count per class, 10 numbers, got shape {values.shape}")
    if not np.issubdtype(values.dtype, np.integer):
        return not_yet(f"counts should be whole numbers, got {values.dtype}")
    wanted = np.bincount(np.asarray(targets), minlength=10)
    if values.sum() != len(targets):
        return not_yet(
            "the counts do not add up to the number of pictures: every picture has exactly one label"
        )
    wrong = [c for c in range(10) if values[c] != wanted[c]]
    if wrong:
        return not_yet(
            f"the count of class {wrong[0]} is off: count the labels equal to {wrong[0]}, "
            "in the order of cifar10.classes"
        )
    return right("one count per class, read from the labels alone: no picture decoded.")


@check
def check_item_types(types: tuple, item: tuple) -> bool:
    """types must be (image type, label type) of a dataset item, e.g. what cifar10[i] returns."""
    if not isinstance(types, tuple) or len(types) != 2:
        return not_yet("expected a pair: (type of the picture, type of the label)")
    if all(unanswered(t) for t in types):
        return not_answered()
    if not all(isinstance(t, type) for t in types):
        return not_yet("write the types themselves, e.g. str or np.ndarray, not strings or values")
    image, label = item
    if types[0] is torch.Tensor or types[0] is np.ndarray:
        return not_yet(
            f"the picture is not a {types[0].__name__} yet: no transform was given, so "
            "torchvision hands out what PIL opened"
        )
    if not isinstance(image, types[0]) or not issubclass(types[0], Image.Image):
        return not_yet(f"the picture is not a {types[0].__name__}: look at type(img) above")
    if types[1] is not type(label):
        return not_yet(f"the label is not a {types[1].__name__}: look at type(label) above")
    return right("a PIL image and a plain int; tensors come with transforms in notebook 02.")
