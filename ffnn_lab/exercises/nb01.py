"""Checks for notebook 01: what one item is, counting labels, a Dataset of your own."""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np
from PIL import Image

from ..errors import first_line
from .judge import answered, call, check, describe, fail, fresh, is_gap, numbers, right, whole


def _judge_types(types: Any, item: tuple) -> None:
    """types must be (type of the picture, type of the label) of a real item."""
    if not isinstance(types, tuple | list) or len(types) != 2:
        fail("item_types should be a pair: (type of the picture, type of the label)")
    if any(isinstance(t, ModuleType) for t in types):
        fail("that is a module, not a type: the picture's type is a class inside it, as Image.Image")
    if not all(isinstance(t, type) for t in types):
        fail("write the types themselves, e.g. (str, float), not strings or values")
    image, label = item
    picture, number = types
    if picture is object or number is object:
        fail("every value is an object: name the exact types, as type(cifar10[50][0]) shows them")
    if isinstance(label, picture) and isinstance(image, number):
        fail("the pair is the other way round: an item is (picture, label)")
    if not isinstance(image, picture):
        if picture.__module__.startswith(("torch", "numpy")):
            fail(
                f"the picture is not a {picture.__name__} yet: no transform was given, so "
                "torchvision hands out what PIL opened (look at type(cifar10[50][0]))"
            )
        fail(f"the picture is not a {picture.__name__}: look at type(cifar10[50][0])")
    if not isinstance(label, number) or isinstance(label, bool):
        fail(f"the label is not a {number.__name__}: look at type(cifar10[50][1])")


def _pictures(rng: np.random.Generator) -> list[tuple[Image.Image, int]]:
    """RGB pictures drawn now, wider than tall and taller than wide, and one CIFAR-sized."""
    sizes = [(int(rng.integers(5, 12)), int(rng.integers(2, 5))), (int(rng.integers(2, 5)), 9), (32, 32)]
    items = []
    for width, height in sizes:
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        items.append((Image.fromarray(pixels), int(rng.integers(0, 10))))
    return items


def _judge_to_array(fn: Any, item: tuple[Image.Image, int]) -> None:
    image, label = item
    width, height = image.size
    out = call(fn, item, on=f"a picture of width {width} and height {height}", so_far="item_types is right.")
    if not isinstance(out, tuple | list) or len(out) != 2:
        fail("to_array should return a pair: (the picture as an array, the label)")
    array, got_label = out
    if np.ndim(array) == 0 and np.ndim(got_label) > 0:
        fail("the pair is the other way round: (the picture as an array, the label)")
    found = numbers(array, "the picture")
    want = np.asarray(image)
    if found.shape == (width, height, 3) and width != height:
        fail(
            f"on a picture {width} wide and {height} high your array is shaped {found.shape}: "
            "PIL's size is (width, height), but an array of pixels is (height, width, 3)"
        )
    if found.shape == (3, height, width):
        fail(
            f"your array is shaped {found.shape}, colours first as ToTensor does; an array "
            "like cifar10.data keeps them last: (height, width, 3)"
        )
    if found.shape != want.shape:
        fail(f"on a picture {width} wide and {height} high your array is shaped {found.shape}")
    if found.close(want / 255):
        fail("your values run from 0 to 1: keep the picture's bytes, 0..255, as cifar10.data does")
    if not found.close(want, scale=255):
        fail("the array has the right shape but other values than the picture's pixels")
    if whole(got_label, "the label") != label:
        fail(f"the label should be the item's own label ({label} here), but it is {got_label!r}")


@check
def check_item(item_types: tuple, to_array: Any, item: tuple) -> bool:
    """item_types: the two types in a dataset item; to_array(item): (pixels (H, W, 3), label)."""
    _judge_types(answered(item_types), item)
    _, rng = fresh()
    for picture in _pictures(rng):
        _judge_to_array(to_array, picture)
    return right("a PIL image and an int; np.asarray turns the picture into (height, width, 3) bytes.")


def _label_lists(rng: np.random.Generator) -> list[list[int]]:
    """Labels drawn now: one list without class 9 and one without class 0, so every count matters."""
    lists = []
    for missing in (9, 0, None):
        labels = rng.integers(0, 10, int(rng.integers(25, 90))).tolist()
        lists.append([t for t in labels if t != missing] or [1])
    return lists


def _ten_counts(out: Any) -> list[float]:
    if isinstance(out, Mapping):  # a Counter or dict {label: count} is read as counts[c]
        if not all(isinstance(k, int | np.integer) and 0 <= k < 10 for k in out):
            fail("your dict's keys should be the labels 0 to 9")
        return [float(out.get(c, 0)) for c in range(10)]
    found = numbers(out, "counts")
    if found.values.ndim != 1:
        fail(f"counts should be a list of ten numbers, but it has shape {found.shape}")
    return found.values.tolist()


