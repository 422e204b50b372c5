"""The student release: notebooks 01-08 with every solution replaced by a gap and no outputs, and a
README for students. `ffnn-lab release OUT` and `tools/notebooks.py --student OUT` both write it here.

The notebooks are not part of the installed package: the release is made from a checkout of the
repository (the one ffnn_lab runs from, or another given as checkout)."""

from __future__ import annotations

import re
import shutil
import string
from pathlib import Path

import nbformat

from . import __version__, config
from .errors import InvalidInput
from .grading import policy

NOTEBOOKS = config.REPO_ROOT / "notebooks"
AFTER_GRADING = "after-grading"  # notebook 09: a full solution of 08, for after the deadline
README = "README.md"
TEMPLATE = Path("templates") / "student-README.md"  # in the checkout: instructors may adapt it
PACKAGE_URL = "git+https://github.com/YOUR-ORG/ffnn-lab"  # the repository README's placeholder too

MARK = "# NBVAL_CHECK_OUTPUT"
KEEP_METADATA = {"kernelspec", "language_info"}
# solution markers (see the exercise convention): code blocks and written answers
BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?::[ \t]*(?P<stub>.*?))?[ \t]*$")
END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
MD_BEGIN = re.compile(r"^[ \t]*<!-- BEGIN SOLUTION -->[ \t]*$")
MD_END = re.compile(r"^[ \t]*<!-- END SOLUTION -->[ \t]*$")
ANY_MARKER = re.compile(r"(# |<!-- )(BEGIN|END) SOLUTION")
GAP = "# ✏️ your code here"
ANSWER_GAP = "*✏️ Your answer here.*"


class ReleaseError(InvalidInput):
    """The release cannot be made: a notebook's solution markers are missing or unbalanced, the
    notebooks cannot be found, or the output folder is not a safe place; the message says what to do."""


def tags(cell) -> list[str]:
    """The cell's tags (solution, check, ...)."""
    return list(cell.get("metadata", {}).get("tags", []))


def is_checked(cell) -> bool:
    """Whether nbval compares the cell's stored output (its first line is the marker)."""
    return cell.cell_type == "code" and cell.source.lstrip().startswith(MARK)


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


def _code_gap(match: re.Match) -> str:
    return f"{match['indent']}{match['stub'] or '...'}  {GAP}"


def released_source(cell, where: str) -> str:
    """A cell's source as students get it: solution blocks become gaps, CI markers go."""
    if "solution" in tags(cell):
        if cell.cell_type == "code":
            return replace_blocks(cell.source, where, BEGIN, END, _code_gap)
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


def write_release(out: Path, paths: list[Path], root: Path | None = None) -> list[Path]:
    """Write the student release of each notebook under out, at its path relative to root (the
    notebooks folder). Every notebook is checked before anything is written, so a bad marker leaves
    out untouched."""
    root = (root or NOTEBOOKS).resolve()
    out = Path(out).resolve()
    if out == root or root in out.parents:
        raise ReleaseError(
            f"{out} is inside {root}: the release would overwrite or mix with "
            "the solution notebooks; choose a folder outside it"
        )
    released = {}
    for path in paths:
        path = Path(path).resolve()
        relative = path.relative_to(root) if root in path.parents else Path(path.name)
        released[relative] = student_release(nbformat.read(path, as_version=4), str(relative))
    for relative, nb in released.items():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out / relative)
    return [out / relative for relative in released]


def find_checkout(checkout: Path | None = None) -> Path:
    """The checkout the release is made from: checkout, else the one ffnn_lab runs from; a clear
    ReleaseError when it holds no notebooks (ffnn_lab installed as a plain package holds none)."""
    root = Path(checkout).expanduser().resolve() if checkout else config.REPO_ROOT
    if not (root / "notebooks").is_dir() or not (root / TEMPLATE).is_file():
        where = f"{root} is not" if checkout else f"ffnn_lab runs from {root}, which is not"
        raise ReleaseError(
            f"{where} a checkout of the ffnn-lab repository (no notebooks/ and {TEMPLATE} there): the "
            "notebooks are not part of the installed package. Run `ffnn-lab release` from a clone of "
            "the repository installed with `pip install -e .`, or pass --checkout DIR with a clone's path"
        )
    return root


