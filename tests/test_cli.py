"""`ffnn-lab train`: defaults, JSON, and one clear line for every mistake."""

import json
import subprocess
import sys

import pytest

from ffnn_lab import cli

JSON_KEYS = {"model", "epochs", "batch_size", "lr", "seed", "device", "data", "n_train", "n_val",
             "train_accuracy", "val_accuracy", "final_loss", "seconds", "samples_per_second",
             "history"}


def test_defaults_reproduce_the_lectures_run():
    args = cli.parser().parse_args(["train"])
    assert (args.model, args.seed, args.holdout, args.device) == ("baseline", 0, 2000, "auto")
    from ffnn_lab.models import RECIPES
    r = RECIPES["baseline"]
    assert (r.epochs, r.batch_size, r.lr, r.optimizer, r.momentum) == (100, 64, 1e-2, "sgd", 0.0)


def test_train_writes_the_json_summary(tmp_path, capsys):
    out = tmp_path / "runs" / "run.json"
    assert cli.main(["train", "--data", "synthetic", "--epochs", "3", "--quiet",
                     "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert JSON_KEYS <= set(summary)
    assert summary["epochs"] == 3 and summary["n_train"] == 600 and summary["n_val"] == 200
    assert summary["data"] == "synthetic" and summary["device"] == "cpu"
    assert [h["epoch"] for h in summary["history"]] == [1, 2, 3]
    assert set(summary["history"][0]) == {"epoch", "loss", "train_accuracy", "val_accuracy", "seconds"}
    assert summary["final_loss"] == summary["history"][-1]["loss"]
    assert summary["samples_per_second"] > 0 and 0.5 < summary["val_accuracy"] <= 1
    printed = capsys.readouterr().out
    assert "SYNTHETIC" in printed and "validation set" in printed


def test_same_seed_same_json(tmp_path):
    runs = []
    for name in ("a", "b"):
        cli.main(["train", "--data", "synthetic", "--epochs", "2", "--seed", "3", "--quiet",
                  "--json", str(tmp_path / name)])
        s = json.loads((tmp_path / name).read_text())
        runs.append([(h["loss"], h["val_accuracy"]) for h in s["history"]])
    assert runs[0] == runs[1]


def test_recipe_defaults_and_every_override_reach_the_run(tmp_path, capsys, monkeypatch):
    from ffnn_lab.models import RECIPES
    calls = []
    real_fit = cli.fit
    monkeypatch.setattr(cli, "fit", lambda *a, **kw: calls.append(kw) or real_fit(*a, **kw))
    fit_settings = lambda: {k: v for k, v in calls[-1].items() if k not in ("seed", "progress")}
    out = tmp_path / "best.json"
    assert cli.main(["train", "--model", "best", "--data", "synthetic", "--epochs", "1", "--quiet",
                     "--json", str(out)]) == 0
    expected = {**vars(RECIPES["best"]), "epochs": 1}
    assert fit_settings() == expected and json.loads(out.read_text())["recipe"] == expected
    assert "mixup 0.2" in capsys.readouterr().out
    assert cli.main(["train", "--model", "best", "--data", "synthetic", "--epochs", "1", "--quiet",
                     "--max-shift", "0", "--no-flip", "--mixup", "0", "--optimizer", "sgd",
                     "--momentum", "0.9", "--weight-decay", "0", "--schedule", "constant",
                     "--batch-size", "32", "--lr", "0.05", "--json", str(out)]) == 0
    expected = dict(epochs=1, batch_size=32, lr=0.05, optimizer="sgd", momentum=0.9,
                    weight_decay=0.0, schedule="constant", max_shift=0, flip=False, mixup=0.0)
    assert fit_settings() == expected and json.loads(out.read_text())["recipe"] == expected


@pytest.mark.parametrize("argv, message", [
    (["train", "--data", "/no/such/dir"], "does not exist"),
    (["train", "--data", "synthetic", "--device", "tpu"], "unknown device"),
    (["train", "--data", "synthetic", "--device", "mps"], "unknown device"),
    (["train", "--data", "synthetic", "--json", "/proc/nope/r.json"], "--json"),
    (["train", "--data", "synthetic", "--json", "/"], "is a directory"),
    (["train", "--data", "synthetic", "--holdout", "3", "--epochs", "1", "--quiet"], None),
    (["train", "--data", "synthetic", "--model", "best", "--momentum", "0.9"], "--optimizer sgd"),
])
def test_bad_data_and_devices_give_one_clear_line(argv, message, capsys):
    code = cli.main(argv)
    err = capsys.readouterr().err
    if message is None:  # synthetic has its own split, so --holdout is accepted and ignored
        assert code == 0
        return
    assert code == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["train", "--epochs", "0"], "greater than 0"),
    (["train", "--lr", "abc"], "not a number"),
    (["train", "--lr", "inf"], "finite"),
    (["grade", "x.ipynb", "--threshold", "80"], "between 0 and 1"),
    (["train", "--model", "cnn"], "invalid choice"),
    (["train", "--holdout", "-2"], "0 or more"),
    (["train", "--mixup", "-1"], "0 or more"),
    (["train", "--max-shift", "1.5"], "not a whole number"),
    (["train", "--optimizer", "adam"], "invalid choice"),
])
def test_bad_arguments_exit_2_with_usage(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_diverging_run_exits_1_with_advice(capsys, monkeypatch):
    from ffnn_lab import models
    monkeypatch.setitem(models.MODELS, "baseline",
                        lambda: _poisoned(models.baseline()))
    assert cli.main(["train", "--data", "synthetic", "--epochs", "2", "--quiet"]) == 1
    assert "learning rate" in capsys.readouterr().err


def _poisoned(model):
    import torch
    with torch.no_grad():
        model[1].weight[0, 0] = float("nan")
    return model


def test_module_and_console_script_run_without_traceback(tmp_path):
    env_run = subprocess.run([sys.executable, "-m", "ffnn_lab", "train", "--data", str(tmp_path)],
                             capture_output=True, text=True)
    assert env_run.returncode == 2
    assert "Ways out" in env_run.stderr and "Traceback" not in env_run.stderr


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


def test_seed_changes_training_not_the_split(monkeypatch):
    import ffnn_lab.cli as cli_module
    seen = []
    real = cli_module.prepare_cifar2
    monkeypatch.setattr(cli_module, "prepare_cifar2",
                        lambda *a, **k: seen.append(k["seed"]) or real(*a, **k))
    cli.main(["train", "--data", "synthetic", "--epochs", "1", "--seed", "5", "--quiet"])
    cli.main(["train", "--data", "synthetic", "--epochs", "1", "--split-seed", "2", "--quiet"])
    assert seen == [0, 2]
