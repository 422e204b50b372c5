"""The lab's settings in one place, read when called so tests and notebooks can change them."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "FFNN_LAB_DATA"  # unset | a directory | "synthetic"
ROOT_ENV = "FFNN_LAB_ROOT"  # where datasets and caches live
QUICK_ENV = "FFNN_LAB_QUICK"  # "1": short runs for CI
QUICK_EPOCHS = 3  # the most epochs any run trains in quick mode

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_root() -> Path:
    """The dataset and cache root: $FFNN_LAB_ROOT, else data-unversioned/ in this checkout
    (or, when ffnn_lab is installed as a plain package, in the current directory)."""
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV])
    base = REPO_ROOT if (REPO_ROOT / "pyproject.toml").is_file() else Path.cwd()
    return base / "data-unversioned"


def data_source(source: str | os.PathLike | None = None) -> str | None:
    """The chosen data source: the argument, else $FFNN_LAB_DATA, else "synthetic" in quick mode,
    else None (official CIFAR-10)."""
    value = os.fspath(source) if source is not None else os.environ.get(DATA_ENV)
    if not value:
        return "synthetic" if quick_mode() else None
    if value.strip().lower() == "synthetic":
        return "synthetic"
    path = Path(value).expanduser()
    # a relative path is taken from here, or else from the repository root: notebooks run in
    # notebooks/, so FFNN_LAB_DATA=../shared/... set at the repository root still works there
    if not path.is_absolute() and not path.exists() and (REPO_ROOT / path).exists():
        path = REPO_ROOT / path
    return str(path.absolute())


def quick_mode() -> bool:
    """True when $FFNN_LAB_QUICK asks for short runs (CI); students get full length by default."""
    return os.environ.get(QUICK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def banner() -> str:
    """Which mode and which data source are active, for the first cell of every notebook."""
    source = data_source()
    where = {
        None: f"official CIFAR-10 under {data_root()} (downloaded on first use)",
        "synthetic": "SYNTHETIC stand-in (made-up images: numbers will not match the lecture)",
    }
    mode = (
        "QUICK (short runs for CI; unset FFNN_LAB_QUICK for the full lecture)"
        if quick_mode()
        else "full length"
    )
    return f"Mode: {mode}\nData: {where.get(source, source)}"
