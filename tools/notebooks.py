"""Keep committed notebooks in the lab's form: outputs stored only where nbval compares them.

  python tools/notebooks.py --check     fail if any notebook is committed otherwise
  python tools/notebooks.py --refresh   run each notebook in quick mode (FFNN_LAB_QUICK=1),
                                        store the outputs of its NBVAL_CHECK_OUTPUT cells and
                                        strip every other output, count and volatile metadata
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
MARK = "# NBVAL_CHECK_OUTPUT"
KEEP_METADATA = {"kernelspec", "language_info"}


def is_checked(cell) -> bool:
    return cell.cell_type == "code" and cell.source.lstrip().startswith(MARK)


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
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    clean(nb)
    nbformat.write(nb, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--refresh", action="store_true")
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args()
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