@check
def check_class_counts(class_counts: Any) -> bool:
    """class_counts(targets) must give counts[c] = how many labels equal c, for c = 0..9."""
    _, rng = fresh()
    for targets in _label_lists(rng):
        tally = Counter(targets)
        want = [tally[c] for c in range(10)]
        absent = [c for c in range(10) if c not in tally]
        got = _ten_counts(call(class_counts, list(targets), on=f"a list of {len(targets)} labels"))
        if len(got) != 10:
            gap = f" (class {absent[-1]} does not occur in it)" if absent else ""
            fail(
                f"on a list of {len(targets)} labels{gap} you returned {len(got)} counts: there "
                "are ten classes, so ten counts, a 0 for a class that does not occur (np.bincount "
                "has minlength=10 for that)"
            )
        if got == want:
            continue
        what = f"on a list of {len(targets)} labels"
        if len(targets) > 1 and np.isclose(sum(got), 1):
            fail(f"{what} your counts add up to 1: those are shares; count the labels instead")
        if got[:-1] == want[1:]:
            fail(f"{what} your counts[0] is the number of 1s: counts[c] counts the labels equal to c, from 0")
        if sorted(got) == sorted(want):
            fail(
                f"{what} you have the right counts in another order (sorted by size?): counts[c] is class c's"
            )
        wrong = next(c for c in range(10) if got[c] != want[c])
        total = (
            f" (yours add up to {sum(got):g}: every label is counted once)"
            if sum(got) != len(targets)
            else ""
        )
        fail(f"{what} counts[{wrong}] is {got[wrong]:g}: count the labels equal to {wrong}{total}")
    return right("one count per class, a 0 where a class is missing, read from the labels alone.")


class _Base:
    """A dataset as a Dataset is: len() and one int index at a time, IndexError past the end
    (a list would also take slices, which a real Dataset does not)."""

    def __init__(self, n: int, tag: int) -> None:
        self.items = [(f"item{i}-{tag}", i) for i in range(n)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[str, int]:
        if isinstance(index, slice):
            raise TypeError("a Dataset hands out one item per index: base[::2] works on lists only")
        index = operator.index(index)
        if not 0 <= index < len(self.items):
            raise IndexError(f"index {index} out of range for {len(self.items)} items")
        return self.items[index]


def _judge_length(ds: Any, n: int) -> int:
    if getattr(type(ds), "__len__", None) is None:
        fail("EveryOther needs a __len__ method: len() asks it how many items there are")
    size = call(type(ds).__len__, ds, on=f"a dataset of {n} items")
    try:
        size = operator.index(size)
    except TypeError:
        fail(f"__len__ returned {size!r}: len() only accepts an int (use // to divide)")
    wanted = len(range(0, n, 2))
    if size != wanted:
        fail(
            f"over a dataset of {n} items, len() gives {size}: count the items at even "
            "positions 0, 2, 4, ... (an odd-sized base has one more of them than half)"
        )
    return size


def _judge_item(ds: Any, base: _Base, k: int) -> None:
    item = call(type(ds).__getitem__, ds, k, on=f"index {k} over a dataset of {len(base)} items")
    if item == base.items[2 * k]:
        return
    hint = ""
    if item == base.items[k]:
        hint = ": that is base[k]; skip every second item"
    elif 2 * k + 1 < len(base) and item == base.items[2 * k + 1]:
        hint = ": that is an item at an odd position; start from position 0"
    fail(f"item {k} over a base of {len(base)} items is {item!r}, not base[2 * {k}]{hint}")


def _judge_end(ds: Any, size: int) -> None:
    try:
        ds[size]
    except IndexError:
        return
    except Exception as error:  # any other error would break a for loop over the dataset
        fail(
            f"asking for item {size} of {size} raised {type(error).__name__} ({first_line(error)}): "
            "past the end, __getitem__ must raise IndexError so that a for loop stops"
        )
    fail(
        f"item {size} of a dataset with {size} items exists: past the end, __getitem__ must "
        "raise IndexError (a for loop would never stop otherwise)"
    )


@check
def check_every_other(cls: Any) -> bool:
    """EveryOther(base) must show items 0, 2, 4, ... of base, with the right len and an end."""
    if not callable(cls) and not is_gap(cls):
        fail(f"pass the class itself, EveryOther, not {describe(cls)}: the check builds its own instances")
    _, rng = fresh()
    sizes = [int(rng.integers(3, 20)) | 1, 1, 2, int(rng.integers(3, 20)) & ~1 or 4, 0]
    for tag, n in enumerate(sizes):
        base = _Base(n, tag)
        ds = call(cls, base, on=f"a dataset of {n} items")
        size = _judge_length(ds, n)
        for k in range(size):
            _judge_item(ds, base, k)
        _judge_end(ds, size)
        if [item for item in ds] != base.items[::2]:
            fail(f"a for loop over EveryOther of {n} items does not give items 0, 2, 4, ... in order")
    return right("len, indexing and the IndexError at the end all follow the Dataset protocol.")
