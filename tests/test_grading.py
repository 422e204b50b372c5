"""The instructor's grader on submissions that pass, fail, raise, hang and tamper."""

import csv

import nbformat
import pytest
import torch
from torch import nn

from ffnn_lab import baseline, cli, fit, prepare_cifar2
from ffnn_lab.grading import check, grade

SETUP = "import torch, ffnn_lab\ntorch.manual_seed(0)\ndata = ffnn_lab.prepare_cifar2()"
TRAIN = "model = ffnn_lab.baseline()\nffnn_lab.fit(model, data.train, epochs=6, progress=False)"
UNTRAINED = "model = ffnn_lab.baseline()\ntorch.nn.init.zeros_(model[-1].weight)\n" \
            "torch.nn.init.zeros_(model[-1].bias)"  # every score equal: always 'airplane'
SUBMISSIONS = {
    "pass": [SETUP, TRAIN],
    "fail": [SETUP, UNTRAINED],
    "raises": [SETUP, TRAIN, "raise RuntimeError('my training went wrong')"],
    "tamper": [SETUP, UNTRAINED,
               "import ffnn_lab.grading, ffnn_lab.train\n"
               "ffnn_lab.grading.check = lambda *a, **k: True\n"
               "ffnn_lab.evaluate = ffnn_lab.train.evaluate = lambda *a, **k: 1.0\n"
               "def accuracy(*args):\n    return 1.0\nTHRESHOLD = 0.0"],
    "no-model": [SETUP],
    "says-timeout": ["raise RuntimeError('Timeout reading my config')"],
}


def write(path, cells):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grading")
    paths = [write(tmp / f"{name}.ipynb", cells) for name, cells in SUBMISSIONS.items()]
    (tmp / "broken.ipynb").write_text("{not json")
    paths.append(tmp / "broken.ipynb")
    grades = grade(paths, tmp / "report", data="synthetic", timeout=120)
    return {g.file.removesuffix(".ipynb"): g for g in grades}, tmp / "report"


def test_each_submission_is_graded_correctly(graded):
    grades, _ = graded
    assert grades["pass"].passed and grades["pass"].accuracy > 0.8 and not grades["pass"].error
    assert not grades["fail"].passed and grades["fail"].accuracy == 0.5
    assert not grades["raises"].passed and "my training went wrong" in grades["raises"].error
    assert not grades["no-model"].passed and "model" in grades["no-model"].error
    assert not grades["broken"].passed and "not a readable notebook" in grades["broken"].error
    said = grades["says-timeout"].error
    assert said == "a cell raised RuntimeError: Timeout reading my config", said  # no colour codes


def test_tampering_changes_nothing(graded):
    grades, _ = graded
    assert not grades["tamper"].passed and grades["tamper"].accuracy == 0.5


def test_reports_list_every_submission(graded):
    grades, report = graded
    rows = list(csv.DictReader((report / "report.csv").open()))
    assert [r["file"] for r in rows] == [f"{n}.ipynb" for n in grades]
    assert set(rows[0]) == {"file", "passed", "accuracy", "seconds", "error"}
    assert {r["file"]: r["passed"] for r in rows}["pass.ipynb"] == "True"
    md = (report / "report.md").read_text()
    assert "1 of 7 passed" in md and "my training went wrong" in md
    assert "Validation data: validation: 200 images, SYNTHETIC" in md


def test_a_hanging_notebook_times_out_and_the_next_is_still_graded(tmp_path):
    hang = write(tmp_path / "hang.ipynb", ["import time\nwhile True:\n    time.sleep(1)"])
    ok = write(tmp_path / "ok.ipynb", ["import torch\nmodel = torch.nn.Sequential(torch.nn.Flatten(), "
                                       "torch.nn.Linear(3072, 2))"])
    code = cli.main(["grade", str(hang), str(ok), "--data", "synthetic", "--timeout", "15",
                     "--report-dir", str(tmp_path / "r")])
    rows = {r["file"]: r for r in csv.DictReader((tmp_path / "r" / "report.csv").open())}
    assert code == 0
    assert rows["hang.ipynb"]["passed"] == "False" and "timed out" in rows["hang.ipynb"]["error"]
    assert float(rows["hang.ipynb"]["seconds"]) < 30
    assert rows["ok.ipynb"]["accuracy"] and not rows["ok.ipynb"]["error"]


def test_grade_cli_rejects_missing_files(tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path / "missing.ipynb"), "--data", "synthetic"]) == 2
    assert "no such notebook" in capsys.readouterr().err


def test_students_check_gives_specific_feedback(capsys):
    data = prepare_cifar2("synthetic")
    torch.manual_seed(0)
    model = baseline()
    fit(model, data.train, epochs=6, progress=False)
    assert check(model, data.val) is True
    assert "PASS" in capsys.readouterr().out
    untrained = baseline()
    nn.init.zeros_(untrained[-1].weight)
    assert check(untrained, data.val) is False
    assert "guessing" in capsys.readouterr().out
    assert check(nn.Linear(3072, 2), data.val) is False
    assert "nn.Flatten" in capsys.readouterr().out
    assert check(nn.Sequential(nn.Flatten(), nn.Linear(3072, 3)), data.val) is False
    assert "2 scores" in capsys.readouterr().out
