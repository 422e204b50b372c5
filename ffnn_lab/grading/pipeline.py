"""One submission through the grading pipeline, each step giving a value or the reason it stopped:

    read (file checks) -> phase 1 (sandboxed run and export) -> phase 2 (sandboxed rules and scoring)
    -> score (labels, pass mark, ceiling) -> row, and the student's feedback

Every failure becomes the row's reason (the grader's words) and, where the submission said something
(an exception's message, names in its export), that text quoted apart; never an exception here.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import first_line
from . import process
from .exercise import GRADER_ENV
from .policy import Budget
from .reports import Row, clean
from .sandbox import HOME, Limits, Sandbox, memfd
from .split import Split
from .submissions import linked_folder, read_submission

MAX_EXPORT = 512 << 20  # bytes of an exported model (the largest allowed network is far smaller)
PHASE1_REASONS = {
    "unreadable": "not a readable notebook",
    "timeout": "timed out after {timeout:g} s",
    "cell": "a cell raised an exception",
    "export": "exporting `model` failed",
    "kernel": "the notebook's kernel died or did not start",
}


@dataclass(frozen=True)
class Bar:
    """What a score is measured against: the pass mark, the untouched exercise's score (None with a
    fixed --threshold) and the plausibility ceiling above which a score is reviewed, not passed."""

    pass_mark: float
    reference: float | None
    ceiling: float


@dataclass
class Settings:
    """How each submission is run."""

    budget: Budget = field(default_factory=Budget)
    sandbox: Sandbox | None = None  # None: --no-sandbox
    limits: Limits = field(default_factory=Limits)
    threads: int = 1  # torch threads per submission: sandboxes side by side share the cores


@dataclass
class Stop:
    """Why a step stopped the submission: the grader's words, and what the submission said."""

    reason: str
    said: str = ""


def grade_one(
    path: Path, ident: tuple[str, str], split: Split, settings: Settings, bar: Bar, log: Path, slot: int
) -> Row:
    """One submission, start to finish: its row (the feedback is written by the caller)."""
    start = time.monotonic()
    row = Row(
        submission=ident[0],
        student=ident[1],
        status="failed",
        passed=False,
        reference=bar.reference,
        threshold=bar.pass_mark,
        sandbox="bubblewrap" if settings.sandbox else "UNSANDBOXED",
        log=log.name,
    )
    try:
        result = _grade(path, ident[0], split, settings, log, slot, row)
    except process.Stopped:
        raise
    except Exception as e:  # a bug of the grader's own must cost one row, not the class's run
        result = Stop(f"internal grader error, please report it: {type(e).__name__}: {first_line(e)}")
    if isinstance(result, Stop):
        row.error, row.student_text = clean(result.reason), clean(result.said)
    else:
        _score(row, result, split, bar)
    row.seconds = time.monotonic() - start
    return row


def _score(row: Row, predictions: np.ndarray, split: Split, bar: Bar) -> None:
    """The row's accuracy, and whether it passes, fails or is above the plausibility ceiling."""
    accuracy = float((predictions == split.labels).mean())
    row.accuracy, row.status = accuracy, "graded"
    row.margin = None if bar.reference is None else accuracy - bar.reference
    if accuracy > bar.ceiling:
        row.status = "review"
        row.error = (
            f"{accuracy:.2%} is above {bar.ceiling:.0%}, more than a fully connected network reaches on "
            "this task (about 90% at best): check it by hand before it counts; a model that memorised "
            "the graded images would score like this"
        )
    elif accuracy >= bar.pass_mark:
        row.passed = True
    else:
        row.error = f"{accuracy:.2%} is below the pass mark of {bar.pass_mark:.2%}"


def _grade(
    path: Path, relative: str, split: Split, settings: Settings, log: Path, slot: int, row: Row
) -> np.ndarray | Stop:
    """The predictions for the private images, or why there are none."""
    linked = linked_folder(path, relative)
    if linked:
        return Stop(f"the folder {linked} is a symbolic link (to someone else's work?): refused, not graded")
    try:
        notebook = read_submission(path)
    except ValueError as e:
        return Stop(f"the submission {e}")
    with tempfile.TemporaryDirectory(prefix="ffnn-lab-grade-") as tmp:
        model = _phase1(notebook, split, settings, Path(tmp), log, slot, row)
        if isinstance(model, Stop):
            return model
        return _phase2(model, split, settings, slot, row)


