"""The graded split: what a notebook may see (the view) and the private images and labels it never sees.

The view is the training images and labels, as an array copy in a folder of its own (bound into each
sandbox at /data). The private images are normalised as the student's pipeline normalises them and
shuffled in a fresh order for this run; they reach phase 2 through a file descriptor, and their
labels never leave the grader's process. Everything here is written 0600 in 0700 folders.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data import Prepared, find_source, load_cifar10, prepare_cifar2, to_arrays
from .sandbox import memfd

SANDBOX_DATA = "/data"


@dataclass
class Split:
    """What is graded. images_fd holds the private images (an .npy) in this run's order."""

    view: str  # FFNN_LAB_DATA for the notebook: SANDBOX_DATA, or "synthetic"
    view_dir: Path | None  # the host folder bound at SANDBOX_DATA
    student: Prepared  # what the untouched exercise trains on inside the sandbox
    images: torch.Tensor  # private images, normalised as the student's pipeline does, in this run's order
    labels: np.ndarray  # in that order; kept in memory only
    images_fd: int
    fingerprint: str  # of the view and the private split as sets: the same for every run on this data
    description: str

    def close(self) -> None:
        """Release the private images' descriptor and delete the view."""
        os.close(self.images_fd)
        if self.view_dir is not None:
            shutil.rmtree(self.view_dir.parent, ignore_errors=True)


def fingerprint(*tensors: torch.Tensor | np.ndarray) -> str:
    """A digest of the tensors' bytes, in order."""
    h = hashlib.sha256()
    for t in tensors:
        array = (
            t.detach().cpu().contiguous().numpy() if isinstance(t, torch.Tensor) else np.ascontiguousarray(t)
        )
        h.update(f"{array.dtype}{array.shape}".encode())
        h.update(array.tobytes())
    return h.hexdigest()[:24]


def prepare_split(data: str | None, holdout: int = 2000, split_seed: int = 0) -> Split:
    """Divide the graded data into the sandboxes' view and the private part (close() when done)."""
    source = find_source(data)
    private = prepare_cifar2(data, holdout=holdout, split_seed=split_seed, download=True)
    if source.kind == "synthetic":  # the stand-in's validation images are public by construction: tests only
        view, view_dir, student = "synthetic", None, prepare_cifar2("synthetic")
        note = "SYNTHETIC stand-in (its validation images are public: for tests only)"
    else:
        view = SANDBOX_DATA
        # its host path is all a sandbox learns of the host (in /proc/self/mountinfo): nothing private
        view_dir = Path(tempfile.mkdtemp(prefix="ffnn-lab-view-")) / "data"
        view_dir.mkdir()
        images, targets = to_arrays(
            load_cifar10(data, True, holdout=holdout, split_seed=split_seed, download=True)
        )
        np.savez(view_dir / "train.npz", data=images, targets=targets)
        # readable by the sandbox's own user; the folder above (0700) hides it from everyone else
        os.chmod(view_dir, 0o755)
        os.chmod(view_dir / "train.npz", 0o644)
        student = prepare_cifar2(str(view_dir))
        note = private.summary.splitlines()[-1]
    # the private images, normalised with the statistics the student's own pipeline computes
    raw = private.val.x * private.std.view(1, 3, 1, 1) + private.mean.view(1, 3, 1, 1)
    x = ((raw - student.mean.view(1, 3, 1, 1)) / student.std.view(1, 3, 1, 1)).contiguous()
    y = private.val.y
    key = fingerprint(student.train.x, student.train.y, x, y)  # before shuffling: one key per split
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(secrets.randbits(63)))
    x, y = x[order], y[order]
    buffer = io.BytesIO()
    np.save(buffer, x.numpy().astype(np.float32), allow_pickle=False)
    return Split(view, view_dir, student, x, y.numpy(), memfd(buffer.getvalue()), key, note)
