"""ffnn-lab: the package behind the feed-forward neural network notebooks."""

__version__ = "0.2.0"  # see CHANGELOG.md

from . import exercises
from .config import banner, pick, quick_mode
from .data import (
    arrays,
    carve_holdout,
    channel_stats,
    cifar2_indices,
    describe,
    load_cifar2,
    load_cifar10,
)
from .errors import DataNotFoundError, InvalidInput, LabError, TrainingDiverged, TrainingUnstable
from .labels import CIFAR2_CLASSES, CLASSES, LABEL_MAP, remap_label
from .models import baseline, best, build_model, count_parameters, deep, small
from .notebook import setup
from .tensors import Prepared, TensorData, augment, batches, blend, preload, prepare_cifar2, shift
from .train import (
    RECIPES,
    Recipe,
    evaluate,
    fit,
    predict,
    resolve_device,
    train_full_batch,
    train_per_sample,
)

__all__ = [
    "__version__",
    "CIFAR2_CLASSES",
    "CLASSES",
    "DataNotFoundError",
    "InvalidInput",
    "LABEL_MAP",
    "LabError",
    "Prepared",
    "RECIPES",
    "Recipe",
    "TensorData",
    "TrainingDiverged",
    "TrainingUnstable",
    "arrays",
    "augment",
    "banner",
    "baseline",
    "batches",
    "best",
    "blend",
    "build_model",
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
    "pick",
    "predict",
    "preload",
    "prepare_cifar2",
    "quick_mode",
    "remap_label",
    "resolve_device",
    "setup",
    "shift",
    "small",
    "train_full_batch",
    "train_per_sample",
]