def _phase1(
    notebook: bytes, split: Split, settings: Settings, home: Path, log: Path, slot: int, row: Row
) -> bytes | Stop:
    """Run the notebook in a fresh kernel (sandboxed) and take its exported `model`."""
    budget, box = settings.budget, settings.sandbox
    read_end, write_end = os.pipe()
    status_read, status_write = os.pipe()
    inside = f"{HOME}/submission.ipynb" if box else str(home / "submission.ipynb")
    env = {
        "FFNN_LAB_DATA": split.view if box else str(split.view_dir or "synthetic"),
        "FFNN_LAB_ROOT": f"{HOME if box else home}/.ffnn-lab",
        GRADER_ENV: "1",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": str(settings.threads),
    }
    argv = [sys.executable, "-m", "ffnn_lab.grading.phase1", inside, f"{budget.timeout:g}", str(write_end)]
    argv.append(str(status_write))
    binds: dict[str, str] = {}
    files: dict[str, int] = {}
    if box:
        files[inside] = memfd(notebook)
        if split.view_dir:
            binds[str(split.view_dir)] = split.view
    else:
        (home / "submission.ipynb").write_bytes(notebook)
        env["HOME"] = str(home)
    export, status = process.Drain(read_end, MAX_EXPORT), process.Drain(status_read, 1 << 16)
    export.start()
    status.start()
    try:
        out = process.run(
            argv,
            limit=budget.timeout + budget.startup,
            limits=settings.limits,
            sandbox=box,
            env=env,
            slot=slot,
            cwd=None if box else str(home),
            ro_binds=binds,
            files=files,
            pass_fds=(write_end, status_write),
            log=log,
            group_name=f"p1-{slot}",
        )
    finally:
        os.close(write_end)
        os.close(status_write)
    export.join(timeout=5)
    status.join(timeout=5)
    _usage(row, out.usage)
    if out.code is None:
        return Stop(f"timed out after {budget.timeout:g} s")
    if out.usage.get("out_of_memory"):
        return Stop(
            f"ran out of memory: the sandbox's limit is {settings.limits.memory_bytes / (1 << 30):.3g} GiB"
        )
    if export.total > MAX_EXPORT:
        return Stop(f"the exported model is larger than {MAX_EXPORT >> 20} MB")
    if out.code != 0 or not export.data:
        if out.code is not None and out.code < 0:
            return Stop(f"the notebook's process was killed by {signal.Signals(-out.code).name}")
        # phase 1's status says what went wrong, through a descriptor student code cannot reach;
        # only its kind (one of PHASE1_REASONS) becomes the grader's words, its detail is quoted
        try:
            said = json.loads(bytes(status.data) or b"{}")
            kind, detail = str(said.get("kind", "")), str(said.get("said", ""))
        except (ValueError, AttributeError):
            kind, detail = "", ""
        fallback = f"the notebook's process ended without exporting `model` (exit code {out.code})"
        return Stop(PHASE1_REASONS.get(kind, fallback).format(timeout=budget.timeout), detail)
    return bytes(export.data)


def _phase2(model: bytes, split: Split, settings: Settings, slot: int, row: Row) -> np.ndarray | Stop:
    """Check the exported graph's rules and score it, in its own sandbox; labels stay here."""
    model_fd = memfd(model)
    argv = [sys.executable, "-m", "ffnn_lab.grading.phase2", str(model_fd), str(split.images_fd)]
    try:
        out = process.run(
            argv,
            limit=settings.budget.scoring,
            limits=settings.limits,
            sandbox=settings.sandbox,
            env={"OMP_NUM_THREADS": str(settings.threads)},
            slot=slot,
            pass_fds=(model_fd, split.images_fd),
            group_name=f"p2-{slot}",
        )
    finally:
        os.close(model_fd)
    if out.code is None:
        return Stop(f"scoring the exported model took longer than {settings.budget.scoring:g} s")
    try:
        result = json.loads(bytes(out.output.data).strip().splitlines()[-1])
    except (ValueError, IndexError):
        return Stop(f"scoring failed (exit code {out.code})")
    row.device = clean(str(result.get("device", "")), 16)
    if result.get("problems"):
        return Stop("breaks the exercise's rules", "; ".join(map(str, result["problems"])))
    if "error" in result:
        return Stop("scoring the exported model failed", str(result["error"]))
    pred = np.asarray(result.get("predictions", []))
    if pred.shape != split.labels.shape or not np.isin(pred, (0, 1)).all():
        return Stop(f"scoring returned {pred.size} predictions for {len(split.labels)} images")
    return pred


def _usage(row: Row, usage: dict) -> None:
    """What phase 1 used, from its control group (absent without one)."""
    if usage.get("cpu_seconds") is not None:
        row.cpu_seconds = round(usage["cpu_seconds"], 1)
    if usage.get("memory_peak_bytes"):
        row.memory_peak_mb = round(usage["memory_peak_bytes"] / 2**20)
