"""Files written atomically (caches, reports, run summaries); caches read back without unpickling."""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np


def fingerprint(files: list[Path], root: Path) -> str:
    """A digest of each file's relative path, size and modification time: changes when the source does."""
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def save_arrays(path: Path, private: bool = False, **arrays: np.ndarray) -> None:
    """Write arrays to an .npz file atomically: a crash leaves the old file or none, never half a file.
    Readable by everyone (a shared cache), or by the owner alone when private (private source data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        os.chmod(tmp, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy's stub misreads **kwargs
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def hidden_from_others(path: Path) -> bool:
    """Whether other users cannot read path: it, or a folder above it, shuts them out, or this
    process's umask (a grader's 077) would."""
    try:
        return (
            not path.stat().st_mode & 0o004
            or any(not p.stat().st_mode & 0o001 for p in path.resolve().parents)
            or bool(_umask() & 0o004)
        )
    except OSError:
        return True


def _umask() -> int:
    """This process's umask, read without changing it (Linux); 022 where it cannot be read."""
    try:
        line = next(
            ln for ln in Path("/proc/self/status").read_text().splitlines() if ln.startswith("Umask:")
        )
        return int(line.split()[1], 8)
    except (OSError, StopIteration, ValueError):
        return 0o022


def write_text_atomic(path: Path, text: str) -> None:
    """Replace path with text in one step: readers see the old file or the new one, never half."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_arrays(path: Path, fingerprint: str) -> dict[str, np.ndarray] | None:
    """The cached arrays if the file is whole and matches fingerprint, else None (rebuild)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        if str(arrays.pop("fingerprint")) != fingerprint:
            return None
        data, targets = arrays["data"], arrays["targets"]
        if data.dtype != np.uint8 or data.ndim != 4 or len(data) != len(targets):
            raise ValueError("unexpected array shapes")
        return arrays
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        warnings.warn(f"cache {path} is damaged ({e}); rebuilding it from the images", stacklevel=3)
        return None
