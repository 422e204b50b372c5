"""ffnn-lab's public face: the names the feed-forward neural network notebooks use.

The plumbing behind them (the recipe registry, the fast path's batching and augmentation, the two
training engines, the grader) stays importable from the module that owns it."""

__version__ = "0.2.0"  # see CHANGELOG.md

import importlib

# Each public name and the module that owns it. A name is imported when first used, so a program
# that needs one small module (the grader's phase 1 in its sandbox needs none of torch, torchvision
# or matplotlib) does not pay for all of them by importing the package.
HOMES = {
    "CIFAR2_CLASSES": "labels",
    "CLASSES": "labels",
    "DataNotFoundError": "errors",
    "InvalidInput": "errors",
    "LABEL_MAP": "labels",
    "LabError": "errors",
    "Recipe": "recipes",
    "TensorData": "data",
    "TrainingDiverged": "errors",
    "TrainingUnstable": "errors",
    "baseline": "models",
    "carve_holdout": "data",
    "channel_stats": "data",
    "cifar2_indices": "data",
    "count_parameters": "models",
    "deep": "models",
    "describe": "data",
    "evaluate": "train",
    "exercises": "exercises",  # the subpackage itself
    "fit": "train",
    "load_cifar10": "data",
    "load_cifar2": "data",
    "predict": "train",
    "prepare_cifar2": "data",
    "remap_label": "labels",
    "setup": "notebook",
    "shift": "tensors",
    "to_arrays": "data",
    "wide_mlp": "models",
}
__all__ = ["__version__", *HOMES]

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
    "best": (
        "ffnn_lab.wide_mlp (notebook 09's network, which does not count as solving notebook 08)",
        "0.4.0",
    ),
}


def __getattr__(name: str):
    if name in HOMES:
        module = importlib.import_module(f".{HOMES[name]}", __name__)
        value = module if HOMES[name] == name else getattr(module, name)
        globals()[name] = value  # found once, then an ordinary attribute
        return value
    if name in MOVED:
        raise AttributeError(
            f"ffnn_lab.{name} is gone since 0.2.0: use {MOVED[name][0]}", name=name, obj=None
        )
    raise AttributeError(f"module 'ffnn_lab' has no attribute {name!r}", name=name, obj=None)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
