"""The errors ffnn_lab raises on purpose; each message says what to do next."""

from __future__ import annotations


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
