"""The student release (tools/notebooks.py --student): gaps instead of solutions, and it runs."""

import asyncio
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "notebooks.py"
spec = importlib.util.spec_from_file_location("notebooks_tool", TOOL)
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}
FEEDBACK = re.compile(r"^(✏️ Not answered yet|❌ Not yet)", re.M)


def solution_cell(source, markdown=False):
    make = new_markdown_cell if markdown else new_code_cell
    return make(source, metadata={"tags": ["solution"]})


def released(*cells):
    return tool.student_release(new_notebook(cells=list(cells)), "nb").cells


def split_lines(cell) -> tuple[set[str], set[str]]:
    """The stripped, non-empty lines of a cell inside its solution blocks, and outside them."""
    inside, outside, in_block = set(), set(), False
    for line in cell.source.splitlines():
        if tool.BEGIN.match(line) or tool.MD_BEGIN.match(line):
            in_block = True
        elif tool.END.match(line) or tool.MD_END.match(line):
            in_block = False
        elif line.strip():
            (inside if in_block else outside).add(line.strip())
    return inside, outside


def has_solutions(nb) -> bool:
    return any("solution" in tool.tags(c) for c in nb.cells)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("student")
    tool.write_release(out, NOTEBOOKS)
    return out


def released_path(release: Path, path: Path) -> Path:
    return release / path.relative_to(ROOT / "notebooks")


# --- the transformation on small made-up notebooks -------------------------------------


def test_code_blocks_become_gaps_at_their_indentation():
    cell = solution_cell(
        'def f(x):\n    """Doc."""\n    # BEGIN SOLUTION\n    y = x * 2\n'
        "    return y\n    # END SOLUTION\n\n# BEGIN SOLUTION: answer = ...\n"
        "answer = f(3)\n# END SOLUTION\nprint(answer)"
    )
    (out,) = released(cell)
    assert out.source == (
        'def f(x):\n    """Doc."""\n    ...  # ✏️ your code here\n\n'
        "answer = ...  # ✏️ your code here\nprint(answer)"
    )
    assert out.metadata == {} and out.outputs == [] and out.execution_count is None


def test_written_answers_become_an_answer_gap():
    cell = solution_cell(
        "**Your answer:**\n<!-- BEGIN SOLUTION -->\nNo: costs differ.\n<!-- END SOLUTION -->", markdown=True
    )
    (out,) = released(cell)
    assert out.source == "**Your answer:**\n*✏️ Your answer here.*"


def test_outputs_counts_metadata_and_ci_markers_are_stripped():
    nb = new_notebook(
        cells=[
            new_code_cell(
                "# NBVAL_CHECK_OUTPUT\nprint(1)",
                execution_count=3,
                metadata={"tags": ["check"], "secret": 1},
                outputs=[nbformat.v4.new_output("stream", text="1\n")],
            )
        ],
        metadata={"kernelspec": KERNEL, "widgets": {"x": 1}},
    )
    out = tool.student_release(nb, "nb")
    assert out.metadata == {"kernelspec": KERNEL}
    (cell,) = out.cells
    assert cell.source == "print(1)" and cell.outputs == [] and cell.metadata == {}
    assert cell.execution_count is None


@pytest.mark.parametrize(
    "cell, message",
    [
        (solution_cell("x = 1"), "has no BEGIN SOLUTION"),
        (solution_cell("# BEGIN SOLUTION\nx = 1"), "line 1 is never closed"),
        (solution_cell("x = 1\n# END SOLUTION"), "END SOLUTION on line 2 without a BEGIN"),
        (solution_cell("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION"), "inside the block opened"),
        (solution_cell("x = 1  # BEGIN SOLUTION\n# END SOLUTION"), "not one on a line of its own"),
        (solution_cell("<!-- BEGIN SOLUTION -->\nYes.", markdown=True), "never closed"),
        (new_code_cell("# BEGIN SOLUTION\nx = 1\n# END SOLUTION"), "no 'solution' tag"),
    ],
)
def test_bad_markers_are_refused_with_the_place_and_the_fix(cell, message):
    with pytest.raises(tool.ReleaseError, match=re.escape(message)) as caught:
        released(new_code_cell("pass"), cell)
    assert str(caught.value).startswith("nb cell 1:")


