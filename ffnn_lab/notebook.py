"""The one setup call at the top of every notebook: mode, data source, seeds and quiet plumbing."""

from __future__ import annotations

import logging
import random
import types
from dataclasses import dataclass

import numpy as np
import torch

from .config import QUICK_EPOCHS, banner, quick_mode
from .device import resolve_device
from .errors import InvalidInput, TrainingDiverged

# libraries whose debug chatter would bury the lesson in a notebook's output
NOISY_LOGGERS = ("matplotlib.font_manager", "PIL", "asyncio", "traitlets")


@dataclass(frozen=True)
class Lab:
    """What a notebook needs to know about this run: where to compute and how long to run."""

    device: torch.device
    quick: bool
    seed: int

    def epochs(self, full: int, quick: int = QUICK_EPOCHS) -> int:
        """`full` epochs at full length; at most `quick` in quick mode (CI)."""
        return min(full, quick) if self.quick else full

    def size(self, full: int, quick: int) -> int:
        """`full` at full length, `quick` in quick mode: sample counts, repeats and the like."""
        return quick if self.quick else full


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch so a notebook draws the same numbers on every run."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def friendly_divergence(shell, etype, value, tb, tb_offset=None) -> list[str]:
    """IPython handler: one line with the learning-rate advice instead of a long traceback."""
    stb = [f"Training diverged: {value}"]
    # IPython discards a custom handler's return value; _showtraceback is how a shell displays
    # (ipykernel sends it as the cell's error, so "Run all" still stops here)
    shell._showtraceback(etype, value, stb)
    return stb


def quiet_by_this_cell(displayhook) -> bool:
    """IPython's test for a trailing ';', read from the running cell rather than from history.

    IPython looks at the last cell in its history, and runs that do not store history (nbval
    re-running a notebook) would then print the `True` of a check cell ending in ';'."""
    result = displayhook.exec_result
    if result is None or result.info is None:
        return type(displayhook).quiet(displayhook)
    return displayhook.semicolon_at_end_of_expression(result.info.raw_cell)


def install_ipython_handler() -> bool:
    """Under IPython: TrainingDiverged as one friendly line, and ';' honoured in every run.
    False outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.set_custom_exc((TrainingDiverged,), friendly_divergence)
    hook = shell.displayhook
    if hasattr(hook, "exec_result") and hasattr(hook, "semicolon_at_end_of_expression"):
        hook.quiet = types.MethodType(quiet_by_this_cell, hook)
    return True


def setup(seed: int = 0) -> Lab:
    """Print mode and data source, seed everything, quiet the plumbing; return the run's Lab."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InvalidInput(f"seed={seed!r}: use a whole number 0 or greater, e.g. setup(seed=0)")
    seed_everything(seed)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    install_ipython_handler()
    lab = Lab(device=resolve_device("auto"), quick=quick_mode(), seed=seed)
    print(banner())
    print(f"Device: {lab.device} | seed: {seed}")
    return lab
