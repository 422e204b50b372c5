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
    assert "ffnn_lab.pick(" not in "".join(c.source for c in nb.cells)


def test_policy_catches_stray_outputs_and_missing_checks():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)"),
        nbformat.v4.new_code_cell("print(2)", outputs=[nbformat.v4.new_output("stream", text="2\n")]),
    ])
    found = tool.problems(nb, "x")
    assert any("no stored output" in f for f in found)
    assert any("does not check" in f for f in found)
    assert any("fewer than two" in f for f in found)
    tool.clean(nb)
    assert not nb.cells[1].outputs
