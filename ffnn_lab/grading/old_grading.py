"""The graded exercise: the student's own check, and the instructor's grader for submissions.

The grader runs each notebook in a fresh kernel, in a child process it can kill. Its check
cell hands the student's `model` a shuffled copy of the validation images and takes back only
predicted classes; the labels never enter the kernel and accuracy is computed out here, so no
function or check a notebook redefines can change its grade.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .cache import write_text_atomic
from .run_notebook import TIMED_OUT
from .tensors import TensorData, prepare_cifar2
from .train import predict

THRESHOLD = 0.80


def _probe(model: nn.Module, x: torch.Tensor) -> str | None:
    """Why model cannot be graded on batches like x, or None."""
    if not isinstance(model, nn.Module):
        return f"`model` is a {type(model).__name__}, not a torch.nn.Module"
    if not any(True for _ in model.parameters()):
        return "`model` has no parameters to train"
    device = next(model.parameters()).device
    try:
        with torch.no_grad():
            out = model.eval()(x[:2].to(device))
    except Exception as e:  # the student's code: any error is feedback, not a crash
        return (f"`model` failed on a batch of images shaped {tuple(x[:2].shape)}: {e}. "
                "It must take normalised images (N, 3, 32, 32); start it with nn.Flatten()")
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, 2):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return f"`model` must return 2 scores per image (shape (N, 2)); it returned {shape}"
    return None


def check(model: nn.Module, val: TensorData | None = None, threshold: float = THRESHOLD) -> bool:
    """The student's check: recompute validation accuracy from model and say pass or fail, and why."""
    val = val if val is not None else prepare_cifar2().val
    problem = _probe(model, val.x)
    if problem:
        print(f"Not graded yet: {problem}.")
        return False
    device = next(model.parameters()).device
    accuracy = (predict(model, TensorData(val.x.to(device), val.y.to(device))) ==
                val.y.cpu()).float().mean().item()
    print(f"Validation accuracy: {accuracy:.2%} on {len(val):,} images (goal: over {threshold:.0%}).")
    if accuracy > threshold:
        print("PASS: well done! Your network beats the lecture's baseline.")
        return True
    gap = threshold - accuracy
    if accuracy < 0.6:
        hint = ("that is close to guessing (50%). Did the training cell run, and does it train "
                "this same `model` object? Look for a loss that goes down.")
    elif gap < 0.02:
        hint = ("so close! Try a few more epochs, a slightly different learning rate, "
                "or a wider hidden layer.")
    else:
        hint = ("try a deeper or wider network (the lecture's 3072-1024-512-128-2), more epochs, "
                "or random shifts of the training images.")
    print(f"NOT YET: {gap:.1%} short; {hint}")
    return False


# The instructor's cell, appended to each submission. Only torch and numpy, no ffnn_lab, so a
# notebook that patches the package changes nothing; it sees images, never labels.
CHECK_CELL = """\
import numpy as _np, torch as _torch
_x = _torch.from_numpy(_np.load({images!r}, allow_pickle=False))
_dev = next(model.parameters()).device
model.eval()
with _torch.no_grad():
    _pred = _torch.cat([model(_x[_i:_i + 500].to(_dev)).argmax(dim=1).cpu()
                        for _i in range(0, len(_x), 500)])
_np.save({out!r}, _pred.numpy().astype(_np.int64))
"""


@dataclass
class Grade:
    """One submission's result, as written to the reports."""

    file: str
    passed: bool
    accuracy: float | None
    seconds: float
    error: str = ""


