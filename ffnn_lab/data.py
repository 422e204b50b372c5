"""Everything between a CIFAR-10 copy and training: sources, CIFAR-2, statistics, tensors.

CIFAR-10 from any source (official, an image-folder or array copy, synthetic), the hold-out carved
from a copy without a test split, the CIFAR-2 subset by targets, per-channel statistics, and
CIFAR-2 prepared once as normalised tensors on the device (prepare_cifar2)."""

from __future__ import annotations

import functools
import hashlib
import os
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset, Subset
from torchvision.datasets import CIFAR10, VisionDataset
from torchvision.transforms import Compose

from . import config
from .array_dataset import ArrayCIFAR10
from .cache import fingerprint, hidden_from_others, load_arrays, save_arrays
from .errors import DataNotFoundError, InvalidInput
from .labels import CIFAR2_SOURCE_LABELS, CLASSES, remap_label
from .synthetic import synthetic_cifar10

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


HOLDOUT = 2000  # validation images carved from train/ when a copy has no test split, half per class
SPLIT_SEED = 0  # which images that hold-out takes; the training seed is another (fit's seed=)

_WAYS_OUT = """Ways out:
  1. {download}: the official CIFAR-10 is downloaded into the data root
     ($FFNN_LAB_ROOT, else data-unversioned/): needs internet, ~170 MB, checksum-verified
  2. {folder}, or FFNN_LAB_DATA=DIR: a copy in DIR, either cifar-10-batches-py/ (official),
     train/<class>/*.png|jpg (an image-folder copy) or train.npz (an array copy)
  3. {synthetic}, or FFNN_LAB_DATA=synthetic: a small made-up stand-in, for offline tests only"""


def ways_out(
    download: str = "download=True", folder: str = "root=DIR", synthetic: str = 'root="synthetic"'
) -> str:
    """What to do when no usable copy was found, in the caller's words for each knob (the command
    line passes its flags; the defaults are the loaders' arguments)."""
    return _WAYS_OUT.format(download=download, folder=folder, synthetic=synthetic)


