"""Every self-check tried as students try it: right answers written other ways (other dtypes,
NumPy or torch, loops or vectorised), the typical mistakes, and hard-coded values or the
shortcuts the text forbids. Each attempt asserts the verdict and that the message names the
real problem. The checks draw fresh inputs at every call, so this corpus meets new ones on
every run."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms
from torchvision.transforms import v2 as transforms_v2

import ffnn_lab
from ffnn_lab import exercises, tensors
from ffnn_lab.exercises import nb01, nb02, nb03, nb04, nb05, nb06, nb07, nb09

MODULES = (nb01, nb02, nb03, nb04, nb05, nb06, nb07, nb09)


@dataclass(frozen=True)
class Attempt:
    """One student attempt at a check: its kind (right, mistake, shortcut), the arguments the
    notebook passes, and words the message must contain."""

    kind: str
    label: str
    args: tuple
    says: tuple[str, ...]


def right(label, *args, says=()):
    return Attempt("right", label, args, (says,) if isinstance(says, str) else says)


def mistake(label, *args, says):
    return Attempt("mistake", label, args, (says,) if isinstance(says, str) else says)


def shortcut(label, *args, says):
    """A hard-coded value or a shortcut the exercise text forbids."""
    return Attempt("shortcut", label, args, (says,) if isinstance(says, str) else says)


# ---- 01 ---------------------------------------------------------------------------------

ITEM = (Image.fromarray(np.arange(32 * 32 * 3, dtype=np.uint8).reshape(32, 32, 3)), 3)
TYPES = (Image.Image, int)


def to_array(item):
    picture, label = item
    return np.asarray(picture), label


def to_array_by_pixel(item):
    picture, label = item
    width, height = picture.size
    rows = [[picture.getpixel((x, y)) for x in range(width)] for y in range(height)]
    return np.array(rows, dtype=np.uint8), label


def to_array_by_size(item):
    picture, label = item
    return np.asarray(picture).reshape(*picture.size, 3), label  # PIL.size is (width, height)


class EveryOther(Dataset):
    def __init__(self, base):
        self.base = base

    def __len__(self):
        return (len(self.base) + 1) // 2

    def __getitem__(self, k):
        if not 0 <= k < len(self):
            raise IndexError(k)
        return self.base[2 * k]


class EveryOtherByPositions(Dataset):
    def __init__(self, base):
        self.base, self.positions = base, list(range(0, len(base), 2))

    def __len__(self):
        return len(self.positions)

    def __getitem__(self, k):
        return self.base[self.positions[k]]  # the list raises IndexError past the end


class EveryOtherWithCeil(EveryOther):
    def __len__(self):
        return math.ceil(len(self.base) / 2)


class EveryOtherByRange(EveryOther):
    def __len__(self):
        return len(range(0, len(self.base), 2))

    def __getitem__(self, k):
        return self.base[range(0, len(self.base), 2)[k]]


class FirstHalf(EveryOther):
    def __getitem__(self, k):
        if not 0 <= k < len(self):
            raise IndexError(k)
        return self.base[k]


class NeverEnds(EveryOther):
    def __getitem__(self, k):
        return self.base[(2 * k) % len(self.base)]


class HalfLength(EveryOther):
    def __len__(self):
        return len(self.base) // 2


class Slices(EveryOther):
    def __getitem__(self, k):
        return self.base[::2][k]


class OddPositions(EveryOther):
    def __getitem__(self, k):
        return self.base[2 * k + 1]


class FloatLength(EveryOther):
    def __len__(self):
        return len(self.base) / 2


class FixedLength(EveryOther):
    def __len__(self):
        return 4


def class_counts_loop(targets):
    counts = [0] * 10
    for label in targets:
        counts[label] += 1
    return counts


# ---- 02 ---------------------------------------------------------------------------------

LECTURE_STATS = (torch.tensor([0.4914, 0.4822, 0.4465]), torch.tensor([0.2470, 0.2435, 0.2616]))


def stats_torch(data):
    x = torch.as_tensor(data, dtype=torch.float64).reshape(-1, 3) / 255
    return x.mean(dim=0), x.std(dim=0)


def stats_lecture_way(data):
    x = torch.from_numpy(data).permute(3, 0, 1, 2).reshape(3, -1).float() / 255
    return x.mean(dim=1), x.std(dim=1)


def stats_loop(data):
    means, stds = [], []
    for c in range(3):
        values = data[..., c].astype(np.float64) / 255
        means.append(values.mean())
        stds.append(values.std())
    return means, stds


def stats_mixed(data):
    x = torch.from_numpy(data).reshape(3, -1).double() / 255
    return x.mean(dim=1), x.std(dim=1)


def stats_per_picture(data):
    x = data / 255
    return x.mean(axis=(0, 1, 2)), x.std(axis=(1, 2)).mean(axis=0)


def normalize(t, mean, std):
    return (t - torch.tensor(mean, dtype=t.dtype).view(-1, 1, 1)) / torch.tensor(std, dtype=t.dtype).view(
        -1, 1, 1
    )


def normalize_loop(t, mean, std):
    return torch.stack([(t[c] - mean[c]) / std[c] for c in range(len(mean))])


def normalize_in_place(t, mean, std):
    return t.sub_(torch.tensor(mean).view(3, 1, 1).to(t.dtype)).div_(
        torch.tensor(std).view(3, 1, 1).to(t.dtype)
    )


def vehicle(label):
    return int(ffnn_lab.CLASSES[label] in {"airplane", "automobile", "ship", "truck"})


def vehicle_table(label):
    return [1, 1, 0, 0, 0, 0, 0, 0, 1, 1][label]


def vehicle_numpy(label):
    return np.int64(label in (0, 1, 8, 9))


def vehicle_if(label):
    if label in (0, 1, 8, 9):
        return 1
    return 0


def vehicle_bool(label):
    return label in {0, 1, 8, 9}


def vehicle_float(label):
    return float(label in {0, 1, 8, 9})


def vehicle_no_ship(label):
    return int(label in {0, 1, 9})


def vehicle_inverted(label):
    return int(label not in {0, 1, 8, 9})


def always_vehicle(label):
    return 1


# ---- 03 ---------------------------------------------------------------------------------

naive_map = {2: 1}


def naive_kept(targets):
    return [i for i, label in enumerate(targets) if naive_map.get(label, label) in {0, 1}]


def naive_kept_loop(targets):
    kept = []
    for i, label in enumerate(targets):
        if label == 2:
            label = 1
        if label in (0, 1):
            kept.append(i)
    return kept


def naive_kept_numpy(targets):
    t = np.asarray(targets, dtype=np.int64)
    return np.flatnonzero(np.isin(np.where(t == 2, 1, t), [0, 1]))


def course_map_kept(targets):
    course = {1: 2, 2: 1}
    return [i for i, label in enumerate(targets) if course.get(label, label) in {0, 1}]


def cifar2_positions(targets):
    return [i for i, label in enumerate(targets) if label in {0, 2}]


def cifar2_positions_loop(targets):
    found = []
    for i in range(len(targets)):
        if targets[i] == 0 or targets[i] == 2:
            found.append(i)
    return found


def cifar2_aliased(targets):
    from ffnn_lab import cifar2_indices as pick

    return pick(targets)


def majority(labels):
    return torch.bincount(labels).max().item() / len(labels)


def majority_counter(labels):
    return Counter(labels.tolist()).most_common(1)[0][1] / len(labels)


def majority_mode(labels):
    return (labels == labels.mode().values).float().mean()


def majority_unique(labels):
    return labels.unique(return_counts=True)[1].max() / len(labels)


# ---- 04 ---------------------------------------------------------------------------------

DEEP = 3072 * 1024 + 1024 + 1024 * 512 + 512 + 512 * 128 + 128 + 128 * 2 + 2
DEEP_WEIGHTS = 3072 * 1024 + 1024 * 512 + 512 * 128 + 128 * 2


def count(widths):
    return sum(a * b + b for a, b in zip(widths, widths[1:]))


def count_loop(widths):
    total = 0
    for i in range(len(widths) - 1):
        total += widths[i] * widths[i + 1] + widths[i + 1]
    return total


def count_numpy(widths):
    w = np.array(widths, dtype=np.int64)
    return np.sum(w[:-1] * w[1:] + w[1:])


def count_with_torch(widths):
    layers = [nn.Linear(a, b, device="meta") for a, b in zip(widths, widths[1:])]
    return torch.tensor(sum(p.numel() for layer in layers for p in layer.parameters()))


def count_recursive(widths):
    if len(widths) < 2:
        return 0
    return widths[0] * widths[1] + widths[1] + count_recursive(widths[1:])


def count_with_library(widths):
    layers = [nn.Linear(a, b, device="meta") for a, b in zip(widths, widths[1:])]
    return ffnn_lab.count_parameters(nn.Sequential(*layers))


def softmax_rows(s):
    e = torch.exp(s - s.max(dim=1, keepdim=True).values)
    return e / e.sum(dim=1, keepdim=True)


def softmax_rows_numpy(s):
    x = s.numpy()
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_rows_loop(s):
    rows = []
    for row in s:
        e = torch.exp(row - row.max())
        rows.append(e / e.sum())
    return torch.stack(rows)


def softmax_row_min(s):
    e = torch.exp(s - s.min(dim=1, keepdim=True).values)
    return e / e.sum(dim=1, keepdim=True)


def softmax_global_max(s):
    e = torch.exp(s - s.max())
    return e / e.sum(dim=1, keepdim=True)


EXPLAINED = (
    "With random weights the scores come from the initialisation, not from the picture: softmax "
    "always makes two numbers that add up to 1. Act on it only once the model is trained and tested."
)


# ---- 05 ---------------------------------------------------------------------------------


def cross_entropy(z, y):
    top = z.max(dim=1, keepdim=True).values
    log_probs = z - top - torch.log(torch.exp(z - top).sum(dim=1, keepdim=True))
    return -log_probs[torch.arange(len(y)), y].mean()


def cross_entropy_numpy(z, y):
    x = z.numpy()
    top = x.max(axis=1, keepdims=True)
    log_probs = x - top - np.log(np.exp(x - top).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(y)), y.numpy()].mean()


def cross_entropy_loop(z, y):
    total = 0.0
    for row, label in zip(z.double(), y):
        total += torch.logsumexp(row, dim=0) - row[label]
    return total / len(y)


def cross_entropy_naive(z, y):
    probs = torch.exp(z) / torch.exp(z).sum(dim=1, keepdim=True)
    return -torch.log(probs)[torch.arange(len(y)), y].mean()


def grad(z, y):
    return (torch.softmax(z, dim=1) - F.one_hot(y, z.shape[1]).to(z.dtype)) / len(y)


def grad_scatter(z, y):
    target = torch.zeros_like(z).scatter_(1, y[:, None], 1.0)
    e = torch.exp(z - z.max(dim=1, keepdim=True).values)
    return (e / e.sum(dim=1, keepdim=True) - target) / len(y)


def grad_eye(z, y):
    return (z.softmax(1) - torch.eye(z.shape[1], dtype=z.dtype)[y]) / z.shape[0]


def grad_numpy(z, y):
    e = np.exp(z.numpy() - z.numpy().max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True) - np.eye(z.shape[1])[y.numpy()]) / len(y)


def grad_overflowing(z, y):
    e = torch.exp(z)
    return (e / e.sum(dim=1, keepdim=True) - F.one_hot(y, z.shape[1])) / len(y)


def grad_autograd(z, y):
    z = z.clone().requires_grad_()
    (g,) = torch.autograd.grad(F.cross_entropy(z, y), z)
    return g


def grad_backward(z, y):
    z = z.clone().requires_grad_()
    F.cross_entropy(z, y).backward()
    return z.grad


# ---- 06 ---------------------------------------------------------------------------------


def batch_sizes(n, b, drop_last=False):
    full, rest = divmod(n, b)
    return [b] * full + ([rest] if rest and not drop_last else [])


def batch_sizes_loop(n, b, drop_last=False):
    sizes, start = [], 0
    while start < n:
        size = min(b, n - start)
        if size == b or not drop_last:
            sizes.append(size)
        start += b
    return sizes


def batch_sizes_split(n, b, drop_last=False):
    sizes = torch.tensor([len(part) for part in torch.arange(n).split(b)], dtype=torch.long)
    return sizes[sizes == b] if drop_last else sizes


def batch_sizes_loader(n, b, drop_last=False):
    return [len(batch) for batch in DataLoader(range(n), batch_size=b, drop_last=drop_last)]


def accuracy(model, loader):
    model.eval()
    correct = seen = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(dim=1) == y).sum().item()
            seen += len(y)
    return correct / seen


def accuracy_tensor(model, loader):
    model.eval()
    with torch.inference_mode():
        hits = torch.cat([model(x).argmax(1) == y for x, y in loader])
    return hits.float().mean()


def accuracy_dataset_length(model, loader):
    model.eval()
    with torch.no_grad():
        correct = sum((model(x).argmax(1) == y).sum() for x, y in loader)
    return np.float64(correct / len(loader.dataset))


def no_eval(model, loader):
    with torch.no_grad():
        return sum((model(x).argmax(1) == y).sum().item() for x, y in loader) / len(loader.dataset)


def batch_mean(model, loader):
    model.eval()
    with torch.no_grad():
        accs = [(model(x).argmax(1) == y).float().mean().item() for x, y in loader]
    return sum(accs) / len(accs)


def with_graph(model, loader):
    model.eval()
    return sum((model(x).argmax(1) == y).sum().item() for x, y in loader) / len(loader.dataset)


def count_only(model, loader):
    model.eval()
    with torch.no_grad():
        return sum((model(x).argmax(1) == y).sum().item() for x, y in loader)


def full_batches(model, loader):
    model.eval()
    with torch.no_grad():
        correct = sum((model(x).argmax(1) == y).sum().item() for x, y in loader)
    return correct / (len(loader) * loader.batch_size)


def random_shift(x, max_shift, generator):
    d = torch.randint(-max_shift, max_shift + 1, (len(x), 2), generator=generator)
    return torch.stack([ffnn_lab.shift(img, dx, dy) for img, (dx, dy) in zip(x, d.tolist())])


def random_shift_one_by_one(x, max_shift, generator):
    out = torch.empty_like(x)
    for i in range(len(x)):
        dx = int(torch.randint(-max_shift, max_shift + 1, (1,), generator=generator))
        dy = int(torch.randint(-max_shift, max_shift + 1, (1,), generator=generator))
        out[i] = ffnn_lab.shift(x[i], dx, dy)
    return out


def random_shift_pad_crop(x, max_shift, generator):
    m, (h, w) = max_shift, x.shape[-2:]
    padded = F.pad(x, (m, m, m, m))
    offsets = torch.randint(0, 2 * m + 1, (len(x), 2), generator=generator).tolist()
    return torch.stack([p[:, oy : oy + h, ox : ox + w] for p, (oy, ox) in zip(padded, offsets)])


def random_shift_library(x, max_shift, generator):
    """Built on the package's batch augmentation, with flips off."""
    if hasattr(tensors, "augment"):
        return tensors.augment(x, max_shift, flip=False, generator=generator)
    draws = tensors.augmentation_draws(len(x), max_shift, False, generator)
    return tensors.apply_augmentation(x, draws, max_shift, False)