def grade_one(notebook: Path, images: Path, labels: np.ndarray, timeout: float,
              threshold: float = THRESHOLD, data: str | None = None) -> Grade:
    """Grade one submission in a child process that is killed, kernel and all, at the timeout."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pred.npy"
        # run by path, not as part of the package: the child needs nbclient, not torch
        cmd = [sys.executable, str(Path(__file__).with_name("run_notebook.py")), str(notebook),
               CHECK_CELL.format(images=str(images), out=str(out)), str(timeout)]
        # the notebook reads the same data; it runs at full length whatever the grader's mode
        env = {k: v for k, v in os.environ.items() if k != "FFNN_LAB_QUICK"}
        if data:
            env["FFNN_LAB_DATA"] = data
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True, text=True, env=env)
        try:
            log, _ = proc.communicate(timeout=timeout)  # the whole notebook, kernel start included
            lines = log.strip().splitlines()
            error = "" if proc.returncode == 0 else (
                f"timed out after {timeout:g} s" if proc.returncode == TIMED_OUT else
                lines[-1] if lines else f"the grading process died (exit code {proc.returncode})")
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the kernel is in the same process group
            proc.communicate()
            error = f"timed out after {timeout:g} s"
        seconds = time.perf_counter() - start
        if error:
            return Grade(notebook.name, False, None, seconds, error)
        try:
            pred = np.load(out, allow_pickle=False)
        except (OSError, ValueError) as e:
            return Grade(notebook.name, False, None, seconds, f"no predictions came back: {e}")
        if pred.shape != labels.shape:
            return Grade(notebook.name, False, None, seconds,
                         f"predictions shaped {pred.shape}, expected {labels.shape}")
        accuracy = float((pred == labels).mean())
        return Grade(notebook.name, accuracy > threshold, accuracy, seconds)


def write_reports(grades: list[Grade], report_dir: Path, threshold: float,
                  data: str = "") -> tuple[Path, Path]:
    """report.md and report.csv in report_dir, each written whole or not at all."""
    report_dir.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(Grade.__dataclass_fields__))
    writer.writeheader()
    for g in grades:
        writer.writerow({**asdict(g), "accuracy": "" if g.accuracy is None else f"{g.accuracy:.4f}",
                         "seconds": f"{g.seconds:.1f}"})
    passed = sum(g.passed for g in grades)
    md = [f"# Grading report\n\nGoal: validation accuracy over {threshold:.0%}. "
          f"{passed} of {len(grades)} passed.\n\nValidation data: {data}\n",
          "| file | passed | accuracy | seconds | error |", "|---|---|---|---|---|"]
    for g in grades:
        acc = "" if g.accuracy is None else f"{g.accuracy:.2%}"
        err = g.error.replace("|", "\\|")
        md.append(f"| {g.file} | {'yes' if g.passed else 'no'} | {acc} | {g.seconds:.1f} | {err} |")
    paths = report_dir / "report.md", report_dir / "report.csv"
    for path, text in zip(paths, ("\n".join(md) + "\n", buf.getvalue()), strict=True):
        write_text_atomic(path, text)
    return paths


def grade(notebooks: list[Path], report_dir: Path, data: str | None = None,
          timeout: float = 600, threshold: float = THRESHOLD, seed: int = 0) -> list[Grade]:
    """Grade each notebook on the validation split of data; one failure never stops the others."""
    prepared = prepare_cifar2(data)
    val = prepared.val
    where = prepared.summary.splitlines()[-1]
    print(f"grading on {where}", flush=True)
    order = torch.randperm(len(val), generator=torch.Generator().manual_seed(seed))
    labels = val.y[order].numpy()
    grades = []
    with tempfile.TemporaryDirectory() as tmp:
        images = Path(tmp) / "images.npy"
        np.save(images, val.x[order].numpy())
        for nb in notebooks:
            g = grade_one(Path(nb).resolve(), images, labels, timeout, threshold, data)
            acc = "-" if g.accuracy is None else f"{g.accuracy:.2%}"
            print(f"{g.file}: {'PASS' if g.passed else 'FAIL'} accuracy {acc} "
                  f"({g.seconds:.0f} s){' - ' + g.error if g.error else ''}", flush=True)
            grades.append(g)
            write_reports(grades, report_dir, threshold, where)  # kept up to date as it goes
    return grades
