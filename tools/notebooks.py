"""Keep committed notebooks in the lab's form: outputs stored only where nbval compares them.

python tools/notebooks.py --check     fail if any notebook is committed otherwise
python tools/notebooks.py --refresh   run each notebook in quick mode (FFNN_LAB_QUICK=1),
                                      store the outputs of its NBVAL_CHECK_OUTPUT cells and
                                      strip every other output, count and volatile metadata
python tools/notebooks.py --student OUT [--after-grading] [--force] [NOTEBOOK ...]
                                      write the student release to OUT, as `ffnn-lab release OUT`
                                      does (ffnn_lab/release.py: every solution block replaced by
                                      its gap, no outputs, counts or cell metadata, a README for
                                      students); given notebooks, only those
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's ffnn_lab, installed or not

from ffnn_lab.release import (  # noqa: E402  (the release's one implementation; re-exported for tests)
    BEGIN,
    END,
    KEEP_METADATA,
    MARK,
    MD_BEGIN,
    MD_END,
    ReleaseError,
    is_checked,
    release,
    released_source,
    student_release,
    tags,
    write_release,
)

NOTEBOOKS = ROOT / "notebooks"
RIGHT = "✅ Right"
EXERCISE_NOTEBOOKS = ("01", "02", "03", "04", "05", "06", "07", "09")  # 08 is the graded one
MIN_EXERCISES = 3

__all__ = [
    "BEGIN",
    "END",
    "KEEP_METADATA",
    "MD_BEGIN",
    "MD_END",
    "ReleaseError",
    "student_release",
    "write_release",
]


def problems(nb, name: str) -> list[str]:
    """What in nb breaks the policy: outputs only in checked cells, and those must have some."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if is_checked(cell):
            if not cell.outputs:
                found.append(f"{name} cell {i}: marked {MARK} but has no stored output")
            for out in cell.outputs:
                if "image/png" in out.get("data", {}) or out.output_type == "error":
                    found.append(f"{name} cell {i}: a checked cell stores an image or error")
        elif cell.outputs:
            found.append(f"{name} cell {i}: output stored in a cell nbval does not check")
        if cell.execution_count is not None and not is_checked(cell):
            found.append(f"{name} cell {i}: has an execution count")
        if is_checked(cell) and cell.execution_count is None:
            found.append(f"{name} cell {i}: a checked cell needs an execution count, or nbval skips it")
    if sum(map(is_checked, nb.cells)) < 2:
        found.append(f"{name}: fewer than two {MARK} cells")
    return found + exercise_problems(nb, name)


def exercise_problems(nb, name: str) -> list[str]:
    """What in nb breaks the exercise form: solution markers that would not release, check cells
    that nbval does not compare or that do not say Right, too few exercises."""
    found = []
    for i, cell in enumerate(nb.cells):
        try:
            released_source(cell, f"{name} cell {i}")
        except ReleaseError as error:
            found.append(str(error))
        if "check" not in tags(cell):
            continue
        if not is_checked(cell):
            found.append(f"{name} cell {i}: a check cell must start with {MARK}, or nbval ignores it")
        elif not any(RIGHT in out.get("text", "") for out in cell.outputs):
            found.append(f"{name} cell {i}: the check does not say {RIGHT!r} with the solution in place")
    checks = sum("check" in tags(cell) for cell in nb.cells)
    if name[:2] in EXERCISE_NOTEBOOKS and checks < MIN_EXERCISES:
        found.append(
            f"{name}: {checks} check cells; notebooks {', '.join(EXERCISE_NOTEBOOKS)} "
            f"need at least {MIN_EXERCISES} exercises, each with a cell tagged 'check'"
        )
    return found


def clean(nb) -> None:
    """Strip what nbval does not compare; number the checked cells (nbval skips unnumbered ones)."""
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
        if not is_checked(cell):
            cell.outputs, cell.execution_count = [], None
            continue
        count += 1
        cell.execution_count = count
        for out in cell.outputs:
            if "execution_count" in out:
                out["execution_count"] = count
            if "metadata" in out:
                out["metadata"] = {}
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in KEEP_METADATA}


def refresh(path: Path) -> None:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    os.environ["FFNN_LAB_QUICK"] = "1"
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    clean(nb)
    nbformat.write(nb, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--refresh", action="store_true")
    parser.add_argument(
        "--student",
        type=Path,
        metavar="OUT",
        help="write the student release (solutions replaced by gaps, a README for students) to OUT",
    )
    parser.add_argument("--after-grading", action="store_true", help="with --student: add after-grading/")
    parser.add_argument("--force", action="store_true", help="with --student: write into a non-empty OUT")
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args()
    if args.student:
        try:
            written = release(
                args.student, after_grading=args.after_grading, force=args.force, paths=args.paths or None
            )
        except ReleaseError as error:
            print(f"student release refused: {error}", file=sys.stderr)
            return 1
        print(f"student release: {len(written) - 1} notebooks and a README written to {args.student}")
        return 0
    paths = args.paths or sorted(NOTEBOOKS.rglob("*.ipynb"))
    if args.refresh:
        for p in paths:
            print("refreshing", p.name, flush=True)
            refresh(p)
    found = [msg for p in paths for msg in problems(nbformat.read(p, as_version=4), p.name)]
    print("\n".join(found) or f"{len(paths)} notebooks in committed form")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