def one_shift_for_all(x, max_shift, generator):
    dx, dy = torch.randint(-max_shift, max_shift + 1, (2,), generator=generator).tolist()
    return ffnn_lab.shift(x, dx, dy)


def one_way(x, max_shift, generator):
    d = torch.randint(0, max_shift + 1, (len(x), 2), generator=generator)
    return torch.stack([ffnn_lab.shift(img, dx, dy) for img, (dx, dy) in zip(x, d.tolist())])


def global_generator(x, max_shift, generator):
    return random_shift(x, max_shift, None)


def rolls(x, max_shift, generator):
    d = torch.randint(-max_shift, max_shift + 1, (len(x), 2), generator=generator)
    return torch.stack([img.roll((dy, dx), dims=(-2, -1)) for img, (dx, dy) in zip(x, d.tolist())])


def in_place(x, max_shift, generator):
    x[:] = random_shift(x, max_shift, generator)
    return x


def exclusive_bound(x, max_shift, generator):
    d = torch.randint(-max_shift, max_shift, (len(x), 2), generator=generator)
    return torch.stack([ffnn_lab.shift(img, dx, dy) for img, (dx, dy) in zip(x, d.tolist())])


def diagonal_only(x, max_shift, generator):
    d = torch.randint(-max_shift, max_shift + 1, (len(x),), generator=generator).tolist()
    return torch.stack([ffnn_lab.shift(img, s, s) for img, s in zip(x, d)])


