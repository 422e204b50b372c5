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
