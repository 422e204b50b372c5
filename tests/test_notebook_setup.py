"""ffnn_lab.setup(): the one call at the top of every notebook."""

import random

import numpy as np
import pytest
import torch

import ffnn_lab
from ffnn_lab import InvalidInput, notebook
from ffnn_lab.config import QUICK_EPOCHS
from ffnn_lab.device import resolve_device


def test_setup_prints_mode_source_and_device(capsys, monkeypatch):
    monkeypatch.setenv("FFNN_LAB_QUICK", "1")
    lab = ffnn_lab.setup(seed=0)
    out = capsys.readouterr().out
    assert "QUICK" in out and "SYNTHETIC" in out and f"Device: {lab.device}" in out
    assert lab.quick is True and lab.device == resolve_device("auto")


@pytest.mark.parametrize("quick", [False, True])
def test_epochs_and_size_follow_quick_mode(monkeypatch, quick):
    monkeypatch.setenv("FFNN_LAB_QUICK", "1" if quick else "0")
    lab = ffnn_lab.setup(seed=0)
    assert lab.quick is quick
    assert lab.epochs(100) == (QUICK_EPOCHS if quick else 100)
    assert lab.epochs(2) == 2  # never more than the full count
    assert lab.epochs(30, quick=1) == (1 if quick else 30)
    assert lab.size(5_000, 500) == (500 if quick else 5_000)


def test_setup_seeds_every_generator():
    draws = []
    for _ in range(2):
        ffnn_lab.setup(seed=7)
        draws.append((random.random(), np.random.rand(), torch.rand(1).item()))
    assert draws[0] == draws[1]
    ffnn_lab.setup(seed=8)
    assert torch.rand(1).item() != draws[0][2]


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_bad_seed_is_refused(seed):
    with pytest.raises(InvalidInput, match="0 or greater"):
        ffnn_lab.setup(seed=seed)


def test_outside_ipython_no_handler_is_installed():
    assert notebook.install_ipython_handler() is False


def test_divergence_is_one_friendly_line_under_ipython(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.run_cell("import ffnn_lab; lab = ffnn_lab.setup(seed=0)")
        result = shell.run_cell(
            "raise ffnn_lab.TrainingDiverged('the loss became nan in epoch 3: try 0.001.', [])"
        )
        out = capsys.readouterr()
        text = out.out + out.err
        assert isinstance(result.error_in_exec, ffnn_lab.TrainingDiverged)
        assert "Training diverged: the loss became nan in epoch 3: try 0.001." in text
        assert "Traceback" not in text and "raise ffnn_lab" not in text
        shell.run_cell("1 / 0")  # other errors keep their usual traceback
        assert "ZeroDivisionError" in capsys.readouterr().out
    finally:
        InteractiveShell.clear_instance()


def test_semicolon_silences_a_cell_even_when_history_is_not_stored(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.run_cell("import ffnn_lab; lab = ffnn_lab.setup(seed=0)")
        capsys.readouterr()
        shell.run_cell("1 + 41", store_history=False)  # nbval runs cells like this
        assert "42" in capsys.readouterr().out
        shell.run_cell("print('checked'); 1 + 41;", store_history=False)
        assert capsys.readouterr().out == "checked\n"
        shell.run_cell("1 + 42", store_history=False)  # the previous ';' does not leak
        assert "43" in capsys.readouterr().out
    finally:
        InteractiveShell.clear_instance()
