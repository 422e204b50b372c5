"""Self-checks for the notebooks' exercises: one module per notebook, shared helpers here.

A check takes the student's value (or function), never raises and never prints the expected
answer: it says right or not yet, and why. Unanswered gaps (`...` or None) get a gentle reminder.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

NOTHING_RETURNED = "✏️ Not answered yet: your function returned None; fill in its gap (with a return)."
NOT_ANSWERED = "✏️ Not answered yet: fill in the gap in the cell above, then run this check again."


class _Failed:
    """The result of an attempt whose function raised (or was not a function)."""

    def __repr__(self) -> str:
        return "FAILED"


FAILED = _Failed()


def unanswered(value: Any) -> bool:
    """True while the gap still holds its placeholder (`...` or None)."""
    return value is Ellipsis or value is None


def right(message: str) -> bool:
    """Print a right answer's line and return True."""
    print(f"✅ Right: {message}")
    return True


def not_yet(message: str) -> bool:
    """Print what is still wrong (never the expected answer) and return False."""
    print(f"❌ Not yet: {message}")
    return False


def not_answered() -> bool:
    """Print the reminder for an unanswered gap and return False."""
    print(NOT_ANSWERED)
    return False


def returned_nothing() -> bool:
    """Print the reminder for a function that returns None (its gap still open, or no `return`)."""
    print(NOTHING_RETURNED)
    return False


def describe_error(error: BaseException) -> str:
    """One line naming an exception, for a check's message."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def attempt(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call a student's function; if it raises, print a `not_yet` line naming the exception
    (no traceback) and return FAILED. Usage: `if (out := attempt(f, x)) is FAILED: return False`."""
    if unanswered(fn):
        not_answered()
        return FAILED
    name = getattr(fn, "__name__", "your function")
    if not callable(fn):
        not_yet(f"expected a function, got {type(fn).__name__}")
        return FAILED
    try:
        return fn(*args, **kwargs)
    except Exception as error:  # a mistake in student code becomes a message, not a traceback
        not_yet(f"calling {name} raised {describe_error(error)}")
        return FAILED


def check(fn: Callable[..., bool]) -> Callable[..., bool]:
    """Decorator for check functions: an unanswered first argument gets `not_answered()`, and a
    check that trips over an unexpected answer says so in one line instead of raising."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> bool:
        if args and unanswered(args[0]):
            return not_answered()
        try:
            return bool(fn(*args, **kwargs))
        except Exception as error:  # the promise: a check never shows a student a traceback
            return not_yet(f"the check could not use your answer ({describe_error(error)})")

    return wrapper


def __getattr__(name: str):
    """Import a notebook's checks on first use, so `ffnn_lab.exercises.nb03` works after
    `import ffnn_lab` without loading every notebook's module."""
    if name.startswith("nb") and name[2:].isdigit():
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
