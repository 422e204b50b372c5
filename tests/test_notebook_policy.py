"""Committed notebooks keep outputs only where nbval compares them (see tools/notebooks.py)."""

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("notebooks_tool", ROOT / "tools" / "notebooks.py")
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))


def test_there_are_numbered_notebooks():
    names = [p.name for p in NOTEBOOKS]
    assert len(names) >= 8 and all(n[:2].isdigit() for n in names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_form(path):
    nb = nbformat.read(path, as_version=4)
    assert tool.problems(nb, path.name) == []
    assert "ffnn_lab.setup(seed=" in "".join(c.source for c in nb.cells[:3])


def test_the_public_names_are_the_ones_notebooks_use():
    import re

    import ffnn_lab

    used = set()
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                used |= set(re.findall(r"\bffnn_lab\.(\w+)", cell.source))
                for names in re.findall(r"from ffnn_lab import ([\w, ]+)", cell.source):
                    used |= {n.strip() for n in names.split(",")}
    package = ROOT / "ffnn_lab"
    modules = {n for n in used if (package / f"{n}.py").is_file() or (package / n).is_dir()}
    # a notebook reaching past __all__ for a function means the function belongs in it (or the
    # notebook should not need it); a name in __all__ no notebook uses is plumbing on show
    assert used - modules <= set(ffnn_lab.__all__)
    errors = {n for n in ffnn_lab.__all__ if n.endswith(("Error", "Diverged", "Unstable", "Input"))}
    assert set(ffnn_lab.__all__) - used - errors <= {"__version__", "Recipe"}


def test_policy_catches_stray_outputs_and_missing_checks():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)"),
            nbformat.v4.new_code_cell("print(2)", outputs=[nbformat.v4.new_output("stream", text="2\n")]),
        ]
    )
    found = tool.problems(nb, "x")
    assert any("no stored output" in f for f in found)
    assert any("does not check" in f for f in found)
    assert any("fewer than two" in f for f in found)
    tool.clean(nb)
    assert not nb.cells[1].outputs


def exercise_notebook(n_checks, check_output="✅ Right: yes\n", marker="# NBVAL_CHECK_OUTPUT\n"):
    cells = [
        nbformat.v4.new_code_cell(
            "# BEGIN SOLUTION: x = ...\nx = 1\n# END SOLUTION", metadata={"tags": ["solution"]}
        )
    ]
    for _ in range(n_checks):
        cells.append(
            nbformat.v4.new_code_cell(
                marker + "check(x);",
                metadata={"tags": ["check"]},
                execution_count=1,
                outputs=[nbformat.v4.new_output("stream", text=check_output)],
            )
        )
    return nbformat.v4.new_notebook(cells=cells)


def test_exercise_form_is_checked():
    assert tool.exercise_problems(exercise_notebook(3), "01-x.ipynb") == []
    assert tool.exercise_problems(exercise_notebook(0), "08-graded.ipynb") == []
    (few,) = tool.exercise_problems(exercise_notebook(2), "09-x.ipynb")
    assert "2 check cells" in few and "at least 3" in few
    failing = tool.exercise_problems(exercise_notebook(3, "❌ Not yet: no\n"), "01-x.ipynb")
    assert len(failing) == 3 and all("does not say '✅ Right'" in f for f in failing)
    unmarked = tool.exercise_problems(exercise_notebook(3, marker=""), "01-x.ipynb")
    assert len(unmarked) == 3 and all("must start with # NBVAL_CHECK_OUTPUT" in f for f in unmarked)
    nb = exercise_notebook(3)
    nb.cells[0].source = "# BEGIN SOLUTION\nx = 1"
    (unbalanced,) = tool.exercise_problems(nb, "01-x.ipynb")
    assert "never closed" in unbalanced


def data_calls(path):
    """(cell index, call text, download= as written) for each of the lab's loaders a notebook calls."""
    import ast

    for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type != "code":
            continue
        lines = cell.source.splitlines()
        code = "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in {"load_cifar10", "load_cifar2", "prepare_cifar2"}:
                    given = {k.arg: ast.unparse(k.value) for k in node.keywords}
                    yield i, ast.unparse(node), given.get("download")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_fetches_its_own_data(path):
    # a student may open any notebook first, on a fresh checkout with nothing downloaded yet
    missing = [f"cell {i}: {call}" for i, call, download in data_calls(path) if download != "True"]
    assert missing == [], "pass download=True (a no-op where the data is present)"
