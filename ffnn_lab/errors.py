"""The errors ffnn_lab raises on purpose (each says what to do next), and how it quotes one."""

from __future__ import annotations

import re

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # terminal colour and cursor codes


def first_line(text: object, limit: int = 300) -> str:
    """The first non-empty line of text (an exception's message, say), without terminal codes,
    at most limit characters: how the lab quotes an error in one line."""
    line = (ANSI.sub("", str(text or "")).strip().splitlines() or [""])[0].strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


class LabError(Exception):
    """Base of every error the lab raises on purpose (a bug in the lab raises something else)."""


class InvalidInput(LabError, ValueError):
    """An argument, setting or input file the lab cannot use; the message says what would work."""


class DataNotFoundError(LabError, FileNotFoundError):
    """No usable CIFAR-10 copy where the lab looked; .problem says what, the message adds ways out."""

    def __init__(self, problem: str, ways_out: str = "") -> None:
        super().__init__(f"{problem}\n{ways_out}" if ways_out else problem)
        self.problem = problem


class TrainingDiverged(LabError, RuntimeError):
    """The loss became NaN or infinite; .history holds the epochs finished before it."""

    def __init__(self, message: str, history: list[dict]) -> None:
        super().__init__(message)
        self.history = history


class TrainingUnstable(UserWarning):
    """The loss stayed finite but grew far beyond where it started: the run is not learning."""
