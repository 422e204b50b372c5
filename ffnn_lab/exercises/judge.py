"""How every self-check judges an answer: one way to call student code, one text per state,
tolerances set by the answer's dtype, and a recorder of the calls a function makes."""

from __future__ import annotations

import dis
import functools
import inspect
import random
import re
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, NoReturn

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from ..errors import first_line

PACKAGE = __name__.rpartition(".")[0]  # ffnn_lab.exercises

GAP_MARK = "✏️ your code here"  # what the student release writes into every gap

# One text for each state of an attempt, the same in every notebook.
NOT_WRITTEN = (
    "✏️ Not answered yet: fill in the gap (`...`) in the cell above, run that cell, then run this check again."
)
RETURNED_NONE = "❌ Not yet: {name} returned None: end it with `return` and the result."
RAISED = "❌ Not yet: {what} raised {error}"
NOT_CALLABLE = "❌ Not yet: {name} should be a function (written with def), but it is {kind}."
BANNED = "❌ Not yet: the exercise asks for this by hand, without {banned}."
CHECK_BROKE = "❌ Not yet: the check could not use your answer ({error})."


class Verdict(Exception):
    """Ends a check early with its one message; the @check decorator prints it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def right(message: str) -> bool:
    """Print a right answer's line and return True."""
    print(f"✅ Right: {message}")
    return True


def fail(reason: str) -> NoReturn:
    """End the check with ❌ Not yet and what is wrong (never the expected answer)."""
    raise Verdict(f"❌ Not yet: {reason}")


def not_written(so_far: str = "") -> NoReturn:
    """End the check with the reminder that a gap is still open (and what is right so far)."""
    raise Verdict(f"{NOT_WRITTEN} (So far: {so_far})" if so_far else NOT_WRITTEN)


def is_gap(value: Any) -> bool:
    """True while a value still holds its placeholder: `...`, None, or a tuple of those."""
    if isinstance(value, tuple) and value:
        return all(is_gap(v) for v in value)
    return value is Ellipsis or value is None


def answered(value: Any, so_far: str = "") -> Any:
    """value itself, or the end of the check when it is still a gap."""
    if is_gap(value):
        not_written(so_far)
    return value


def check(fn: Callable[..., bool]) -> Callable[..., bool]:
    """Decorator for check functions: prints the one message a Verdict carries, never a
    traceback, and leaves the notebook's random generators as it found them."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> bool:
        with _same_randomness_after():
            try:
                return bool(fn(*args, **kwargs))
            except Verdict as verdict:
                print(verdict.message)
            except Exception as error:  # the promise: a check never shows a student a traceback
                print(CHECK_BROKE.format(error=_one_line(error)))
        return False

    return wrapper


@contextmanager
def _same_randomness_after() -> Iterator[None]:
    # A check draws fresh inputs and builds small models; the notebook's seeded cells after it
    # must still see the numbers they would have seen without the check.
    state = torch.get_rng_state(), np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        torch.set_rng_state(state[0])
        np.random.set_state(state[1])
        random.setstate(state[2])


def fresh() -> tuple[torch.Generator, np.random.Generator]:
    """Generators seeded anew at every check, so no value a student hard-codes can match."""
    seed = secrets.randbits(62)
    return torch.Generator().manual_seed(seed), np.random.default_rng(seed)


# --- calling student code ------------------------------------------------------------------


def _one_line(error: BaseException) -> str:
    text = first_line(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def name_of(fn: Any) -> str:
    """How messages refer to a student's function."""
    name = getattr(fn, "__name__", None)
    return name if name and name != "<lambda>" else "your function"


_NOTHING_OPS = {"RESUME", "NOP", "CACHE", "NOT_TAKEN", "EXTENDED_ARG"}