def carve_holdout(
    targets: Sequence[int], n: int, split_seed: int = SPLIT_SEED, labels: Sequence[int] = CIFAR2_SOURCE_LABELS
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (train, holdout): n images stratified over labels, drawn with split_seed."""
    target_array = np.asarray(targets)
    if n < 0 or n % len(labels):
        raise InvalidInput(
            f"holdout={n}: use a non-negative multiple of {len(labels)} so every class gets the same share"
        )
    rng = np.random.default_rng(split_seed)
    held = []
    for label in labels:
        pool = np.flatnonzero(target_array == label)
        k = n // len(labels)
        if k > len(pool):
            raise InvalidInput(
                f"holdout={n} asks for {k} images of class {CLASSES[label]!r} "
                f"but the copy has only {len(pool)}: choose a smaller holdout"
            )
        held.append(rng.choice(pool, size=k, replace=False))
    holdout = np.sort(np.concatenate(held))
    return np.setdiff1d(np.arange(len(target_array)), holdout), holdout


def _image_files(split_dir: Path) -> tuple[list[Path], list[int]]:
    files, labels = [], []
    for label, name in enumerate(CLASSES):
        class_dir = split_dir / name
        if not class_dir.is_dir():
            raise DataNotFoundError(
                f"{split_dir} has no folder {name!r}: an image-folder copy needs one folder "
                f"per CIFAR-10 class ({', '.join(CLASSES)})",
                ways_out(),
            )
        found = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        files += found
        labels += [label] * len(found)
    return files, labels


def _decode(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as img:
            pixels = np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError) as e:
        raise InvalidInput(f"cannot decode {path}: {e}. Remove or replace the file.") from None
    if pixels.shape != (32, 32, 3):
        raise InvalidInput(f"{path} is {pixels.shape[1]}x{pixels.shape[0]} pixels; CIFAR-10 images are 32x32")
    return pixels


def decode_folder(split_dir: Path, cache_dir: Path) -> tuple[np.ndarray, list[int]]:
    """Every image under split_dir/<class>/ as uint8 NxHxWxC, decoded once and cached."""
    try:
        files, _ = _image_files(split_dir)
        digest = fingerprint(files, split_dir)
    except DataNotFoundError:
        raise  # a missing class folder: already says what to do
    except OSError as e:  # an unreadable class folder, a dangling link: the copy's fault, not the lab's
        raise InvalidInput(
            f"cannot read {e.filename or split_dir}: {e.strerror}. Fix its permissions, or remove or "
            "replace it."
        ) from None
    key = hashlib.sha256(str(split_dir.resolve()).encode()).hexdigest()[:16]
    return _decoded(split_dir, cache_dir / f"{split_dir.name}-{key}.npz", digest)


@functools.lru_cache(maxsize=1)  # train and validation read the same split: load it once per process
def _decoded(split_dir: Path, cache: Path, digest: str) -> tuple[np.ndarray, list[int]]:
    cached = load_arrays(cache, digest)
    if cached is not None:
        return cached["data"], cached["targets"].tolist()
    files, labels = _image_files(split_dir)
    with ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as pool:
        data = np.stack(list(pool.map(_decode, files))) if files else np.zeros((0, 32, 32, 3), np.uint8)
    targets = np.asarray(labels, dtype=np.int64)
    try:
        # a copy others cannot read (a grader's private test images) gets a cache they cannot read
        private = hidden_from_others(split_dir)
        save_arrays(cache, private, data=data, targets=targets, fingerprint=np.array(digest))
    except OSError:
        pass  # a read-only checkout still works: it decodes again in the next process
    return data, labels


def split_arrays(base: Path, split: str, cache_dir: Path) -> tuple[np.ndarray, list[int]]:
    """One split of a copy: DIR/<split>.npz (uint8 `data`, int `targets`) if present, else the
    image folder DIR/<split>/<class>/*; the grader hands sandboxed notebooks the .npz form."""
    npz = base / f"{split}.npz"
    if not npz.is_file():
        return decode_folder(base / split, cache_dir)
    try:
        with np.load(npz, allow_pickle=False) as z:
            data, targets = z["data"], z["targets"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        raise InvalidInput(
            f"cannot read {npz}: {e}. Rebuild it, or remove it to use {base / split}/"
        ) from None
    if data.dtype != np.uint8 or data.shape[1:] != (32, 32, 3) or targets.shape != (len(data),):
        raise InvalidInput(
            f"{npz} holds {data.dtype} images shaped {data.shape} with {targets.shape} "
            "labels; expected uint8 (N, 32, 32, 3) and (N,)"
        )
    return data, targets.astype(np.int64).tolist()


def image_folder_cifar10(
    root: str | os.PathLike,
    train: bool = True,
    transform: Callable | None = None,
    target_transform: Callable | None = None,
    download: bool = False,
    *,
    holdout: int = HOLDOUT,
    split_seed: int = SPLIT_SEED,
) -> ArrayCIFAR10:
    """An image-folder copy of CIFAR-10 (DIR/train/<class>/*, or DIR/train.npz), labels in CIFAR-10's order.

    Without DIR/test/, the validation split (train=False) is a stratified hold-out of `holdout`
    airplane and bird images carved from train/ (which ones: split_seed), and train=True is the rest.
    There is nothing to download: download=True is accepted and does nothing, as in torchvision
    when the files are already there."""
    base = Path(root)
    has_test_split = (base / "test").is_dir() or (base / "test.npz").is_file()
    split = "train" if train or not has_test_split else "test"
    data, targets = split_arrays(base, split, config.data_root() / "cache")
    split_note = "its own test split (test/ or test.npz)"
    if not has_test_split:
        keep, held = carve_holdout(targets, holdout, split_seed)
        rows = keep if train else held
        data, targets = data[rows], [targets[i] for i in rows]
        split_note = (
            f"{'rest of train/ after' if train else 'validation ='} a "
            f"{holdout:,}-image airplane/bird hold-out carved from train/ "
            f"(split seed {split_seed}); the folder has no test/"
        )
    kind = "array copy" if (base / f"{split}.npz").is_file() else "image-folder copy"
    note = f"{kind} at {base}: {split_note}"
    return ArrayCIFAR10(base, data, targets, train, transform, target_transform, note)


@dataclass(frozen=True)
class Source:
    """Where CIFAR-10 comes from: kind "official", "folder" (an image-folder or array copy) or
    "synthetic"; path is the folder read (None for synthetic); chosen says whether root or
    $FFNN_LAB_DATA named it (else it is the default, the official copy in the data root)."""

    kind: str
    path: Path | None
    chosen: bool = True

    def __str__(self) -> str:
        return "official" if not self.chosen else str(self.path or self.kind)


def find_source(root: str | os.PathLike | None = None) -> Source:
    """The one place that decides where data comes from: root if given, else $FFNN_LAB_DATA, else
    the synthetic stand-in in quick mode, else the official copy under the data root.
    Raises DataNotFoundError when a named folder holds no copy the lab can read."""
    source = config.data_source(root)
    if source == "synthetic":
        return Source("synthetic", None)
    if source is None:
        return Source("official", config.data_root(), chosen=False)
    path = Path(source).expanduser()
    if path.name == CIFAR10.base_folder:
        path = path.parent
    if (path / CIFAR10.base_folder).is_dir():
        return Source("official", path)
    if (path / "train").is_dir() or (path / "train.npz").is_file():
        return Source("folder", path)
    problem = (
        f"{path} does not exist"
        if not path.exists()
        else f"{path} holds neither cifar-10-batches-py/ nor a train/ folder of class folders"
    )
    if path.name == "train" and (path / CLASSES[0]).is_dir():
        problem += f" (it looks like the train/ folder itself: point at {path.parent} instead)"
    if root is None:
        problem = f"{config.DATA_ENV}={os.environ.get(config.DATA_ENV)!r}: {problem}"
    raise DataNotFoundError(problem, ways_out())


def _official(root: Path, train: bool, transform, target_transform, download: bool) -> CIFAR10:
    try:
        return CIFAR10(
            os.fspath(root),
            train=train,
            transform=transform,
            target_transform=target_transform,
            download=download,
        )
    except RuntimeError as e:  # torchvision: "Dataset not found or corrupted"
        hint = "" if download else " and download=False"
        raise DataNotFoundError(
            f"No verified official CIFAR-10 under {root}{hint} ({e})", ways_out()
        ) from None
    except OSError as e:  # the download itself failed: no internet, proxy, disk full
        raise DataNotFoundError(f"Downloading CIFAR-10 into {root} failed: {e}", ways_out()) from None


def load_cifar10(
    root: str | os.PathLike | None = None,
    train: bool = True,
    transform: Callable | None = None,
    target_transform: Callable | None = None,
    download: bool = False,
    *,
    holdout: int = HOLDOUT,
    split_seed: int = SPLIT_SEED,
) -> VisionDataset:
    """CIFAR-10 from root (see find_source): the official copy, an image-folder or array copy, or
    "synthetic". download=True fetches the official copy when it is missing; where it is present,
    or the source cannot be downloaded (a copy, synthetic), it does nothing, so it is always safe.
    holdout and split_seed carve the validation split from a copy that has no test split."""
    source = find_source(root)
    if source.kind == "synthetic":
        return synthetic_cifar10(None, train, transform, target_transform)
    assert source.path is not None
    if source.kind == "official":
        return _official(source.path, train, transform, target_transform, download)
    return image_folder_cifar10(
        source.path, train, transform, target_transform, holdout=holdout, split_seed=split_seed
    )


def cifar2_indices(targets: Sequence[int]) -> list[int]:
    """Positions of the airplanes and birds, read from the labels alone (no image is decoded)."""
    t = torch.as_tensor(targets)
    return torch.isin(t, torch.tensor(CIFAR2_SOURCE_LABELS)).nonzero().flatten().tolist()


def load_cifar2(
    root: str | os.PathLike | None = None,
    train: bool = True,
    transform: Callable | None = None,
    target_transform: Callable | None = None,
    download: bool = False,
    *,
    holdout: int = HOLDOUT,
    split_seed: int = SPLIT_SEED,
) -> Subset:
    """Birds (1) vs airplanes (0): CIFAR-10 with the course's label map, as a Subset by targets.

    Arguments as in load_cifar10; target_transform, if given, runs after the label map."""
    remap = remap_label if target_transform is None else Compose([remap_label, target_transform])
    full = load_cifar10(
        root,
        train,
        transform,
        remap,
        download,
        holdout=holdout,
        split_seed=split_seed,
    )
    return Subset(full, cifar2_indices(full.targets))


def to_arrays(dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """A CIFAR-like dataset or a Subset of one as (uint8 NxHxWxC images, labels after target_transform)."""
    indices = None
    while isinstance(dataset, Subset):
        own = np.asarray(dataset.indices, dtype=np.int64)
        indices = own if indices is None else own[indices]
        dataset = dataset.dataset
    if not hasattr(dataset, "data") or not hasattr(dataset, "targets"):
        raise TypeError(
            f"{type(dataset).__name__} has no .data/.targets: pass a CIFAR-10 "
            "dataset from load_cifar10/load_cifar2 (or a Subset of one)"
        )
    data = np.asarray(dataset.data)
    targets = np.asarray(dataset.targets)
    if indices is not None:
        data, targets = data[indices], targets[indices]
    tt = getattr(dataset, "target_transform", None)
    if tt is not None:
        targets = np.array([tt(int(t)) for t in targets], dtype=np.int64)
    return data, targets.astype(np.int64)


def channel_stats(images: np.ndarray | torch.Tensor | Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and (unbiased) std of uint8 NxHxWxC images on ToTensor's 0..1 scale.

    Counts each of the 256 byte values per channel instead of materialising floats: exact,
    and the memory is one channel of bytes rather than the whole set as float32."""
    if isinstance(images, Dataset):
        images = to_arrays(images)[0]
    x = torch.as_tensor(images)
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[-1] != 3:
        raise InvalidInput(
            f"expected uint8 images shaped (N, H, W, 3), got {x.dtype} "
            f"{tuple(x.shape)}; pass dataset.data, not transformed tensors"
        )
    if x.shape[0] == 0:
        raise InvalidInput("no images to compute statistics from: the dataset is empty")
    values = torch.arange(256, dtype=torch.float64) / 255
    mean, std = [], []
    for c in range(3):
        counts = torch.bincount(x[..., c].reshape(-1), minlength=256).double()
        n = counts.sum()
        m = (counts * values).sum() / n
        var = ((counts * (values - m) ** 2).sum()) / (n - 1)
        mean.append(m)
        std.append(var.sqrt())
    return torch.stack(mean).float(), torch.stack(std).float()


def describe(dataset: Subset | VisionDataset) -> str:
    """One line saying what a dataset is: source, split, size, and any hold-out or synthetic caveat."""
    size = len(dataset)
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    assert isinstance(dataset, VisionDataset), "describe takes a dataset from load_cifar10/load_cifar2"
    kind = dataset.note if isinstance(dataset, ArrayCIFAR10) else f"official CIFAR-10 at {dataset.root}"
    split = "train" if getattr(dataset, "train", True) else "validation"
    return f"{split}: {size:,} images, {kind}"


@dataclass
class TensorData:
    """Normalised images x (N, 3, 32, 32) float32 and labels y (N,) int64, on one device."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    @property
    def device(self) -> torch.device:
        return self.x.device


def preload(
    dataset: Dataset, mean: torch.Tensor, std: torch.Tensor, device: str | torch.device = "cpu"
) -> TensorData:
    """Convert a CIFAR-like dataset (or Subset) once: uint8 -> float, HWC -> CHW, (x/255 - mean)/std."""
    data, labels = to_arrays(dataset)
    device = torch.device(device)
    # Move bytes, not floats: the uint8 copy is 4x smaller, so the host-to-GPU transfer is too.
    x = torch.from_numpy(data).to(device).permute(0, 3, 1, 2).float().div_(255)
    mean = torch.as_tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    std = torch.as_tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    x = x.sub_(mean).div_(std).contiguous()
    return TensorData(x, torch.from_numpy(labels).to(device))


@dataclass
class Prepared:
    """CIFAR-2 ready to train on: fast-path train/val tensors, the statistics used, and a summary."""

    train: TensorData
    val: TensorData
    mean: torch.Tensor
    std: torch.Tensor
    summary: str


def prepare_cifar2(
    root: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    download: bool = False,
    *,
    holdout: int = HOLDOUT,
    split_seed: int = SPLIT_SEED,
) -> Prepared:
    """CIFAR-2 train and validation preloaded on device, normalised with the training split's
    per-channel CIFAR-10 statistics (as the lecture's Normalize uses). root and download as in
    load_cifar10; holdout and split_seed choose the validation images when the copy has no test split.
    Rows keep the source's order: an image-folder copy is sorted by class, so take random rows, not
    the first n, for samples."""
    full = load_cifar10(root, True, None, remap_label, download, holdout=holdout, split_seed=split_seed)
    mean, std = channel_stats(full.data)
    train = Subset(full, cifar2_indices(full.targets))
    val = load_cifar2(root, False, download=download, holdout=holdout, split_seed=split_seed)
    summary = f"{describe(train)}\n{describe(val)}"
    return Prepared(preload(train, mean, std, device), preload(val, mean, std, device), mean, std, summary)
