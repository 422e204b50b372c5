"""Self-checks for the notebooks' exercises: one module per notebook (nb01 ... nb09), the ways
of judging in `judge`, answers kept out of plain sight in `answers`, choices in `written`.

A check takes the student's value or function, never raises and never prints the expected
answer: it says right or not yet, and why, in one message. A function is called on inputs
drawn afresh at every check and compared with a reference computed on those inputs.
"""

from __future__ import annotations

import importlib

from .judge import (
    BANNED,
    NOT_CALLABLE,
    NOT_WRITTEN,
    RAISED,
    RETURNED_NONE,
    Ban,
    Verdict,
    call,
    check,
    fail,
    is_gap,
    right,
)

__all__ = [
    "BANNED",
    "NOT_CALLABLE",
    "NOT_WRITTEN",
    "RAISED",
    "RETURNED_NONE",
    "Ban",
    "Verdict",
    "call",
    "check",
    "fail",
    "is_gap",
    "right",
]


def __getattr__(name: str):
    """Import a notebook's checks on first use, so `ffnn_lab.exercises.nb03` works after
    `import ffnn_lab` without loading every notebook's module."""
    if name.startswith("nb") and name[2:].isdigit():
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
