"""Keep committed notebooks in the lab's form: outputs stored only where nbval compares them.

python tools/notebooks.py --check     fail if any notebook is committed otherwise
python tools/notebooks.py --refresh   run each notebook in quick mode (FFNN_LAB_QUICK=1),
                                      store the outputs of its NBVAL_CHECK_OUTPUT cells and
                                      strip every other output, count and volatile metadata
python tools/notebooks.py --student OUT
                                      write the student release to OUT (same relative paths):
                                      every solution block replaced by its gap, no outputs,
                                      counts or cell metadata
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
MARK = "# NBVAL_CHECK_OUTPUT"
KEEP_METADATA = {"kernelspec", "language_info"}

# solution markers (see the exercise convention): code blocks and written answers
BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?::[ \t]*(?P<stub>.*?))?[ \t]*$")
END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
MD_BEGIN = re.compile(r"^[ \t]*<!-- BEGIN SOLUTION -->[ \t]*$")
MD_END = re.compile(r"^[ \t]*<!-- END SOLUTION -->[ \t]*$")
ANY_MARKER = re.compile(r"(# |<!-- )(BEGIN|END) SOLUTION")
GAP = "# ✏️ your code here"
RIGHT = "✅ Right"
EXERCISE_NOTEBOOKS = ("01", "02", "03", "04", "05", "06", "07", "09")  # 08 is the graded one
MIN_EXERCISES = 3
ANSWER_GAP = "*✏️ Your answer here.*"


class ReleaseError(ValueError):
    """A notebook cannot be released: its solution markers are missing or unbalanced."""


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def replace_blocks(source: str, where: str, begin: re.Pattern, end: re.Pattern, gap) -> str:
    """source with every begin..end block (markers included) replaced by gap(begin_match);
    ReleaseError naming `where` when there is none, or when they do not pair up."""
    out, opened, blocks = [], None, 0
    for number, line in enumerate(source.split("\n"), 1):
        if begin.match(line):
            if opened:
                raise ReleaseError(
                    f"{where}: BEGIN SOLUTION on line {number} inside the block "
                    f"opened on line {opened}; close it with END SOLUTION first"
                )
            opened, blocks = number, blocks + 1
            out.append(gap(begin.match(line)))
        elif end.match(line):
            if not opened:
                raise ReleaseError(f"{where}: END SOLUTION on line {number} without a BEGIN SOLUTION")
            opened = None
        elif ANY_MARKER.search(line):
            raise ReleaseError(
                f"{where}: line {number} looks like a solution marker but is not "
                f"one on a line of its own: {line.strip()!r}"
            )
        elif not opened:
            out.append(line)
    if opened:
        raise ReleaseError(f"{where}: BEGIN SOLUTION on line {opened} is never closed with END SOLUTION")
    if not blocks:
        raise ReleaseError(f"{where}: tagged 'solution' but has no BEGIN SOLUTION / END SOLUTION block")
    return "\n".join(out)


def code_gap(match: re.Match) -> str:
    return f"{match['indent']}{match['stub'] or '...'}  {GAP}"


def released_source(cell, where: str) -> str:
    """A cell's source as students get it: solution blocks become gaps, CI markers go."""
    if "solution" in tags(cell):
        if cell.cell_type == "code":
            return replace_blocks(cell.source, where, BEGIN, END, code_gap)
        return replace_blocks(cell.source, where, MD_BEGIN, MD_END, lambda m: ANSWER_GAP)
    if ANY_MARKER.search(cell.source):
        raise ReleaseError(
            f"{where}: has solution markers but no 'solution' tag, "
            "so its solution would reach students; tag the cell 'solution'"
        )
    if is_checked(cell):  # nbval's marker is CI plumbing, not for students
        return cell.source.split("\n", 1)[1] if "\n" in cell.source else ""
    return cell.source


def student_release(nb, name: str):
    """A copy of nb for students: gaps instead of solutions, no outputs, counts or metadata."""
    cells = []
    for i, cell in enumerate(nb.cells):
        source = released_source(cell, f"{name} cell {i}")
        make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell}
        fresh = make.get(cell.cell_type, nbformat.v4.new_raw_cell)(source)
        if "id" in cell:  # the same ids on every release, so two releases diff cleanly
            fresh.id = cell.id
        cells.append(fresh)
    metadata = {k: v for k, v in nb.metadata.items() if k in KEEP_METADATA}
    return nbformat.v4.new_notebook(cells=cells, metadata=metadata)


def write_release(out: Path, paths: list[Path]) -> list[Path]:
    """Write the student release of each notebook under out, at its path relative to notebooks/.
    Every notebook is checked before anything is written, so a bad marker leaves out untouched."""
    out = out.resolve()
    if out == NOTEBOOKS or NOTEBOOKS in out.parents:
        raise ReleaseError(
            f"{out} is inside {NOTEBOOKS}: the release would overwrite or mix with "
            "the solution notebooks; choose a folder outside it"
        )
    released = {}
    for path in paths:
        path = path.resolve()
        relative = path.relative_to(NOTEBOOKS) if NOTEBOOKS in path.parents else Path(path.name)
        released[relative] = student_release(nbformat.read(path, as_version=4), str(relative))
    for relative, nb in released.items():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out / relative)
    return [out / relative for relative in released]


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
        help="write the student release (solutions replaced by gaps) to OUT",
    )
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args()
    paths = args.paths or sorted(NOTEBOOKS.rglob("*.ipynb"))
    if args.refresh:
        for p in paths:
            print("refreshing", p.name, flush=True)
            refresh(p)
    if args.student:
        try:
            written = write_release(args.student, paths)
        except ReleaseError as error:
            print(f"student release refused: {error}", file=sys.stderr)
            return 1
        print(f"student release: {len(written)} notebooks written to {args.student}")
        return 0
    found = [msg for p in paths for msg in problems(nbformat.read(p, as_version=4), p.name)]
    print("\n".join(found) or f"{len(paths)} notebooks in committed form")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
