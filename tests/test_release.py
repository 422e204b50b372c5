"""The student release (ffnn-lab release, tools/notebooks.py --student): gaps instead of solutions,
nothing of notebook 09 unless asked for, a README for students, and it runs."""

import asyncio
import importlib.util
import re
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ffnn_lab import cli, config, wide_mlp
from ffnn_lab import release as rel
from ffnn_lab.grading import policy
from ffnn_lab.recipes import RECIPES

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
GRADED = ROOT / "notebooks" / "08-exercise-beat-80-percent.ipynb"


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
        await asyncio.gather(*(run(path, slots) for path in [*WITH_EXERCISES, GRADED]))

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


def test_the_released_graded_notebook_runs_and_its_quick_check_never_passes(executed):
    nb, error = executed[GRADED]
    assert error is None, f"the released notebook 08 raised:\n{str(error)[-2000:]}"
    for call in ("grading.check(", "grading.time_check("):
        (cell,) = [c for c in nb.cells if call in c.source]
        lines = text_of(cell).splitlines()
        assert lines and all(line.startswith("[quick mode] ") for line in lines), lines
        assert not any("PASS" in line for line in lines)


# --- ffnn-lab release: the folder a student starts from ----------------------------------------

TOP_LEVEL = sorted((ROOT / "notebooks").glob("*.ipynb"))  # 01-08
LATER = sorted((ROOT / "notebooks" / rel.AFTER_GRADING).glob("*.ipynb"))  # 09


@pytest.fixture(scope="module")
def student_folder(tmp_path_factory) -> Path:
    """The default release, as an instructor makes it: `ffnn-lab release OUT`."""
    out = tmp_path_factory.mktemp("cli") / "release"
    assert cli.main(["release", str(out)]) == 0
    return out


def files_in(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_default_release_is_notebooks_01_to_08_and_a_readme(student_folder):
    assert sorted(files_in(student_folder)) == sorted([p.name for p in TOP_LEVEL] + ["README.md"])
    assert [p.name[:2] for p in TOP_LEVEL] == ["01", "02", "03", "04", "05", "06", "07", "08"]


def lines_of(nb, kinds=("code", "markdown")) -> set[str]:
    return {line.strip() for c in nb.cells if c.cell_type in kinds for line in c.source.splitlines()}


def test_the_default_release_holds_nothing_of_a_solution_or_of_notebook_09(student_folder):
    texts = files_in(student_folder)
    released = "\n".join(texts.values())
    assert not re.search(r"(BEGIN|END) SOLUTION", released)
    # every line inside a solution block, anywhere (09 included), that is not also outside one
    inside, outside = set(), set()
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            ins, outs = split_lines(cell)
            (inside if "solution" in tool.tags(cell) else outside).update(ins)
            outside.update(outs)
    solution = {line for line in inside - outside if len(line) > 3}
    assert solution, "the instructor's notebooks hold solutions to test against"
    released_lines = {line.strip() for line in texts["README.md"].splitlines()}
    for name, text in texts.items():
        if name.endswith(".ipynb"):
            student = nbformat.reads(text, as_version=4)
            assert not lines_of(student) & solution, f"{name}: solution lines in the release"
            assert all("solution" not in tool.tags(c) and not c.get("outputs") for c in student.cells)
            released_lines |= lines_of(student)
    # nothing of 09: its own lines (those no notebook 01-08 shares), its recipe, its network
    earlier = set().union(*(lines_of(nbformat.read(p, as_version=4)) for p in TOP_LEVEL))
    ninth = {
        line for p in LATER for line in lines_of(nbformat.read(p, as_version=4)) - earlier if len(line) > 25
    }
    assert ninth and not ninth & released_lines
    best = RECIPES["best"]
    for secret in (best.describe(), repr(best), str(wide_mlp()), "from-79-to-90", "90.29%", "89.5"):
        assert secret not in released, f"the release shows {secret!r}"


def test_after_grading_adds_notebook_09_and_says_what_it_is(tmp_path):
    out = tmp_path / "after"
    assert cli.main(["release", str(out), "--after-grading"]) == 0
    names = sorted(files_in(out))
    assert names == sorted(
        [p.name for p in TOP_LEVEL] + [f"after-grading/{p.name}" for p in LATER] + ["README.md"]
    )
    assert (
        "open it only once your notebook 08 has been handed in and graded" in (out / "README.md").read_text()
    )


def test_a_folder_that_is_not_empty_is_refused_unless_forced(tmp_path, capsys):
    out = tmp_path / "course"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert cli.main(["release", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out} is not empty" in err and "--force" in err and "Traceback" not in err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]  # nothing written
    assert cli.main(["release", str(out), "--force"]) == 0
    assert (out / "notes.txt").read_text() == "mine" and (out / "README.md").is_file()


def test_forcing_a_release_over_an_after_grading_one_removes_notebook_09(tmp_path):
    out = tmp_path / "course"
    assert cli.main(["release", str(out), "--after-grading"]) == 0
    assert cli.main(["release", str(out), "--force"]) == 0
    assert not (out / rel.AFTER_GRADING).exists()


@pytest.mark.parametrize("where", ["checkout", "parent"])
def test_the_release_never_overwrites_the_checkout(where, capsys):
    out = ROOT if where == "checkout" else ROOT.parent
    assert cli.main(["release", str(out), "--force"]) == 2
    assert "holds this checkout" in capsys.readouterr().err


def test_without_a_checkout_it_says_the_notebooks_are_not_in_the_package(tmp_path, monkeypatch, capsys):
    assert cli.main(["release", str(tmp_path / "a"), "--checkout", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not part of the installed package" in err and "--checkout DIR" in err
    monkeypatch.setattr(config, "REPO_ROOT", tmp_path / "site-packages")  # a plain install
    assert cli.main(["release", str(tmp_path / "b")]) == 2
    assert "ffnn_lab runs from" in capsys.readouterr().err and not (tmp_path / "b").exists()


def test_the_students_readme_takes_its_numbers_from_the_grading_policy(monkeypatch):
    def readme() -> str:
        return rel.student_readme(ROOT, TOP_LEVEL, "git+https://example.org/course/ffnn-lab")

    text = readme()
    limit = policy.Budget().timeout
    for shown in (
        f"{policy.THRESHOLD:.0%}",
        f"plus {policy.MARGIN * 100:g} points",
        f"above {policy.CEILING:.0%}",
        f"time limit of {limit:g} seconds",
    ):
        assert shown in text
    assert 'pip install "ffnn-lab[notebooks] @ git+https://example.org/course/ffnn-lab"' in text
    assert '%pip install --quiet "ffnn-lab @ git+https://example.org/course/ffnn-lab"' in text
    assert "ffnn_lab.wide_mlp" in text and "does **not** count" in " ".join(text.split())  # the decision
    # other numbers in the policy: other numbers in the README (none is written into the template)
    monkeypatch.setattr(policy, "THRESHOLD", 0.83)
    monkeypatch.setattr(policy, "MARGIN", 0.03)
    monkeypatch.setattr(policy, "CEILING", 0.97)
    monkeypatch.setattr(policy, "Budget", lambda: types.SimpleNamespace(timeout=777))
    changed = readme()
    for shown in ("above **83%**", "plus 3 points", "above 97%", "time limit of 777 seconds"):
        assert shown in " ".join(changed.split())


def test_the_tool_and_the_command_line_write_the_same_release(student_folder, tmp_path):
    run = subprocess.run(
        [sys.executable, str(TOOL), "--student", str(tmp_path / "tool")], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert files_in(tmp_path / "tool") == files_in(student_folder)