def with_flips(x, max_shift, generator):
    if hasattr(tensors, "augment"):
        return tensors.augment(x, max_shift, flip=True, generator=generator)
    draws = tensors.augmentation_draws(len(x), max_shift, True, generator)
    return tensors.apply_augmentation(x, draws, max_shift, True)


def one_shift_per_pair(x, max_shift, generator):
    d = torch.randint(
        -max_shift, max_shift + 1, ((len(x) + 1) // 2, 2), generator=generator
    ).repeat_interleave(2, 0)
    return torch.stack([ffnn_lab.shift(img, dx, dy) for img, (dx, dy) in zip(x, d.tolist())])


def fixed_pattern(x, max_shift, generator):
    moves = [(dx, dy) for dy in range(-max_shift, max_shift + 1) for dx in range(-max_shift, max_shift + 1)]
    return torch.stack([ffnn_lab.shift(img, *moves[i % len(moves)]) for i, img in enumerate(x)])


# ---- 07 ---------------------------------------------------------------------------------

MATRIX = torch.tensor([[812, 188], [169, 831]])
HALF_WAY = torch.tensor([[306, 894], [390, 26]])  # 894/1200 = 0.745


def pixel_weights(layer, row, col):
    return layer.weight.view(layer.out_features, 3, 32, 32)[:, :, row, col]


def pixel_weights_index(layer, row, col):
    return layer.weight[:, [c * 32 * 32 + row * 32 + col for c in range(3)]]


def pixel_weights_numpy(layer, row, col):
    return layer.weight.detach().numpy().reshape(-1, 3, 32, 32)[..., row, col]


def pixel_weights_loop(layer, row, col):
    return torch.stack([layer.weight[:, c * 1024 + row * 32 + col] for c in range(3)], dim=1)


def read_confusion(m):
    return (
        m.diagonal().sum().item() / m.sum().item(),
        (m[1, 1] / m[1].sum()).item(),
        (m[0, 1] / m[0].sum()).item(),
    )


def read_confusion_rows(m):
    shares = m / m.sum(dim=1, keepdim=True)
    return torch.stack([m.trace() / m.sum(), shares[1, 1], shares[0, 1]])


def read_confusion_numpy(m):
    a = np.asarray(m, dtype=np.float32)
    return np.trace(a) / a.sum(), a[1, 1] / a[1].sum(), a[0, 1] / a[0].sum()


def mean_cost(p, is_bird, threshold):
    say_bird = p > threshold
    missed = (~say_bird & (is_bird == 1)).sum().item()
    false_alarms = (say_bird & (is_bird == 0)).sum().item()
    return (9 * missed + false_alarms) / len(is_bird)


def mean_cost_where(p, is_bird, threshold):
    costs = torch.where(p >= threshold, (is_bird == 0).float(), 9.0 * (is_bird == 1).float())
    return costs.mean()


def mean_cost_loop(p, is_bird, threshold):
    total = 0
    for prob, bird in zip(p.tolist(), is_bird.tolist()):
        if prob > threshold and not bird:
            total += 1
        elif prob <= threshold and bird:
            total += 9
    return np.float32(total / len(p))


def cost_with(miss, alarm, inverted=False, total=False):
    def attempt(p, is_bird, threshold):
        say_bird = (p < threshold) if inverted else (p > threshold)
        cost = (
            miss * (~say_bird & (is_bird == 1)).sum().item()
            + alarm * (say_bird & (is_bird == 0)).sum().item()
        )
        return cost if total else cost / len(p)

    return attempt


REASONED = (
    "Not always: argmax keeps the number of mistakes low, which is right only when every mistake "
    "costs the same. Here bird is cheaper from p = 0.1, and our network is overconfident."
)


# ---- 09 ---------------------------------------------------------------------------------


def standard_error(accuracy, n):
    return (accuracy * (1 - accuracy) / n) ** 0.5


def standard_error_torch(accuracy, n):
    return torch.sqrt(torch.tensor(accuracy * (1 - accuracy) / n))


WHY_TEST = (
    "The hold-out figures were used to choose the recipe and the epochs, so their luck was "
    "selected; the best epoch peeks even more. The test split made no choice at all."
)


def mixup(x, y, lam, partner):
    t = F.one_hot(y, 2).float()
    return lam * x + (1 - lam) * x[partner], lam * t + (1 - lam) * t[partner]


def mixup_lerp(x, y, lam, partner):
    t = torch.eye(2, dtype=torch.float64)[y]
    return torch.lerp(x[partner], x, lam), torch.lerp(t[partner], t, lam)


def mixup_numpy_targets(x, y, lam, partner):
    t = np.eye(2)[y.numpy()]
    return lam * x + (1 - lam) * x[partner], lam * t + (1 - lam) * t[partner.numpy()]


def mixup_no_classes(x, y, lam, partner):
    t = F.one_hot(y).float()
    return lam * x + (1 - lam) * x[partner], lam * t + (1 - lam) * t[partner]


def dropout_in_place(h, p, keep):
    h[~keep] = 0
    return h / (1 - p)


# ---- the corpus ---------------------------------------------------------------------------

CORPUS: dict[str, list[Attempt]] = {
    "nb01.check_item": [
        right("asarray", TYPES, to_array, ITEM, says="PIL image"),
        right(
            "np.array copy and a tensor label", TYPES, lambda it: (np.array(it[0]), torch.tensor(it[1])), ITEM
        ),
        right("pixel by pixel", TYPES, to_array_by_pixel, ITEM),
        right(
            "torch uint8",
            (type(ITEM[0]), type(ITEM[1])),
            lambda it: (torch.from_numpy(np.array(it[0])), it[1]),
            ITEM,
        ),
        right("a list pair", TYPES, lambda it: [np.asarray(it[0]), int(it[1])], ITEM),
        mistake("tensor type", (torch.Tensor, int), to_array, ITEM, says="not a Tensor yet"),
        mistake("names as strings", ("PIL", "int"), to_array, ITEM, says="types themselves"),
        mistake("types swapped", (int, Image.Image), to_array, ITEM, says="other way round"),
        mistake("width and height swapped", TYPES, to_array_by_size, ITEM, says="(width, height)"),
        mistake(
            "ToTensor",
            TYPES,
            lambda it: (transforms.ToTensor()(it[0]).numpy() * 255, it[1]),
            ITEM,
            says="colours first",
        ),
        mistake(
            "scaled to 0..1", TYPES, lambda it: (np.asarray(it[0]) / 255, it[1]), ITEM, says="from 0 to 1"
        ),
        mistake("no label", TYPES, lambda it: np.asarray(it[0]), ITEM, says="should return a pair"),
        mistake("grey", TYPES, lambda it: (np.asarray(it[0].convert("L")), it[1]), ITEM, says="shaped"),
        mistake(
            "wrong label", TYPES, lambda it: (np.asarray(it[0]), 0 if it[1] else 1), ITEM, says="own label"
        ),
        shortcut(
            "a fixed picture", TYPES, lambda it: (np.zeros((32, 32, 3), np.uint8), 3), ITEM, says="shaped"
        ),
    ],
    "nb01.check_class_counts": [
        right("bincount", lambda t: np.bincount(t, minlength=10), says="a 0 where a class is missing"),
        right("list.count", lambda t: [t.count(c) for c in range(10)]),
        right("torch", lambda t: torch.bincount(torch.tensor(t), minlength=10)),
        right("Counter", lambda t: Counter(t)),
        right("loop", class_counts_loop),
        mistake("no minlength", lambda t: np.bincount(t), says=("ten counts", "minlength")),
        mistake("unique", lambda t: np.unique(t, return_counts=True)[1], says="ten counts"),
        mistake("shares", lambda t: np.bincount(t, minlength=10) / len(t), says="shares"),
        mistake(
            "from 1 to 10", lambda t: [t.count(c) for c in range(1, 11)], says="counts[0] is the number of 1s"
        ),
        mistake("most_common", lambda t: Counter(t).most_common(), says="list of ten numbers"),
        mistake("sorted", lambda t: sorted(np.bincount(t, minlength=10)), says="sorted by size"),
        shortcut("cifar10's counts", lambda t: [5000] * 10, says="add up to"),
    ],
    "nb01.check_every_other": [
        right("range check", EveryOther, says="Dataset protocol"),
        right("positions list", EveryOtherByPositions),
        right("ceil", EveryOtherWithCeil),
        right("range object", EveryOtherByRange),
        mistake("first half", FirstHalf, says="skip every second item"),
        mistake("never ends", NeverEnds, says="must raise IndexError"),
        mistake("half length", HalfLength, says="odd-sized base"),
        mistake("slices", Slices, says="base[::2] works on lists only"),
        mistake("odd positions", OddPositions, says="odd position"),
        mistake("float length", FloatLength, says="only accepts an int"),
        shortcut("fixed length", FixedLength, says="len() gives 4"),
    ],
    "nb02.check_channel_stats": [
        right("torch float64", stats_torch, says="0..1 scale"),
        right("numpy", lambda d: (d.mean(axis=(0, 1, 2)) / 255, d.std(axis=(0, 1, 2)) / 255)),
        right(
            "float32",
            lambda d: (lambda x: (x.mean((0, 1, 2)), x.std((0, 1, 2))))(torch.from_numpy(d).float() / 255),
        ),
        right("the lecture's way", stats_lecture_way),
        right("loop over channels", stats_loop),
        mistake(
            "0..255 mean",
            lambda d: (d.mean(axis=(0, 1, 2)), d.std(axis=(0, 1, 2)) / 255),
            says="0..255 scale",
        ),
        mistake(
            "variance",
            lambda d: (d.mean(axis=(0, 1, 2)) / 255, (d / 255).var(axis=(0, 1, 2))),
            says="variance",
        ),
        mistake("0..255 std", lambda d: (d.mean(axis=(0, 1, 2)) / 255, d.std(axis=(0, 1, 2))), says="0..255"),
        mistake("all axes", lambda d: (d.mean() / 255, d.std() / 255), says="shape ()"),
        mistake("reshape mixes", stats_mixed, says="mixes the channels"),
        mistake("reversed", lambda d: stats_torch(d[..., ::-1].copy()), says="reverse channel order"),
        mistake("per picture", stats_per_picture, says="each picture's own std"),
        shortcut("channel_stats", lambda d: ffnn_lab.channel_stats(d), says="without ffnn_lab.channel_stats"),
        shortcut("the lecture's numbers", lambda d: LECTURE_STATS, says="means"),
    ],
    "nb02.check_normalize": [
        right("view", normalize, says="like transforms.Normalize"),
        right(
            "float64 statistics",
            lambda t, m, s: (
                (t - torch.tensor(m, dtype=torch.float64)[:, None, None])
                / torch.tensor(s, dtype=torch.float64)[:, None, None]
            ),
        ),
        right("loop over channels", normalize_loop),
        right("numpy", lambda t, m, s: (t.numpy() - np.reshape(m, (3, 1, 1))) / np.reshape(s, (3, 1, 1))),
        right(
            "sub and div",
            lambda t, m, s: t.sub(torch.as_tensor(m).view(3, 1, 1)).div(torch.as_tensor(s).view(3, 1, 1)),
        ),
        mistake(
            "divide first",
            lambda t, m, s: t / torch.tensor(s).view(3, 1, 1) - torch.tensor(m).view(3, 1, 1),
            says="subtract the mean first",
        ),
        mistake(
            "multiply",
            lambda t, m, s: (t - torch.tensor(m).view(3, 1, 1)) * torch.tensor(s).view(3, 1, 1),
            says="instead of multiplying",
        ),
        mistake(
            "shape (3,)",
            lambda t, m, s: (t - torch.tensor(m)) / torch.tensor(s),
            says="lines up with the last axis",
        ),
        mistake("in place", normalize_in_place, says="changed the tensor it was given"),
        mistake(
            "reversed statistics", lambda t, m, s: normalize(t, m[::-1], s[::-1]), says="another channel's"
        ),
        mistake("a helper named normalize", lambda t, m, s: normalize(t, m, s) + 1, says="another channel's"),
        mistake("mean and std swapped", lambda t, m, s: normalize(t, s, m), says="mean and std are swapped"),
        shortcut(
            "Normalize", lambda t, m, s: transforms.Normalize(m, s)(t), says="without transforms.Normalize"
        ),
        shortcut(
            "functional",
            lambda t, m, s: transforms.functional.normalize(t, m, s),
            says="without transforms.Normalize",
        ),
    ],
    "nb02.check_vehicle_transform": [
        right("names", vehicle, says="picklable"),
        right("table", vehicle_table),
        right("numpy int", vehicle_numpy),
        right("if", vehicle_if),
        mistake("bool", vehicle_bool, says="a bool"),
        mistake("float", vehicle_float, says="a float"),
        mistake("lambda", lambda label: int(label in {0, 1, 8, 9}), says="cannot be pickled"),
        mistake("no ship", vehicle_no_ship, says="says a ship is an animal"),
        mistake("inverted", vehicle_inverted, says="look the names up"),
        mistake("tensor bool", lambda label: torch.tensor(label in {0, 1, 8, 9}), says="a bool"),
        shortcut("always 1", always_vehicle, says="is a vehicle"),
    ],
    "nb03.check_label_trap": [
        right("dict.get", naive_kept, says="every automobile slipped in"),
        right("loop", naive_kept_loop),
        right("numpy", naive_kept_numpy),
        right("classes worked out", lambda t: [i for i, label in enumerate(t) if label <= 2]),
        mistake("the right CIFAR-2 filter", cifar2_positions, says="right CIFAR-2 filter"),
        mistake(
            "no map", lambda t: [i for i, label in enumerate(t) if label in {0, 1}], says="no bird got in"
        ),
        mistake("the course's map", course_map_kept, says="right CIFAR-2 filter"),
        mistake(
            "labels, not positions",
            lambda t: [naive_map.get(x, x) for x in t if naive_map.get(x, x) < 2],
            says="labels?",
        ),
        mistake("a mask", lambda t: [naive_map.get(x, x) in {0, 1} for x in t], says="mask"),
        mistake(
            "one class too many",
            lambda t: [i for i, label in enumerate(t) if label <= 3],
            says="class 3 (cat) got in",
        ),
        shortcut("nothing", lambda t: [], says="missing"),
    ],
    "nb03.check_cifar2_positions": [
        right("comprehension", cifar2_positions, says="original labels"),
        right("numpy", lambda t: np.flatnonzero(np.isin(t, [0, 2]))),
        right(
            "torch",
            lambda t: torch.nonzero(
                (torch.tensor(t, dtype=torch.long) == 0) | (torch.tensor(t, dtype=torch.long) == 2)
            ).flatten(),
        ),
        right("loop", cifar2_positions_loop),
        mistake(
            "mapped labels", lambda t: [i for i, x in enumerate(t) if x in {0, 1}], says="ORIGINAL labels"
        ),
        mistake("reversed", lambda t: cifar2_positions(t)[::-1], says="another order"),
        mistake("airplanes only", lambda t: [i for i, x in enumerate(t) if x == 0], says="missing"),
        mistake("mask", lambda t: [x in {0, 2} for x in t], says="mask"),
        mistake("from 1", lambda t: [i + 1 for i in cifar2_positions(t)], says="positions run from 0"),
        shortcut(
            "cifar2_indices", lambda t: ffnn_lab.cifar2_indices(t), says="without ffnn_lab.cifar2_indices"
        ),
        shortcut("aliased", cifar2_aliased, says="without ffnn_lab.cifar2_indices"),
    ],
    "nb03.check_majority_accuracy": [
        right("bincount", majority, torch.tensor([0, 1] * 50), says="coin flip"),
        right("Counter", majority_counter, torch.tensor([0, 1] * 50)),
        right("mode", majority_mode, torch.tensor([0, 1] * 50)),
        right("unique", majority_unique, torch.tensor([0, 1] * 50)),
        mistake("count", lambda y: torch.bincount(y).max().item(), torch.tensor([0, 1] * 5), says="a count"),
        mistake(
            "rarest",
            lambda y: torch.bincount(y).min().item() / len(y),
            torch.tensor([0, 1] * 5),
            says="rarest",
        ),
        mistake("percent", lambda y: 100 * majority(y), torch.tensor([0, 1] * 5), says="percentage"),
        mistake("assumed balanced", lambda y: 1 / len(y.unique()), torch.tensor([0, 1] * 5), says="balanced"),
        mistake(
            "share of label 1",
            lambda y: (y == 1).float().mean(),
            torch.tensor([0, 1] * 5),
            says="most frequent",
        ),
        shortcut("one half", lambda y: 0.5, torch.tensor([0, 1] * 5), says="you gave 0.5"),
    ],
    "nb04.check_parameter_count": [
        right("expression and zip", DEEP, count, says="for any widths"),
        right("numpy count, loop", np.int64(DEEP), count_loop),
        right("tensor count, numpy", torch.tensor(DEEP), count_numpy),
        right("float count, recursion", float(DEEP), count_recursive),
        mistake("deep: weights only", DEEP_WEIGHTS, count, says="weights only"),
        mistake("deep: a bias per input", DEEP_WEIGHTS + 3072 + 1024 + 512 + 128, count, says="OUTPUT unit"),
        mistake("deep: a layer missing", DEEP - 512 * 128 - 128, count, says="one layer is missing"),
        mistake("weights only", DEEP, lambda w: sum(a * b for a, b in zip(w, w[1:])), says="weights only"),
        mistake("input biases too", DEEP, lambda w: count(w) + w[0], says="inputs have no biases"),
        mistake("a + b", DEEP, lambda w: sum(a + b for a, b in zip(w, w[1:])) + sum(w[1:]), says="not a + b"),
        mistake("a text", DEEP, lambda w: str(count(w)), says="whole number"),
        shortcut("the deep count", DEEP, lambda w: 3737474, says="you gave 3,737,474"),
        shortcut("layers built and counted", DEEP, count_with_torch, says="without nn.Linear"),
        shortcut("count_parameters", DEEP, count_with_library, says="without nn.Linear"),
    ],
    "nb04.check_softmax_rows": [
        right("max and keepdim", softmax_rows, says="stable"),
        right("logsumexp in float32", lambda s: torch.exp(s - torch.logsumexp(s, dim=1, keepdim=True))),
        right("float64", lambda s: softmax_rows(s.double())),
        right("numpy", softmax_rows_numpy),
        right("loop over rows", softmax_rows_loop),
        mistake("no max", lambda s: torch.exp(s) / torch.exp(s).sum(dim=1, keepdim=True), says="nan or inf"),
        mistake("global max", softmax_global_max, says="rows far apart"),
        mistake("row minimum", softmax_row_min, says="run from -1,000 to +1,000"),
        mistake(
            "columns",
            lambda s: (
                torch.exp(s - s.max(0, keepdim=True).values)
                / torch.exp(s - s.max(0, keepdim=True).values).sum(0, keepdim=True)
            ),
            says="columns add up to 1",
        ),
        mistake(
            "whole batch total",
            lambda s: (
                torch.exp(s - s.max(1, keepdim=True).values)
                / torch.exp(s - s.max(1, keepdim=True).values).sum()
            ),
            says="rows add up to",
        ),
        mistake(
            "no keepdim",
            lambda s: torch.exp(s - s.max(dim=1).values) / torch.exp(s - s.max(dim=1).values).sum(dim=1),
            says="raised RuntimeError",
        ),
        shortcut("torch.softmax", lambda s: torch.softmax(s, dim=1), says="without torch.softmax"),
        shortcut("nn.Softmax", lambda s: nn.Softmax(dim=1)(s), says="without torch.softmax"),
        shortcut("exp of log_softmax", lambda s: s.log_softmax(1).exp(), says="without torch.softmax"),
    ],
    "nb04.check_argmax_answer": [
        right("b", "b", EXPLAINED, says=("(b)", "Model answer")),
        right("(B)", "(B)", EXPLAINED),
        right("spaces", " b ", EXPLAINED),
        right("b)", "b)", EXPLAINED),
        mistake("a", "a", EXPLAINED, says="initialisation"),
        mistake("c", "c", EXPLAINED, says="still a guess"),
        mistake("d", "d", EXPLAINED, says="whatever the weights"),
        mistake("a word", "b", "yes", says="1 word:"),
        mistake("not text", "b", 42, says="text in quotes"),
        shortcut("every letter", "abcd", EXPLAINED, says="one letter"),
    ],
    "nb05.check_cross_entropy": [
        right("by hand", cross_entropy, says="several hundred"),
        right("logsumexp", lambda z, y: (torch.logsumexp(z, 1) - z[torch.arange(len(y)), y]).mean()),
        right("float64", lambda z, y: cross_entropy(z.double(), y)),
        right("numpy", cross_entropy_numpy),
        right("loop", cross_entropy_loop),
        mistake("overflow", cross_entropy_naive, says="log-sum-exp"),
        mistake("sign", lambda z, y: -cross_entropy(z, y), says="sign is flipped"),
        mistake("sum", lambda z, y: cross_entropy(z, y) * len(y), says="summed over the batch"),
        mistake(
            "one per image",
            lambda z, y: torch.logsumexp(z, 1) - z[torch.arange(len(y)), y],
            says="the loss is one number",
        ),
        mistake(
            "every column",
            lambda z, y: (torch.logsumexp(z, 1, keepdim=True) - z)[:, y].mean(),
            says="row i's column",
        ),
        mistake(
            "dim=0", lambda z, y: (torch.logsumexp(z, 0) - z)[torch.arange(len(y)), y].mean(), says="each ROW"
        ),
        shortcut("F.cross_entropy", lambda z, y: F.cross_entropy(z, y), says="by hand"),
        shortcut("nn.CrossEntropyLoss", lambda z, y: nn.CrossEntropyLoss()(z, y), says="by hand"),
        shortcut("nll of log_softmax", lambda z, y: F.nll_loss(F.log_softmax(z, 1), y), says="by hand"),
        shortcut(
            "log of softmax",
            lambda z, y: -torch.log(torch.softmax(z, 1))[torch.arange(len(y)), y].mean(),
            says="by hand",
        ),
    ],
    "nb05.check_entropy": [
        right("formula", lambda p, q: -(p * torch.log(q)).sum(dim=1), says="one-hot p"),
        right("xlogy", lambda p, q: -torch.xlogy(p, q).sum(1)),
        right("einsum", lambda p, q: -torch.einsum("nc,nc->n", p, q.log())),
        right("numpy", lambda p, q: -(p.numpy() * np.log(q.numpy())).sum(axis=1)),
        right("loop", lambda p, q: torch.stack([-(pi * qi.log()).sum() for pi, qi in zip(p, q)])),
        mistake("sign", lambda p, q: (p * q.log()).sum(1), says="sign is flipped"),
        mistake("swapped", lambda p, q: -(q * p.log()).sum(1), says="swapped"),
        mistake("one number", lambda p, q: -(p * q.log()).sum(), says="one number"),
        mistake("over the rows", lambda p, q: -(p * q.log()).sum(0), says="not over the rows"),
        mistake("mean over classes", lambda p, q: -(p * q.log()).mean(1), says="averaged over the classes"),
        mistake("bits", lambda p, q: -(p * q.log2()).sum(1), says="bits"),
        mistake("no weights", lambda p, q: -q.log().sum(1), says="weighed by p_k"),
        shortcut(
            "F.cross_entropy",
            lambda p, q: F.cross_entropy(q.log(), p, reduction="none"),
            says="library's losses",
        ),
        shortcut(
            "kl_div",
            lambda p, q: F.kl_div(q.log(), p, reduction="none").sum(1) - torch.xlogy(p, p).sum(1),
            says="library's losses",
        ),
    ],
    "nb05.check_logit_gradient": [
        right("one_hot", grad, says="by hand"),
        right("scatter", grad_scatter),
        right("eye", grad_eye),
        right("numpy", grad_numpy),
        mistake("sign", lambda z, y: -grad(z, y), says="sign is flipped"),
        mistake("no mean", lambda z, y: grad(z, y) * len(y), says="times too large"),
        mistake("softmax alone", lambda z, y: torch.softmax(z, 1) / len(y), says="softmax(z) alone"),
        mistake(
            "dim=0",
            lambda z, y: (torch.softmax(z, 0) - F.one_hot(y, z.shape[1])) / len(y),
            says="does not match",
        ),
        mistake(
            "one_hot without classes",
            lambda z, y: (torch.softmax(z, 1) - F.one_hot(y)) / len(y),
            says=("raised RuntimeError", "never reach the last class"),
        ),
        mistake("one per image", lambda z, y: grad(z, y).sum(1), says="one entry per logit"),
        mistake("softmax that overflows", grad_overflowing, says="nan or inf"),
        shortcut("autograd.grad", grad_autograd, says="without autograd"),
        shortcut("backward", grad_backward, says="without autograd"),
        shortcut(
            "torch.func",
            lambda z, y: torch.func.grad(lambda w: F.cross_entropy(w, y))(z),
            says="without autograd",
        ),
    ],
    "nb06.check_batch_sizes": [
        right("divmod", batch_sizes, says="drop_last"),
        right("loop", batch_sizes_loop),
        right("split", batch_sizes_split),
        right("a DataLoader", batch_sizes_loader),
        mistake("no last batch", lambda n, b, drop_last=False: [b] * (n // b), says="step too"),
        mistake(
            "empty batch",
            lambda n, b, drop_last=False: [b] * (n // b) + ([] if drop_last else [n % b]),
            says="a batch of 0 samples",
        ),
        mistake(
            "drop_last ignored",
            lambda n, b, drop_last=False: batch_sizes(n, b),
            says="drop_last=True the last",
        ),
        mistake("all full", lambda n, b, drop_last=False: [b] * math.ceil(n / b), says="left over"),
        mistake(
            "a count", lambda n, b, drop_last=False: len(batch_sizes(n, b, drop_last)), says="return the list"
        ),
        mistake(
            "no default", lambda n, b, drop_last: batch_sizes(n, b, drop_last), says="missing 1 required"
        ),
        shortcut("the example", lambda n, b, drop_last=False: [4, 4, 2], says="you gave [4, 4, 2]"),
    ],
    "nb06.check_accuracy": [
        right("counts", accuracy, says="eval mode"),
        right("float32 tensor", accuracy_tensor),
        right("dataset length, numpy", accuracy_dataset_length),
        mistake("no eval", no_eval, says="model.eval()"),
        mistake("batch mean", batch_mean, says="last batch is smaller"),
        mistake("graph", with_graph, says="torch.no_grad()"),
        mistake("count", count_only, says="number of correct answers"),
        mistake("full batches", full_batches, says="full batches"),
        mistake("percent", lambda m, loader: 100 * accuracy(m, loader), says="percentage"),
        shortcut("0.7", lambda m, loader: 0.7, says="you gave 0.7"),
    ],
    "nb06.check_random_shift": [
        right("randint and shift", random_shift, says="every shift drawn"),
        right("one draw at a time", random_shift_one_by_one),
        right("pad and crop", random_shift_pad_crop),
        right("the library's augmentation", random_shift_library),
        mistake("one shift for all", one_shift_for_all, says="same shift"),
        mistake("one way", one_way, says="never takes the value"),
        mistake("global generator", global_generator, says="same seeded generator"),
        mistake("roll", rolls, says="roll"),
        mistake("in place", in_place, says="changed the tensor it was given"),
        mistake("upper bound left out", exclusive_bound, says="upper bound is left out"),
        mistake("dx equals dy", diagonal_only, says="combinations"),
        mistake("flips", with_flips, says="mirrored"),
        mistake("one shift per pair", one_shift_per_pair, says="same shift as the image before"),
        shortcut("a fixed pattern", fixed_pattern, says="fixed pattern"),
    ],
    "nb07.check_pixel_weights": [
        right("view", pixel_weights, says="own three weights"),
        right("index arithmetic", pixel_weights_index),
        right("numpy", pixel_weights_numpy),
        right("loop", pixel_weights_loop),
        mistake("row and column swapped", lambda layer, r, c: pixel_weights(layer, c, r), says="swapped"),
        mistake(
            "colour last",
            lambda layer, r, c: layer.weight[:, [(r * 32 + c) * 3 + k for k in range(3)]],
            says="colour last",
        ),
        mistake("transposed", lambda layer, r, c: pixel_weights(layer, r, c).T, says="one row per unit"),
        mistake(
            "with the bias", lambda layer, r, c: pixel_weights(layer, r, c) + layer.bias[:, None], says="bias"
        ),
        mistake(
            "red only", lambda layer, r, c: layer.weight[:, r * 32 + c], says="one weight per unit and colour"
        ),
        shortcut("a fixed pixel", lambda layer, r, c: pixel_weights(layer, 10, 12), says="not the weights"),
    ],
    "nb07.check_confusion_reading": [
        right("items", read_confusion, MATRIX, says="divided by its row"),
        right("row shares", read_confusion_rows, MATRIX),
        right("numpy float32", read_confusion_numpy, MATRIX),
        mistake(
            "mistakes",
            lambda m: (1 - read_confusion(m)[0], *read_confusion(m)[1:]),
            MATRIX,
            says="share of mistakes",
        ),
        mistake("columns", lambda m: read_confusion(m.T), MATRIX, says="other way round"),
        mistake(
            "all images",
            lambda m: (read_confusion(m)[0], (m[1, 1] / m.sum()).item(), read_confusion(m)[2]),
            MATRIX,
            says="not by all images",
        ),
        mistake(
            "birds called airplanes",
            lambda m: (*read_confusion(m)[:2], (m[1, 0] / m[1].sum()).item()),
            MATRIX,
            says="birds called airplanes",
        ),
        mistake("percent", lambda m: tuple(100 * v for v in read_confusion(m)), MATRIX, says="percentage"),
        right("rounded to two decimals", lambda m: tuple(round(v, 2) for v in read_confusion(m)), MATRIX),
        mistake(
            "rounded to one decimal",
            lambda m: tuple(round(v, 1) for v in read_confusion(m)),
            MATRIX,
            says="one decimal",
        ),
        shortcut(
            "the notebook's numbers", lambda m: (0.8215, 0.831, 0.188), MATRIX, says="accuracy = 0.8215"
        ),
    ],
    "nb07.check_decision": [
        right("by formula", 1 / (1 + 9), mean_cost, REASONED, says=("Model answer", "mean_cost")),
        right("float32, where", np.float32(0.1), mean_cost_where, REASONED),
        right("tensor, loop", torch.tensor(0.1), mean_cost_loop, REASONED),
        right("rounded by hand", 0.1, cost_with(9, 1), REASONED),
        mistake("argmax", 0.5, mean_cost, REASONED, says="argmax rule"),
        mistake("other way round", 0.9, mean_cost, REASONED, says="other way round"),
        mistake("cost ratio", 1 / 9, mean_cost, REASONED, says="1 / 9"),
        mistake("a guess", 0.3, mean_cost, REASONED, says="expected cost of each answer"),
        mistake("total", 0.1, cost_with(9, 1, total=True), REASONED, says="total cost"),
        mistake("costs swapped", 0.1, cost_with(1, 9), REASONED, says="costs are swapped"),
        mistake("counts mistakes", 0.1, cost_with(1, 1), REASONED, says="counts mistakes"),
        mistake("wrong way round", 0.1, cost_with(9, 1, inverted=True), REASONED, says="wrong way round"),
        mistake(
            "threshold unused",
            0.1,
            lambda p, y, t: mean_cost(p, y, 0.5),
            REASONED,
            says="threshold is not used",
        ),
        mistake("too short", 0.1, mean_cost, "Costs differ.", says="2 words"),
        shortcut("a fixed cost", 0.1, lambda p, y, t: 0.4, REASONED, says="you gave 0.4"),
    ],
    "nb09.check_which_figure": [
        right("c", "c", standard_error, WHY_TEST, says=("(c)", "Model answer")),
        right("(C), math", "(C)", lambda a, n: math.sqrt(a * (1 - a) / n), WHY_TEST),
        right("numpy, n - 1", "c.", lambda a, n: np.sqrt(a * (1 - a) / (n - 1)), WHY_TEST),
        right("torch", " c", standard_error_torch, WHY_TEST),
        mistake("a", "a", standard_error, WHY_TEST, says="best epoch"),
        mistake("b", "b", standard_error, WHY_TEST, says="luck"),
        mistake("d", "d", standard_error, WHY_TEST, says="memorised"),
        mistake("variance", "c", lambda a, n: a * (1 - a) / n, WHY_TEST, says="variance"),
        mistake("percent", "c", lambda a, n: 100 * standard_error(a, n), WHY_TEST, says="percentage points"),
        mistake(
            "n outside",
            "c",
            lambda a, n: math.sqrt(a * (1 - a)) / n,
            WHY_TEST,
            says="divided the square root by n",
        ),
        mistake(
            "count's spread",
            "c",
            lambda a, n: math.sqrt(n * a * (1 - a)),
            WHY_TEST,
            says="number of right answers",
        ),
        mistake("short", "c", standard_error, "Test is honest.", says="3 words"),
        shortcut("a fixed figure", "c", lambda a, n: 0.0069, WHY_TEST, says="you gave 0.0069"),
    ],
    "nb09.check_mixup": [
        right("one_hot", mixup, says="same weights"),
        right("lerp and eye", mixup_lerp),
        right("numpy targets", mixup_numpy_targets),
        mistake(
            "images swapped",
            lambda x, y, lam, p: ((1 - lam) * x + lam * x[p], mixup(x, y, lam, p)[1]),
            says="weights are swapped",
        ),
        mistake(
            "labels blended",
            lambda x, y, lam, p: (mixup(x, y, lam, p)[0], lam * y + (1 - lam) * y[p]),
            says="shape",
        ),
        mistake(
            "targets not blended",
            lambda x, y, lam, p: (mixup(x, y, lam, p)[0], F.one_hot(y, 2).float()),
            says="blended exactly",
        ),
        mistake(
            "targets swapped",
            lambda x, y, lam, p: (mixup(x, y, lam, p)[0], mixup(x, y, 1 - lam, p)[1]),
            says="targets' weights",
        ),
        mistake("images not blended", lambda x, y, lam, p: (x, mixup(x, y, lam, p)[1]), says="not blended"),
        mistake("one thing", lambda x, y, lam, p: mixup(x, y, lam, p)[0], says="return two things"),
        mistake("one_hot without classes", mixup_no_classes, says="num_classes=2"),
        shortcut(
            "own partners", lambda x, y, lam, p: mixup(x, y, lam, torch.randperm(len(y))), says="x[partner]"
        ),
    ],
    "nb09.check_dropout": [
        right("mask and scale", lambda h, p, keep: h * keep / (1 - p), says="nn.Dropout"),
        right("where", lambda h, p, keep: torch.where(keep, h / (1 - p), torch.zeros_like(h))),
        right("masked_fill", lambda h, p, keep: h.masked_fill(~keep, 0) / (1 - p)),
        right("float64 numpy", lambda h, p, keep: h.double().numpy() * keep.numpy() / (1 - p)),
        mistake("not scaled", lambda h, p, keep: h * keep, says="scaled up"),
        mistake("scaled down", lambda h, p, keep: h * keep * (1 - p), says="wrong way"),
        mistake("by p", lambda h, p, keep: h * keep / p, says="share DROPPED"),
        mistake("inverted mask", lambda h, p, keep: h * ~keep / (1 - p), says="silenced the units"),
        mistake("in place", dropout_in_place, says="changed the tensor it was given"),
        mistake("its own mask", lambda h, p, keep: F.dropout(h, p, training=True), says="use the mask"),
        shortcut("a fixed scale", lambda h, p, keep: h * keep * 1.25, says="not h scaled"),
    ],
}

# found by an independent corpus (written without reading the one above), kept so they stay fixed


def softmax_rows_in_place(s):
    s -= s.max(dim=1, keepdim=True).values  # changes the caller's scores
    e = s.exp()
    return e / e.sum(dim=1, keepdim=True)


def cross_entropy_in_place(z, y):
    z -= torch.logsumexp(z, 1, keepdim=True)
    return -z[torch.arange(len(y)), y].mean()


def entropy_in_place(p, q):
    return -(p * q.log_()).sum(1)


def grad_in_place(z, y):
    z -= torch.logsumexp(z, 1, keepdim=True)
    z.exp_()
    z[torch.arange(len(y)), y] -= 1
    return z / len(y)


def shift_per_group(x, max_shift, generator):
    out = torch.zeros_like(x)
    for i in range(0, len(x), 8):
        dx, dy = torch.randint(-max_shift, max_shift + 1, (2,), generator=generator).tolist()
        out[i : i + 8] = random_shift(x[i : i + 8], 0, generator)  # a copy, then moved as one
        out[i : i + 8] = torch.roll(out[i : i + 8], (dy, dx), (2, 3))
        if dy:
            out[i : i + 8, :, (slice(None, dy) if dy > 0 else slice(dy, None))] = 0
        if dx:
            out[i : i + 8, :, :, (slice(None, dx) if dx > 0 else slice(dx, None))] = 0
    return out


def ce_one_element(z, y):
    lp = z - torch.logsumexp(z, 1, keepdim=True)
    return -lp.gather(1, y.unsqueeze(1)).mean(dim=0)  # shape (1,)


CORPUS["nb01.check_item"] += [
    right("types in a list", list(TYPES), to_array, ITEM),
    mistake("the module", (Image, int), to_array, ITEM, says="a module, not a type"),
    mistake("object for the label", (Image.Image, object), to_array, ITEM, says="every value is an object"),
    mistake("pair reversed", TYPES, lambda it: (it[1], np.asarray(it[0])), ITEM, says="other way round"),
]
CORPUS["nb01.check_every_other"] += [
    mistake("an instance", EveryOther(list(range(5))), says="pass the class itself"),
]
CORPUS["nb02.check_normalize"] += [
    mistake(
        "its own statistics",
        lambda t, m, s: (t - t.mean((1, 2), keepdim=True)) / t.std((1, 2), keepdim=True),
        says="this tensor's own mean and std",
    ),
    mistake(
        "no division", lambda t, m, s: t - torch.as_tensor(m).view(3, 1, 1).to(t.dtype), says="not divide"
    ),
    shortcut("v2 normalize", lambda t, m, s: transforms_v2.functional.normalize(t, m, s), says="by hand"),
]
CORPUS["nb03.check_majority_accuracy"] += [
    mistake(
        "integer division",
        lambda labels: torch.bincount(labels).max().item() // len(labels),
        torch.tensor([0, 1] * 50),
        says="whole-number division",
    ),
]
CORPUS["nb04.check_softmax_rows"] += [mistake("in place", softmax_rows_in_place, says="changed the tensor")]
CORPUS["nb04.check_argmax_answer"] += [right("Answer: b", "Answer: b", EXPLAINED)]
CORPUS["nb05.check_cross_entropy"] += [
    right("one element, shape (1,)", ce_one_element),
    right("one element, shape (1, 1)", lambda z, y: ce_one_element(z, y).reshape(1, 1)),
    mistake("in place", cross_entropy_in_place, says="changed the tensor"),
]
CORPUS["nb05.check_entropy"] += [mistake("log_ in place", entropy_in_place, says="changed the tensor")]
CORPUS["nb05.check_logit_gradient"] += [mistake("in place", grad_in_place, says="changed the tensor")]


def accuracy_counter_overwritten(model, loader):
    model.eval()
    correct = seen = 0
    with torch.no_grad():
        for x, y in loader:
            correct = (model(x).argmax(dim=1) == y).sum().item()  # = where += was meant
            seen += len(y)
    return correct / seen


def batch_sizes_drop_any_last(n, b, drop_last=False):
    sizes = [b] * (n // b) + ([n % b] if n % b else [])
    return sizes[:-1] if drop_last else sizes


CORPUS["nb06.check_accuracy"] += [
    mistake("counter overwritten", accuracy_counter_overwritten, says="correct +=")
]
CORPUS["nb06.check_batch_sizes"] += [
    mistake("drop_last drops a full batch", batch_sizes_drop_any_last, says="drops only a smaller one")
]
CORPUS["nb06.check_random_shift"] += [
    mistake("nothing moved", lambda x, m, g: x.clone(), says=("same shift", "no image moved")),
    mistake("one shift per group of 8", shift_per_group, says="not one per group"),
]
CORPUS["nb07.check_confusion_reading"] += [
    mistake(
        "integer division",
        lambda m: (m.trace() // m.sum(), m[1, 1] / m[1].sum(), m[0, 1] / m[0].sum()),
        MATRIX,
        says="whole-number division",
    ),
]
CORPUS["nb07.check_confusion_reading"] += [
    # a half-way share: float32 reads 894/1200 as a little over 0.745 and rounds it to 0.75
    right("float32, rounded at a half", lambda m: tuple(round(v, 2) for v in read_confusion(m)), HALF_WAY),
    mistake(
        "rounded one unit off",
        lambda m: (*read_confusion(m)[:2], round(read_confusion(m)[2], 2) + 0.01),
        HALF_WAY,
        says="airplanes_called_birds",
    ),
]
CORPUS["nb09.check_which_figure"] += [
    right("Answer: c", "Answer: c", standard_error, WHY_TEST),
    shortcut("the check's own reference", "c", lambda a, n: nb09._spread(a, n)[0], WHY_TEST, says="own code"),
]
CORPUS["nb07.check_decision"] += [
    shortcut("the check's own costs", 0.1, nb07._costs, REASONED, says="own code")
]
CORPUS["nb07.check_confusion_reading"] += [
    shortcut("the check's own shares", lambda m: exercises.nb07._shares(m), MATRIX, says="own code")
]
CORPUS["nb06.check_batch_sizes"] += [
    shortcut(
        "the check's own sizes",
        lambda n, b, drop_last=False: nb06._reference_sizes(n, b, drop_last),
        says="own code",
    )
]

CHECKS = {
    f"{module.__name__.rsplit('.', 1)[1]}.{name}": getattr(module, name)
    for module in MODULES
    for name in dir(module)
    if name.startswith("check_")
}
ATTEMPTS = [(name, attempt) for name, attempts in CORPUS.items() for attempt in attempts]


def test_every_check_has_a_corpus_with_every_kind_of_attempt():
    assert set(CORPUS) == set(CHECKS)
    for name, attempts in CORPUS.items():
        kinds = Counter(a.kind for a in attempts)
        assert kinds["right"] >= 3 and kinds["mistake"] >= 4 and kinds["shortcut"] >= 1, (name, kinds)


@pytest.mark.parametrize("name, attempt", ATTEMPTS, ids=[f"{n}-{a.kind}-{a.label}" for n, a in ATTEMPTS])
def test_attempt(capsys, name, attempt):
    result = CHECKS[name](*attempt.args)
    out = capsys.readouterr().out
    assert "Traceback" not in out and out.endswith("\n"), out
    if attempt.kind == "right":
        assert result is True and out.startswith("✅ Right: "), out
    else:
        assert result is False and out.startswith("❌ Not yet: "), out
    assert all(words in out for words in attempt.says), (attempt.says, out)
    assert exercises.NOT_WRITTEN not in out
