"""ffnn-lab: the package behind the feed-forward neural network notebooks."""

from . import exercises
from .config import banner, pick, quick_mode
from .data import (
                   DataNotFoundError,
                   arrays,
                   carve_holdout,
                   channel_stats,
                   cifar2_indices,
                   describe,
                   load_cifar2,
                   load_cifar10,
)
from .labels import CIFAR2_CLASSES, CLASSES, LABEL_MAP, remap_label
from .models import baseline, best, build_model, count_parameters, deep, small
from .notebook import setup
from .tensors import Prepared, TensorData, augment, batches, blend, preload, prepare_cifar2, shift
from .train import (
                   TrainingDiverged,
                   evaluate,
                   fit,
                   predict,
                   resolve_device,
                   train_full_batch,
                   train_per_sample,
)

__all__ = [
    "CIFAR2_CLASSES", "CLASSES", "LABEL_MAP", "DataNotFoundError", "Prepared", "TensorData",
    "TrainingDiverged", "arrays", "augment", "banner", "baseline", "batches", "best", "blend",
    "build_model", "carve_holdout", "channel_stats", "cifar2_indices", "count_parameters",
    "deep", "describe", "evaluate", "exercises", "fit", "load_cifar2", "load_cifar10", "pick",
    "predict", "preload", "prepare_cifar2", "quick_mode", "remap_label", "resolve_device", "setup",
    "shift", "small", "train_full_batch", "train_per_sample",
]
