"""ffnn-lab's public face: the names the feed-forward neural network notebooks use.

The plumbing behind them (the recipe registry, the fast path's batching and augmentation, the two
training engines, the grader) stays importable from the module that owns it."""

__version__ = "0.2.0"  # see CHANGELOG.md

from . import exercises
from .data import (
    TensorData,
    carve_holdout,
    channel_stats,
    cifar2_indices,
    describe,
    load_cifar2,
    load_cifar10,
    prepare_cifar2,
    to_arrays,
)
from .errors import DataNotFoundError, InvalidInput, LabError, TrainingDiverged, TrainingUnstable
from .labels import CIFAR2_CLASSES, CLASSES, LABEL_MAP, remap_label
from .models import baseline, count_parameters, deep, wide_mlp
from .notebook import setup
from .recipes import Recipe
from .tensors import shift
from .train import evaluate, fit, predict

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

# Names 0.1 had here that a notebook 08 written against 0.1 (the graded exercise) uses, or could
# take from the other notebooks, with where they went and the version that drops the hint itself:
# until then such a submission gets the new name in its error instead of a bare AttributeError.
MOVED = {
    "banner": ("ffnn_lab.setup(), which prints it (or ffnn_lab.config.banner)", "0.4.0"),
    "pick": ("lab.epochs(full, quick) or lab.size(full, quick), with lab = ffnn_lab.setup()", "0.4.0"),
    "resolve_device": (
        "lab.device, with lab = ffnn_lab.setup() (or ffnn_lab.device.resolve_device)",
        "0.4.0",
    ),
    "best": ("ffnn_lab.wide_mlp (the network); its recipe is ffnn_lab.recipes.RECIPES['best']", "0.4.0"),
}


def __getattr__(name: str):
    if name in MOVED:
        raise AttributeError(
            f"ffnn_lab.{name} is gone since 0.2.0: use {MOVED[name][0]}", name=name, obj=None
        )
    raise AttributeError(f"module 'ffnn_lab' has no attribute {name!r}", name=name, obj=None)
