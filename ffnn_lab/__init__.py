"""ffnn-lab: the package behind the feed-forward neural network notebooks.

The names here are the ones the notebooks use; the plumbing behind them (recipes, the fast
path's batching and augmentation, the grader) stays importable from its own module."""

__version__ = "0.2.0"  # see CHANGELOG.md

from . import exercises
from .data import carve_holdout, channel_stats, cifar2_indices, describe, load_cifar2, load_cifar10, to_arrays
from .errors import DataNotFoundError, InvalidInput, LabError, TrainingDiverged, TrainingUnstable
from .labels import CIFAR2_CLASSES, CLASSES, LABEL_MAP, remap_label
from .models import baseline, count_parameters, deep, wide_mlp
from .notebook import setup
from .tensors import TensorData, prepare_cifar2, shift
from .train import Recipe, evaluate, fit, predict

__all__ = [
    "__version__",
    "CIFAR2_CLASSES",
    "CLASSES",
    "DataNotFoundError",
    "InvalidInput",
    "LABEL_MAP",
    "LabError",
    "Recipe",
    "TensorData",
    "TrainingDiverged",
    "TrainingUnstable",
    "baseline",
    "carve_holdout",
    "channel_stats",
    "cifar2_indices",
    "count_parameters",
    "deep",
    "describe",
    "evaluate",
    "exercises",
    "fit",
    "load_cifar10",
    "load_cifar2",
    "predict",
    "prepare_cifar2",
    "remap_label",
    "setup",
    "shift",
    "to_arrays",
    "wide_mlp",
]

# Names 0.1 had here, and where they went: a notebook or submission written against 0.1 gets the
# new name in its error instead of a bare AttributeError.
MOVED = {
    "best": "ffnn_lab.wide_mlp (the network); the recipe is ffnn_lab.train.RECIPES['best']",
    "blend": "ffnn_lab.tensors.mixup_batch",
    "arrays": "ffnn_lab.to_arrays",
    "pick": "lab.epochs(full, quick) or lab.size(full, quick), with lab = ffnn_lab.setup()",
    "RECIPES": "ffnn_lab.train.RECIPES",
    "resolve_device": "ffnn_lab.train.resolve_device",
    "train_full_batch": "ffnn_lab.train.train_full_batch",
    "train_per_sample": "ffnn_lab.train.train_per_sample",
    "preload": "ffnn_lab.tensors.preload",
    "batches": "ffnn_lab.tensors.batches",
    "augment": "ffnn_lab.tensors.augment",
    "Prepared": "ffnn_lab.tensors.Prepared",
    "build_model": "ffnn_lab.models.build_model",
    "small": "ffnn_lab.models.small",
    "banner": "ffnn_lab.config.banner",
    "quick_mode": "ffnn_lab.config.quick_mode",
}


def __getattr__(name: str):
    if name in MOVED:
        raise AttributeError(f"ffnn_lab.{name} is gone since 0.2.0: use {MOVED[name]}", name=name, obj=None)
    raise AttributeError(f"module 'ffnn_lab' has no attribute {name!r}", name=name, obj=None)