def notebooks_to_release(notebooks: Path, after_grading: bool = False) -> list[Path]:
    """Notebooks 01-08 (every notebook at the folder's top level), and after-grading/ if asked for."""
    paths = sorted(notebooks.glob("*.ipynb"))
    if after_grading:
        later = sorted((notebooks / AFTER_GRADING).glob("*.ipynb"))
        if not later:
            raise ReleaseError(f"--after-grading: {notebooks / AFTER_GRADING} holds no notebook")
        paths += later
    if not paths:
        raise ReleaseError(f"{notebooks} holds no notebook to release")
    return paths


def _title(path: Path) -> str:
    """A notebook's first heading, without the '#': its title as the README lists it."""
    nb = nbformat.read(path, as_version=4)
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    return first.splitlines()[0].lstrip("# ").strip() if first else path.stem


def _percent(share: float) -> str:
    return f"{share * 100:g}%"


def student_readme(checkout: Path, paths: list[Path], package_url: str = PACKAGE_URL) -> str:
    """The README for students, from the checkout's template, with the grading policy's numbers
    (read when called, from ffnn_lab.grading.policy) and the notebooks released."""
    notebooks = checkout / "notebooks"
    where = {
        path: path.relative_to(notebooks) if notebooks in path.parents else Path(path.name) for path in paths
    }
    listed = "\n".join(f"- `{where[path].as_posix()}`: {_title(path)}" for path in sorted(paths))
    later = any(AFTER_GRADING in relative.parts for relative in where.values())
    timeout = policy.Budget().timeout
    values = {
        "version": __version__,
        "package_url": package_url,
        "notebooks": listed,
        "threshold": _percent(policy.THRESHOLD),
        "margin": f"{policy.MARGIN * 100:g}",
        "ceiling": _percent(policy.CEILING),
        "timeout": f"{timeout:g}",
        "timeout_minutes": f"{timeout / 60:g}",
        "after_grading": (
            f"`{AFTER_GRADING}/` holds notebook 09, the walk-through from 79% to 90%. It is a full "
            "solution of notebook 08: open it only once your notebook 08 has been handed in and graded."
            if later
            else "Notebook 09, the walk-through from 79% to 90%, is a full solution of notebook 08: your "
            "instructor hands it out after the deadline."
        ),
    }
    try:
        return string.Template((checkout / TEMPLATE).read_text()).substitute(values)
    except (KeyError, ValueError) as e:
        raise ReleaseError(
            f"{checkout / TEMPLATE}: {e} is not a placeholder the release fills in "
            f"({', '.join(sorted(values))}); write a literal $ as $$"
        ) from None


def release(
    out: Path,
    *,
    after_grading: bool = False,
    force: bool = False,
    checkout: Path | None = None,
    package_url: str = PACKAGE_URL,
    paths: list[Path] | None = None,
) -> list[Path]:
    """Write the student release to out: the notebooks (01-08, after-grading/ only if asked for, or
    the given paths) and README.md. Refuses a folder that is not empty unless force (which replaces
    the release's files and removes an after-grading/ left there by an earlier release). Returns
    the files written."""
    root = find_checkout(checkout)
    notebooks = root / "notebooks"
    out = Path(out).expanduser().resolve()
    if out == root or out in root.parents:
        raise ReleaseError(f"{out} holds this checkout: choose a folder outside it, e.g. ../student-release")
    if out.exists() and not out.is_dir():
        raise ReleaseError(f"{out} is a file: give a folder for the release")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ReleaseError(
            f"{out} is not empty: the release would mix with what is there (an older release's "
            "after-grading/, say). Choose a new or empty folder, or pass --force to write over it"
        )
    chosen = paths or notebooks_to_release(notebooks, after_grading)
    readme = student_readme(root, [Path(p).resolve() for p in chosen], package_url)
    written = write_release(out, chosen, notebooks)  # checks every notebook before writing any
    stale = out / AFTER_GRADING
    if force and not after_grading and stale.is_dir():
        shutil.rmtree(stale)  # a solution left by an earlier release must not reach students
    (out / README).write_text(readme)
    return [*written, out / README]
