"""Reading submissions: who each one belongs to, and its bytes, without following links or blocking."""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_NOTEBOOK = 50 << 20  # bytes of a submission file


def submission_ids(paths: list[Path]) -> list[tuple[str, str]]:
    """(path relative to the submissions' common folder, student) for each path; the student is the
    first folder under the common one, or the file's name when all files share one folder."""
    absolute = [os.path.abspath(p) for p in paths]
    common = os.path.commonpath([os.path.dirname(p) for p in absolute]) if absolute else ""
    ids = []
    for p in absolute:
        rel = os.path.relpath(p, common)
        parts = Path(rel).parts
        ids.append((rel, parts[0] if len(parts) > 1 else Path(rel).stem))
    return ids


def linked_folder(path: Path, relative: str) -> str | None:
    """The folder between the common one and the file that is a symbolic link, if any: a student
    folder linked to another's would be graded under the wrong name."""
    base = os.path.abspath(path)[: -len(relative)] if relative else os.path.abspath(path)
    current = base.rstrip("/")
    for part in Path(relative).parts[:-1]:
        current = f"{current}/{part}"
        if os.path.islink(current):
            return part
    return None


def read_submission(path: Path) -> bytes:
    """A submission's bytes: a regular file, not through a symlink, never blocking; else ValueError."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        kind = "a symbolic link" if os.path.islink(path) else e.strerror
        raise ValueError(f"cannot be read: {kind}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise ValueError(f"is {kind}, not a notebook")
        data = os.read(fd, MAX_NOTEBOOK + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_NOTEBOOK:
        raise ValueError(f"is larger than {MAX_NOTEBOOK >> 20} MB")
    return data
