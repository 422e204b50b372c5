"""The lab's own errors: one base class, and messages in the words of the API that raised them."""

import ast
from pathlib import Path

import pytest

import ffnn_lab
from ffnn_lab import DataNotFoundError, InvalidInput, LabError, TrainingDiverged

PACKAGE = Path(ffnn_lab.__file__).parent
# The command line, the grader and the release it runs speak in flags; every other module is library
# code. (release.py answers `ffnn-lab release` and `tools/notebooks.py --student`, both with --force.)
SPEAKS_FLAGS = {"cli.py", "__main__.py", "grading", "release.py"}
LIBRARY = sorted(
    path.relative_to(PACKAGE).as_posix()
    for path in PACKAGE.rglob("*.py")
    if path.relative_to(PACKAGE).parts[0] not in SPEAKS_FLAGS
)


@pytest.mark.parametrize(
    "error, builtin",
    [(InvalidInput, ValueError), (DataNotFoundError, FileNotFoundError), (TrainingDiverged, RuntimeError)],
)
def test_every_error_is_a_lab_error_and_still_what_it_was(error, builtin):
    assert issubclass(error, LabError) and issubclass(error, builtin)


def test_the_lint_reads_every_library_module():
    assert {"train.py", "data.py", "recipes.py", "exercises/nb06.py"} <= set(LIBRARY)
    assert not {"cli.py", "grading/runner.py"} & set(LIBRARY)


@pytest.mark.parametrize("module", LIBRARY)
def test_library_text_names_no_command_line_flag(module):
    """Flags belong to the CLI, which translates (lr=0.5 becomes --lr 0.5); a notebook has no flags."""
    tree = ast.parse((PACKAGE / module).read_text())
    texts = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert not [t for t in texts if " --" in f" {t}" or "ffnn-lab " in t]
