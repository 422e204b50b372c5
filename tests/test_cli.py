"""`ffnn-lab train`: defaults, JSON, and one clear line for every mistake."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ffnn_lab import cli
from ffnn_lab.recipes import RECIPES

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
    assert (seen["prepare"]["holdout"], seen["prepare"]["split_seed"]) == (2000, 0)


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
    printed = capsys.readouterr().out
    assert "SYNTHETIC" in printed and "validation set" in printed


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
    "argv, message",
    [
        (["train", "--data", "/no/such/dir"], "does not exist"),
        (["train", "--data", "synthetic", "--device", "tpu"], "unknown device 'tpu'"),
        (["train", "--data", "synthetic", "--device", "mps"], "unknown device 'mps'"),
        (["train", "--data", "synthetic", "--json", "/proc/nope/r.json"], "--json"),
        (["train", "--data", "synthetic", "--json", "/"], "is a directory"),
        (["train", "--data", "synthetic", "--holdout", "3", "--epochs", "1", "--quiet"], None),
        (
            ["train", "--data", "synthetic", "--model", "best", "--momentum", "0.9"],
            "--momentum 0.9 applies to --optimizer sgd only",
        ),
    ],
)
def test_bad_data_and_devices_give_one_clear_line(argv, message, capsys):
    code = cli.main(argv)
    err = capsys.readouterr().err
    if message is None:  # synthetic has its own split, so --holdout is accepted and ignored
        assert code == 0
        return
    assert code == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--epochs", "0"], "greater than 0"),
        (["train", "--lr", "abc"], "not a number"),
        (["train", "--lr", "inf"], "finite"),
        (["grade", "x.ipynb", "--threshold", "80"], "between 0 and 1"),
        (["train", "--model", "cnn"], "invalid choice"),
        (["train", "--holdout", "-2"], "0 or more"),
        (["train", "--mixup", "-1"], "0 or more"),
        (["train", "--max-shift", "1.5"], "not a whole number"),
        (["train", "--optimizer", "adam"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_usage(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_an_exploding_loss_exits_1_with_advice_after_writing_the_summary(tmp_path, capsys):
    out = tmp_path / "run.json"
    assert (
        cli.main(
            ["train", "--data", "synthetic", "--epochs", "3", "--lr", "1e9", "--quiet", "--json", str(out)]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "training is unstable" in err and "try 1e+08" in err and "Traceback" not in err
    summary = json.loads(out.read_text())
    assert summary["epochs"] == 3 and "grew from" in summary["unstable"]
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
    err = capsys.readouterr().err
    assert err.startswith("ffnn-lab: error: --json") and "No space left on device" in err


def test_diverging_run_exits_1_with_advice(capsys, monkeypatch):
    from ffnn_lab import models, recipes

    poisoned = recipes.NamedNetwork(lambda: _poisoned(models.baseline()), recipes.Recipe())
    monkeypatch.setitem(recipes.MODELS, "baseline", poisoned)
    assert cli.main(["train", "--data", "synthetic", "--epochs", "2", "--quiet"]) == 1
    assert "learning rate" in capsys.readouterr().err


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
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "Ways out" in run.stderr and "--data synthetic" in run.stderr  # the CLI's own hints


def test_empty_holdout_is_explained(tmp_path, capsys):
    from test_sources import write_folder

    write_folder(tmp_path, "train", per_class=2)
    assert cli.main(["train", "--data", str(tmp_path), "--holdout", "0", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "validation split is empty" in err and "Traceback" not in err


def test_environment_variable_is_named_in_errors(monkeypatch, capsys):
    monkeypatch.setenv("FFNN_LAB_DATA", "xx garbage")
    assert cli.main(["train", "--epochs", "1"]) == 2
    assert "FFNN_LAB_DATA='xx garbage'" in capsys.readouterr().err


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