def test_the_command_refuses_a_bad_notebook_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.ipynb"
    nbformat.write(new_notebook(cells=[solution_cell("# BEGIN SOLUTION\nx = 1")]), bad)
    run = subprocess.run(
        [sys.executable, str(TOOL), "--student", str(tmp_path / "out"), str(bad)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    assert "student release refused: bad.ipynb cell 0: BEGIN SOLUTION on line 1" in run.stderr
    assert not (tmp_path / "out").exists()


def test_the_release_is_the_same_every_time(release, tmp_path):
    again = tool.write_release(tmp_path, NOTEBOOKS)
    assert [p.read_bytes() for p in again] == [released_path(release, p).read_bytes() for p in NOTEBOOKS]


def test_the_release_never_goes_into_the_solution_folder():
    with pytest.raises(tool.ReleaseError, match="inside"):
        tool.write_release(ROOT / "notebooks" / "student", NOTEBOOKS[:1])


# --- the real release ---------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_release_holds_no_solution_text(release, path):
    solution = nbformat.read(path, as_version=4)
    student = nbformat.read(released_path(release, path), as_version=4)
    assert len(student.cells) == len(solution.cells)
    assert set(student.metadata) <= tool.KEEP_METADATA
    inside = [split_lines(c)[0] if "solution" in tool.tags(c) else set() for c in solution.cells]
    outside = set().union(*(split_lines(c)[1] for c in solution.cells))
    release_lines = {line.strip() for c in student.cells for line in c.source.splitlines()}
    for i, (sol, stu) in enumerate(zip(solution.cells, student.cells)):
        assert stu.metadata == {} and not stu.get("outputs") and stu.get("execution_count") is None
        cell_lines = {line.strip() for line in stu.source.splitlines()}
        leaked = inside[i] - split_lines(sol)[1]
        assert not leaked & cell_lines, f"cell {i}: solution lines left in it: {leaked & cell_lines}"
        assert not (inside[i] - outside) & release_lines, f"cell {i}'s solution lines in the release"


# --- the released notebooks run top to bottom, unsolved ----------------------------------

WITH_EXERCISES = [p for p in NOTEBOOKS if has_solutions(nbformat.read(p, as_version=4))]


@pytest.fixture(scope="module")
def executed(release, tmp_path_factory) -> dict:
    """Each released notebook with exercises, run once in quick mode on synthetic data, two at a
    time (kernel start-up and imports overlap): {path: (executed notebook, error or None)}."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    results = {}

    async def run(path, slots):
        student = released_path(release, path)
        nb = nbformat.read(student, as_version=4)
        client = NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(student.parent)}}
        )
        async with slots:
            try:
                await client.async_execute()
                results[path] = (nb, None)
            except CellExecutionError as error:
                results[path] = (nb, error)

    async def run_all():
        slots = asyncio.Semaphore(2)
        await asyncio.gather(*(run(path, slots) for path in WITH_EXERCISES))

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FFNN_LAB_QUICK", "1")
        mp.setenv("FFNN_LAB_DATA", "synthetic")
        mp.setenv("FFNN_LAB_ROOT", str(tmp_path_factory.mktemp("root")))
        asyncio.run(run_all())
    return results


def text_of(cell) -> str:
    return "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.name)
def test_unsolved_release_runs_and_every_check_says_not_yet(executed, path):
    nb, error = executed[path]
    assert error is None, f"the unsolved release raised:\n{str(error)[-2000:]}"
    checks = [i for i, c in enumerate(nbformat.read(path, as_version=4).cells) if "check" in tool.tags(c)]
    assert checks, "a notebook with solutions needs check cells"
    for i in checks:
        cell = nb.cells[i]
        assert not any(out.output_type == "error" for out in cell.outputs), f"cell {i} raised"
        assert "Traceback" not in text_of(cell), f"cell {i} printed a traceback"
        assert FEEDBACK.search(text_of(cell)), (
            f"cell {i} said neither 'Not answered yet' nor 'Not yet': {text_of(cell)!r}"
        )
        assert "✅" not in text_of(cell), f"cell {i} calls an unanswered gap right"