def does_nothing(fn: Any) -> bool:
    """True when fn's body is only a docstring and `...` (or pass): a gap not filled in yet."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    if code is None:
        return False
    ops = [(i.opname, i.argval) for i in dis.get_instructions(code) if i.opname not in _NOTHING_OPS]
    return ops in ([("RETURN_CONST", None)], [("LOAD_CONST", None), ("RETURN_VALUE", None)])


def _still_has_gap(fn: Any) -> bool:
    try:
        return GAP_MARK in inspect.getsource(fn)
    except (OSError, TypeError):  # built without a source file (exec, a C function)
        return False


@dataclass
class Ban:
    """What an exercise asks students to do without: torch functions, seen at run time by name
    however they are reached (torch.softmax, Tensor.softmax, F.softmax, nn.Softmax), and Python
    helpers (functions or methods), seen when their code runs, whatever name reached them."""

    say: str
    torch_names: frozenset[str] = field(default_factory=frozenset)
    helpers: tuple[Callable, ...] = ()
    code_names: frozenset[str] = field(default_factory=frozenset)  # names distinctive enough to ban


class _Recorder(TorchFunctionMode):
    """Records the name of every torch function a call makes (only the outermost ones)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def __torch_function__(
        self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        self.names.add(getattr(func, "__name__", ""))
        return func(*args, **(kwargs or {}))


def names_used(fn: Any) -> set[str]:
    """The global and attribute names fn's code refers to, nested functions included."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    names: set[str] = set()
    stack = [code] if code is not None else []
    while stack:
        current = stack.pop()
        names.update(current.co_names)
        stack.extend(c for c in current.co_consts if inspect.iscode(c))
    return names


def objects_held(fn: Any) -> list[Any]:
    """The objects fn's code can reach by name: its globals and closure (so `from x import f as
    g` at the top of a notebook still shows f)."""
    fn = getattr(fn, "__func__", fn)
    found = getattr(fn, "__globals__", {})
    held = [found[n] for n in names_used(fn) if n in found]
    return held + [cell.cell_contents for cell in getattr(fn, "__closure__", None) or () if _filled(cell)]


def _filled(cell: Any) -> bool:
    try:
        return cell.cell_contents is not None
    except ValueError:  # a closure variable not assigned yet
        return False


@contextmanager
def _watching(helpers: tuple[Callable, ...]) -> Iterator[list[str]]:
    """Note every call of the helpers' code during the block (a profile hook: it sees a helper
    however it was reached, through the package, an alias or a method)."""
    codes = {h.__code__: h.__name__ for h in helpers if hasattr(h, "__code__")}
    called: list[str] = []
    if not codes:
        yield called
        return

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code in codes:
            called.append(codes[frame.f_code])

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield called
    finally:
        sys.setprofile(previous)


def _ours(obj: Any) -> bool:
    """obj is a module of the checks' package, or was defined in one."""
    try:
        name = obj.__name__ if isinstance(obj, ModuleType) else getattr(obj, "__module__", None)
    except Exception:  # an object whose attributes misbehave is not ours
        return False
    return isinstance(name, str) and (name == PACKAGE or name.startswith(PACKAGE + "."))


def _private_names() -> frozenset[str]:
    """The checks' private helpers by name (_costs, _spread...): references a student could call."""
    return frozenset(
        name
        for module_name, module in list(sys.modules.items())
        if module_name.startswith(PACKAGE)
        for name, value in vars(module).items()
        if name.startswith("_") and not name.startswith("__") and callable(value) and _ours(value)
    )


def _reaches_the_checks(fn: Any) -> bool:
    """fn is, holds or names the checks' own code."""
    if _ours(fn) or any(_ours(obj) for obj in objects_held(fn)):
        return True
    return bool(names_used(fn) & _private_names())


def _broke(fn: Any, ban: Ban) -> bool:
    # a banned helper held by the code counts even when this call happens not to reach it
    if any(any(obj is helper for helper in ban.helpers) for obj in objects_held(fn)):
        return True
    return bool(ban.code_names & names_used(fn))


def call(fn: Any, *args: Any, on: str = "", without: Ban | None = None, so_far: str = "") -> Any:
    """Call a student's function and return its result; end the check with the one message of
    its state when it is not written yet, not callable, raises, breaks a ban or returns None.
    on: the inputs, for messages; so_far: what is already right, for the not-written reminder."""
    name = name_of(fn)
    if is_gap(fn):
        not_written(so_far)
    if not callable(fn):
        raise Verdict(NOT_CALLABLE.format(name=name, kind=f"a {type(fn).__name__}"))
    if does_nothing(fn):
        not_written(so_far)
    ban = without or Ban("")
    if _broke(fn, ban):
        raise Verdict(BANNED.format(banned=ban.say))
    if _reaches_the_checks(fn):
        fail(
            "that calls the checks' own code (ffnn_lab.exercises), which holds their references: "
            "write the answer yourself"
        )
    recorder = _Recorder()
    before = [_snapshot(a) for a in args]
    try:
        with _watching(ban.helpers) as called, recorder if ban.torch_names else nullcontext():
            out = fn(*args)
    except Exception as error:  # a mistake in student code becomes one line, not a traceback
        what = f"{name} on {on}" if on else name
        raise Verdict(RAISED.format(what=what, error=_one_line(error))) from None
    if called or recorder.names & ban.torch_names:
        raise Verdict(BANNED.format(banned=ban.say))
    if out is None:
        if _still_has_gap(fn):
            not_written(so_far)
        raise Verdict(RETURNED_NONE.format(name=name))
    if any(not _unchanged(a, b) for a, b in zip(args, before, strict=True)):
        fail(
            f"{name} changed the tensor it was given, in place (as `x -= ...` or `x.log_()` do): "
            "compute a new one (`x = x - ...`) and leave the caller's data as it was"
        )
    return out


SNAPSHOT_MAX = 1 << 22  # elements: inputs larger than this are not copied to be compared


def _snapshot(arg: Any) -> Any:
    """A copy of a tensor or array argument (or of those in a tuple or list), to see if fn changed it."""
    if isinstance(arg, torch.Tensor):
        return arg.detach().clone() if arg.numel() <= SNAPSHOT_MAX else None
    if isinstance(arg, np.ndarray):
        return arg.copy() if arg.size <= SNAPSHOT_MAX else None
    if isinstance(arg, list | tuple):
        return [_snapshot(a) for a in arg]
    return None


def _unchanged(arg: Any, copy: Any) -> bool:
    if copy is None:
        return True
    if isinstance(copy, list):
        return len(arg) == len(copy) and all(_unchanged(a, c) for a, c in zip(arg, copy, strict=False))
    if isinstance(arg, np.ndarray):
        return bool(np.array_equal(arg, copy, equal_nan=arg.dtype.kind in "fc"))
    if arg.shape != copy.shape or arg.dtype != copy.dtype:
        return False
    same = arg.detach() == copy
    if arg.is_floating_point():
        same |= arg.detach().isnan() & copy.isnan()
    return bool(same.all())


# --- reading answers in any reasonable form ------------------------------------------------

F32_EPS = float(torch.finfo(torch.float32).eps)
ROUND_OFF = 64  # units of float32 round-off an answer may carry before it counts as different


@dataclass
class Numbers:
    """An answer's values as float64, and the relative precision its own dtype allows."""

    values: np.ndarray
    eps: float

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)

    def close(self, want: Any, scale: float | None = None) -> bool:
        """Equal to want within the round-off of this answer's dtype (float32's at least);
        scale: the size of the numbers the answer was computed from (1 + max|want| by default)."""
        want = np.asarray(want, dtype=np.float64)
        if self.values.shape != want.shape:
            return False
        tol = max(ROUND_OFF * F32_EPS, 8 * self.eps)  # float16 and bfloat16 answers carry their own
        scale = 1 + float(np.abs(want).max(initial=0)) if scale is None else scale
        return bool(np.allclose(self.values, want, rtol=tol, atol=tol * scale))


def _eps(dtype: Any) -> float:
    if isinstance(dtype, torch.dtype):
        return float(torch.finfo(dtype).eps) if dtype.is_floating_point else 0.0
    dtype = np.dtype(dtype)
    return float(np.finfo(dtype).eps) if np.issubdtype(dtype, np.floating) else 0.0


def _to_numpy(value: Any) -> tuple[np.ndarray, float]:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu()
        if t.is_complex():
            raise TypeError("complex numbers")
        eps = _eps(t.dtype)
        return t.double().numpy() if t.dtype != torch.bool else t.numpy().astype(np.float64), eps
    if isinstance(value, list | tuple):
        parts = [_to_numpy(v) for v in value]
        if not parts:
            return np.zeros(0), 0.0
        return np.stack([p[0] for p in parts]), max(p[1] for p in parts)
    if isinstance(value, set | frozenset):
        return _to_numpy(sorted(value))
    if isinstance(value, Iterator):  # a generator or map: its items
        return _to_numpy(list(value))
    if isinstance(value, str | bytes) or value is None:
        raise TypeError(type(value).__name__)
    array = np.asarray(value)
    if array.dtype == object and array.ndim == 0:
        array = np.asarray(float(value))  # a Fraction or Decimal; raises TypeError if it is not a number
    if array.dtype == object or np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(type(value).__name__)
    eps = _eps(array.dtype) if not isinstance(value, float) else float(np.finfo(np.float64).eps)
    return array.astype(np.float64), eps


def numbers(value: Any, what: str) -> Numbers:
    """value (a Python number, NumPy array or scalar, tensor of any dtype or device, or a list
    of those) as Numbers; ends the check naming `what` when it is not numbers."""
    try:
        array, eps = _to_numpy(value)
    except (TypeError, ValueError, RuntimeError):
        fail(f"{what} should be numbers, but it is {_kind(value)}")
    return Numbers(array, eps)


def number(value: Any, what: str) -> Numbers:
    """One number in any form (a 0-d or one-element tensor or array included)."""
    found = numbers(value, what)
    if found.values.size != 1:
        fail(f"{what} should be one number, but it has shape {found.shape}")
    return Numbers(found.values.reshape(()), found.eps)


def whole(value: Any, what: str) -> int:
    """A whole number in any form: int, NumPy or tensor integer, or a float with no fraction."""
    if isinstance(value, bool | np.bool_) or isinstance(value, str):
        fail(f"{what} should be a whole number, but it is {_kind(value)}")
    found = float(number(value, what).values)
    if not np.isfinite(found) or found != round(found):
        fail(f"{what} should be a whole number, but it is {found:g}")
    return int(round(found))


def _kind(value: Any) -> str:
    if isinstance(value, torch.Tensor | np.ndarray):
        return f"a {type(value).__name__} of dtype {value.dtype} and shape {tuple(value.shape)}"
    if isinstance(value, str):
        return f"the text {value!r}"
    return f"a {type(value).__name__}"


def describe(value: Any) -> str:
    """A short description of an answer for a message: its type, and shape where it has one."""
    return _kind(value)


def show(values: Any, digits: int = 3) -> str:
    """Numbers printed briefly for a message about the student's own output."""
    array = np.atleast_1d(np.asarray(values, dtype=np.float64)).ravel()
    text = ", ".join(f"{v:.{digits}g}" for v in array[:6])
    return f"[{text}{', ...' if array.size > 6 else ''}]" if array.size > 1 else text


def letter(value: Any, options: str) -> str:
    """A multiple-choice answer normalised: one lower-case letter of options, with or without
    brackets, dots or spaces ("(B)", " b ", "b)"); ends the check when it is not one of them."""
    text = str(value).strip().lower()
    for word in ("option", "answer"):
        text = text.removeprefix(word).strip().removeprefix(":").removeprefix("=").strip()
    alone = re.fullmatch(r"[(\[{'\"]*\s*([a-z])\s*[)\]}.:'\"]*", text)
    explained = re.match(r"[(\[]?([a-z])[)\].:]\s", text)  # "b) because ...", not "a network ..."
    found = alone or explained
    choices = ", ".join(f'"{o}"' for o in options)
    if found is None or found[1] not in options:
        fail(f"answer with one letter: {choices} (you gave {value!r})")
    return found[1]
