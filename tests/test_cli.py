"""`ffnn-lab train`: defaults, JSON, and one clear line for every mistake."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ffnn_lab import cli, grading
from ffnn_lab.data import HOLDOUT, SPLIT_SEED
from ffnn_lab.recipes import MODELS, OPTIMIZERS, RECIPES

JSON_KEYS = {
    "model",
    "epochs",
    "batch_size",
    "lr",
    "seed",
    "device",
    "data",
    "n_train",
    "n_val",
    "train_accuracy",
    "val_accuracy",
    "final_loss",
    "seconds",
    "samples_per_second",
    "history",
}


class Stop(Exception):
    pass


def test_no_flags_train_the_lectures_recipe_on_its_split(monkeypatch):
    seen = {}
    real_prepare = cli.prepare_cifar2

    def prepare(*a, **k):
        seen["prepare"] = k
        return real_prepare(*a, **k)

    def fit(model, train, val, *, recipe, **k):
        seen["fit"] = recipe, k
        raise Stop

    monkeypatch.setattr(cli, "prepare_cifar2", prepare)
    monkeypatch.setattr(cli, "fit", fit)
    with pytest.raises(Stop):
        cli.main(["train", "--data", "synthetic"])
    recipe, kwargs = seen["fit"]
    # the lecture's run: 100 epochs of plain SGD, batch 64, learning rate 0.01, seed 0
    assert (
        recipe.epochs,
        recipe.batch_size,
        recipe.lr,
        recipe.optimizer,
        recipe.momentum,
        recipe.schedule,
        recipe.max_shift,
        recipe.mixup,
    ) == (100, 64, 1e-2, "sgd", 0, "constant", 0, 0)
    assert kwargs["seed"] == 0
    assert (seen["prepare"]["holdout"], seen["prepare"]["split_seed"]) == (HOLDOUT, SPLIT_SEED)


def test_train_writes_the_json_summary(tmp_path, capsys):
    out = tmp_path / "runs" / "run.json"
    assert cli.main(["train", "--data", "synthetic", "--epochs", "3", "--quiet", "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert JSON_KEYS <= set(summary)
    assert summary["epochs"] == 3 and summary["n_train"] == 600 and summary["n_val"] == 200
    assert summary["data"] == "synthetic" and summary["device"] == "cpu"
    assert [h["epoch"] for h in summary["history"]] == [1, 2, 3]
    assert set(summary["history"][0]) == {"epoch", "loss", "train_accuracy", "val_accuracy", "seconds"}
    assert summary["final_loss"] == summary["history"][-1]["loss"]
    assert summary["samples_per_second"] == pytest.approx(600 * 3 / summary["seconds"], rel=0.05)
    assert 0.5 < summary["val_accuracy"] <= 1
    printed = capsys.readouterr().out.splitlines()
    assert "SYNTHETIC" in printed[0] and printed[0].startswith("train: 600 images")
    assert printed[-3:] == [
        f"Accuracy on the training set:   {summary['train_accuracy']:.4f}",
        f"Accuracy on the validation set: {summary['val_accuracy']:.4f}",
        f"wrote {out}",
    ]


def test_same_seed_same_json(tmp_path):
    runs = []
    for name in ("a", "b"):
        cli.main(
            [
                "train",
                "--data",
                "synthetic",
                "--epochs",
                "2",
                "--seed",
                "3",
                "--quiet",
                "--json",
                str(tmp_path / name),
            ]
        )
        s = json.loads((tmp_path / name).read_text())
        runs.append([(h["loss"], h["val_accuracy"]) for h in s["history"]])
    assert runs[0] == runs[1]


def test_recipe_defaults_and_every_override_reach_the_run(tmp_path, capsys, monkeypatch):
    calls = []
    real_fit = cli.fit
    monkeypatch.setattr(cli, "fit", lambda *a, **kw: calls.append(kw["recipe"]) or real_fit(*a, **kw))
    fit_settings = lambda: vars(calls[-1])
    out = tmp_path / "best.json"
    best = ["train", "--model", "best", "--data", "synthetic", "--epochs", "1", "--quiet", "--json", str(out)]
    assert cli.main(best) == 0
    expected = {**vars(RECIPES["best"]), "epochs": 1}
    assert fit_settings() == expected and json.loads(out.read_text())["recipe"] == expected
    assert "mixup 0.2" in capsys.readouterr().out
    overrides = "--max-shift 0 --no-flip --mixup 0 --optimizer sgd --momentum 0.9 --weight-decay 0"
    overrides += " --schedule constant --batch-size 32 --lr 0.05"
    assert cli.main(best + overrides.split()) == 0
    expected = dict(
        epochs=1,
        batch_size=32,
        lr=0.05,
        optimizer="sgd",
        momentum=0.9,
        weight_decay=0.0,
        schedule="constant",
        max_shift=0,
        flip=False,
        mixup=0.0,
    )
    assert fit_settings() == expected and json.loads(out.read_text())["recipe"] == expected


@pytest.mark.parametrize(
    "argv, line",
    [
        (["--device", "tpu"], "unknown device 'tpu': use 'auto', 'cpu' or 'cuda'"),
        (["--device", "mps"], "unknown device 'mps': use 'auto', 'cpu' or 'cuda'"),
        (["--json", "/proc/nope/r.json"], "--json /proc/nope/r.json: cannot create /proc/nope (No such file"),
        (["--json", "/"], "--json / is a directory: give a file path"),
        (
            ["--model", "best", "--momentum", "0.9"],
            "--momentum 0.9 applies to --optimizer sgd only: choose --optimizer sgd, or drop momentum",
        ),
    ],
)
def test_a_bad_setting_is_one_line_in_flags(argv, line, capsys):
    assert cli.main(["train", "--data", "synthetic", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ffnn-lab: error: {line}") and err.count("\n") == 1


def test_missing_data_is_its_problem_and_the_ways_out_in_flags(capsys):
    assert cli.main(["train", "--data", "/no/such/dir"]) == 2
    assert capsys.readouterr().err == f"ffnn-lab: error: /no/such/dir does not exist\n{cli.WAYS_OUT}\n"
    # the loaders' ways out, in the command line's words: flags, not Python arguments
    assert "--data DIR" in cli.WAYS_OUT and "--data synthetic" in cli.WAYS_OUT
    assert "root=" not in cli.WAYS_OUT and "download=True" not in cli.WAYS_OUT


def test_a_holdout_is_ignored_where_the_data_has_its_own_validation_split(tmp_path):
    out = tmp_path / "run.json"
    argv = ["train", "--data", "synthetic", "--epochs", "1", "--quiet", "--json", str(out)]
    assert cli.main([*argv, "--holdout", "4"]) == 0
    assert json.loads(out.read_text())["n_val"] == 200  # synthetic's own validation images


@pytest.mark.parametrize(
    "argv, line",
    [
        (["train", "--epochs", "0"], "argument --epochs: 0 must be greater than 0"),
        (["train", "--lr", "abc"], "argument --lr: 'abc' is not a number"),
        (["train", "--lr", "inf"], "argument --lr: inf must be a finite number greater than 0"),
        (
            ["grade", "x.ipynb", "--threshold", "80"],
            "argument --threshold: 80 must be a fraction between 0 and 1, e.g. 0.8 for 80%",
        ),
        (["train", "--holdout", "-2"], "argument --holdout: -2 must be 0 or more"),
        (["train", "--mixup", "-1"], "argument --mixup: -1 must be a finite number, 0 or more"),
        (["train", "--max-shift", "1.5"], "argument --max-shift: '1.5' is not a whole number"),
    ],
)
def test_bad_arguments_exit_2_with_usage(argv, line, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith("usage: ffnn-lab")
    assert err.splitlines()[-1] == f"ffnn-lab {argv[0]}: error: {line}"


@pytest.mark.parametrize("flag, offered", [("--model", MODELS), ("--optimizer", OPTIMIZERS)])
def test_a_choice_not_offered_lists_the_ones_that_are(flag, offered, capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", flag, "nope"])
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith(f"ffnn-lab train: error: argument {flag}: invalid choice: 'nope'")
    assert all(name in last for name in offered)


def test_defaults_and_their_help_come_from_the_lab(monkeypatch, capsys):
    monkeypatch.setattr(cli, "HOLDOUT", 1234)
    monkeypatch.setattr(cli, "SPLIT_SEED", 7)
    for command in (["train"], ["grade", "x.ipynb"]):
        args = cli.parser().parse_args(command)
        assert (args.holdout, args.split_seed) == (1234, 7)
    for command in ("train", "grade"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        shown = " ".join(capsys.readouterr().out.split())
        assert "no test/ (default 1234)" in shown or "no test/ split (default 1234)" in shown
        assert "hold-out takes (default 7)" in shown


def test_an_exploding_loss_exits_1_with_advice_after_writing_the_summary(tmp_path, capsys):
    out = tmp_path / "run.json"
    assert (
        cli.main(
            ["train", "--data", "synthetic", "--epochs", "3", "--lr", "1e9", "--quiet", "--json", str(out)]
        )
        == 1
    )
    summary = json.loads(out.read_text())
    assert capsys.readouterr().err == f"ffnn-lab: error: {summary['unstable']}\n"
    assert re.fullmatch(
        r"the epoch loss grew from 0\.\d+ \(first batch\) to [\d.]+e\+\d+ in epoch \d: "
        r"training is unstable\. "
        r"The learning rate \(1e\+09\) is probably too high: try 1e\+08\.",
        summary["unstable"],
    )
    assert summary["epochs"] == 3
    assert summary["final_loss"] > 1e6


@pytest.mark.parametrize("error", [ValueError, FileNotFoundError, KeyError])
def test_a_bug_in_the_lab_shows_its_traceback(monkeypatch, error):
    def broken_fit(*args, **kwargs):
        raise error("not one of the lab's own errors")

    monkeypatch.setattr(cli, "fit", broken_fit)
    with pytest.raises(error, match="not one of the lab's own errors"):
        cli.main(["train", "--data", "synthetic", "--epochs", "1", "--quiet"])


@pytest.mark.parametrize("error", [ValueError, KeyError])
def test_a_bug_in_the_grader_shows_its_traceback(monkeypatch, tmp_path, error):
    from ffnn_lab.grading import runner

    def broken_grade(*args, **kwargs):
        raise error("not one of the grader's own errors")

    monkeypatch.setattr(runner, "grade", broken_grade)
    with pytest.raises(error, match="not one of the grader's own errors"):
        cli.main(["grade", "--data", "synthetic", "--report-dir", str(tmp_path / "r"), str(tmp_path)])


def test_a_json_that_cannot_be_written_after_training_is_one_clear_line(monkeypatch, tmp_path, capsys):
    def disk_full(path, text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli, "write_text_atomic", disk_full)
    args = ["train", "--data", "synthetic", "--epochs", "1", "--quiet", "--json", str(tmp_path / "run.json")]
    assert cli.main(args) == 2
    assert capsys.readouterr().err == (
        f"ffnn-lab: error: --json {tmp_path / 'run.json'}: cannot write it (No space left on device); "
        "make room or choose another place\n"
    )


def test_diverging_run_exits_1_with_advice(capsys, monkeypatch):
    from ffnn_lab import models, recipes

    poisoned = recipes.NamedNetwork(lambda: _poisoned(models.baseline()), recipes.Recipe())
    monkeypatch.setitem(recipes.MODELS, "baseline", poisoned)
    assert cli.main(["train", "--data", "synthetic", "--epochs", "2", "--quiet"]) == 1
    assert capsys.readouterr().err == (
        "ffnn-lab: error: the loss became nan in epoch 1: training stopped. "
        "The learning rate (0.01) is probably too high: try 0.001.\n"
    )


def _poisoned(model):
    import torch

    with torch.no_grad():
        model[1].weight[0, 0] = float("nan")
    return model


@pytest.mark.parametrize("command", [[sys.executable, "-m", "ffnn_lab"], ["ffnn-lab"]])
def test_module_and_console_script_run_without_traceback(tmp_path, command):
    if command == ["ffnn-lab"]:  # the installed entry point, beside this interpreter
        script = shutil.which("ffnn-lab", path=str(Path(sys.executable).parent))
        if script is None:
            pytest.skip("ffnn-lab is not installed beside this interpreter (pip install -e .)")
        command = [script]
    run = subprocess.run([*command, "train", "--data", str(tmp_path)], capture_output=True, text=True)
    problem = f"{tmp_path} holds neither cifar-10-batches-py/ nor a train/ folder of class folders"
    assert run.returncode == 2 and run.stderr == f"ffnn-lab: error: {problem}\n{cli.WAYS_OUT}\n"


def test_an_empty_holdout_is_explained_with_advice_that_works(tmp_path, capsys):
    from test_sources import write_folder

    write_folder(tmp_path, "train", per_class=2)
    argv = ["train", "--data", str(tmp_path), "--epochs", "1", "--quiet", "--json", str(tmp_path / "r.json")]
    assert cli.main([*argv, "--holdout", "0"]) == 2
    assert capsys.readouterr().err == (
        f"ffnn-lab: error: the validation split is empty: use --holdout 2 or more (default {HOLDOUT})\n"
    )
    assert cli.main([*argv, "--holdout", "2"]) == 0  # the advice, followed
    assert json.loads((tmp_path / "r.json").read_text())["n_val"] == 2


def test_environment_variable_is_named_in_errors(monkeypatch, capsys):
    monkeypatch.setenv("FFNN_LAB_DATA", "xx garbage")
    assert cli.main(["train", "--epochs", "1"]) == 2
    first = capsys.readouterr().err.splitlines()[0]
    assert (
        first
        == f"ffnn-lab: error: FFNN_LAB_DATA='xx garbage': {Path('xx garbage').absolute()} does not exist"
    )


def test_seed_changes_training_and_split_seed_the_split(tmp_path, monkeypatch):
    from test_sources import write_folder

    write_folder(tmp_path / "copy", "train", per_class=6)
    splits, runs = [], []
    real = cli.prepare_cifar2

    def prepare(*a, **k):
        data = real(*a, **k)
        splits.append(torch.cat([data.val.x.flatten(), data.train.x.flatten()]))
        return data

    monkeypatch.setattr(cli, "prepare_cifar2", prepare)
    for flags in (["--seed", "5"], ["--seed", "6"], ["--split-seed", "2"]):
        out = tmp_path / "run.json"
        assert (
            cli.main(
                [
                    "train",
                    "--data",
                    str(tmp_path / "copy"),
                    "--holdout",
                    "4",
                    "--epochs",
                    "2",
                    "--quiet",
                    "--json",
                    str(out),
                    *flags,
                ]
            )
            == 0
        )
        runs.append([h["loss"] for h in json.loads(out.read_text())["history"]])
    assert torch.equal(splits[0], splits[1]) and runs[0] != runs[1]  # --seed: same split, new training
    assert not torch.equal(splits[0], splits[2])  # --split-seed: other hold-out images


@pytest.mark.parametrize("flags, margin", [([], grading.MARGIN), (["--margin", "0.05"], 0.05)])
def test_grade_takes_the_graders_margin_unless_given_one(monkeypatch, tmp_path, flags, margin):
    from ffnn_lab.grading import runner

    seen = {}

    def grade(notebooks, report_dir, options):
        seen.update(vars(options))
        return [], 0

    monkeypatch.setattr(runner, "grade", grade)
    argv = ["grade", "--data", "synthetic", "--report-dir", str(tmp_path / "r"), str(tmp_path), *flags]
    assert cli.main(argv) == 0
    assert seen["margin"] == margin
    assert (seen["holdout"], seen["split_seed"]) == (HOLDOUT, SPLIT_SEED)
