"""Notebook 08's check respects the student's time: the untouched exercise's accuracy ships with the
package for the splits courses use, an unknown split says how long before it trains, quick mode never
passes, and the time check sets the student's training next to the grader's limit."""

import dataclasses
import datetime
import json
import time
from pathlib import Path

import pytest
import torch

import ffnn_lab
from ffnn_lab import baseline, prepare_cifar2, timing
from ffnn_lab.grading import exercise, policy, references

ROOT = Path(__file__).resolve().parents[1]


def refuse_to_train(monkeypatch):
    """Make any training in the check fail the test."""

    def boom(*args, **kwargs):
        raise AssertionError("the check trained a network")

    monkeypatch.setattr(exercise, "fit", boom)
    monkeypatch.setattr(timing, "fit", boom)


def entry(data, accuracy=0.75, **changes) -> dict:
    """A shipped-table entry for data, as tools/references.py writes it."""
    return {
        "data": "the test's split",
        "fingerprint": references.data_fingerprint(data),
        "recipe": dataclasses.asdict(exercise.RECIPE),
        "seed": exercise.SEED,
        "accuracy": accuracy,
        "measured": "2026-11-30",
        "device": "a 2-core CPU (test)",
        "torch": "9.9.9",
        "seconds": 42.0,
        **changes,
    }


@pytest.fixture
def table(tmp_path, monkeypatch) -> Path:
    """An empty shipped table of the test's own, in place of the package's."""
    path = tmp_path / "references.json"
    monkeypatch.setattr(references, "TABLE", path)
    return path


@pytest.fixture(scope="module")
def synthetic():
    return prepare_cifar2("synthetic")


# --- the fingerprint ------------------------------------------------------------------------------


def test_the_fingerprint_names_the_data_not_its_floats(synthetic):
    again = prepare_cifar2("synthetic")
    assert references.data_fingerprint(again) == references.data_fingerprint(synthetic)
    # the same pixels normalised with float noise (another device, another torch): the same split
    nudged = dataclasses.replace(
        synthetic, train=ffnn_lab.TensorData(synthetic.train.x + 1e-5, synthetic.train.y)
    )
    assert references.data_fingerprint(nudged) == references.data_fingerprint(synthetic)
    # one label changed, or one image left out: another split
    y = synthetic.val.y.clone()
    y[0] = 1 - y[0]
    relabelled = dataclasses.replace(synthetic, val=ffnn_lab.TensorData(synthetic.val.x, y))
    fewer = dataclasses.replace(synthetic, val=ffnn_lab.TensorData(synthetic.val.x[1:], synthetic.val.y[1:]))
    prints = {references.data_fingerprint(d) for d in (synthetic, relabelled, fewer)}
    assert len(prints) == 3


def test_a_reference_is_found_only_for_its_split_recipe_and_seed(synthetic, table):
    references.add(entry(synthetic), table)
    found = references.lookup(references.data_fingerprint(synthetic), exercise.RECIPE, exercise.SEED)
    assert found is not None and found.accuracy == 0.75
    other_recipe = dataclasses.replace(exercise.RECIPE, lr=0.02)
    assert references.lookup(references.data_fingerprint(synthetic), other_recipe, exercise.SEED) is None
    assert references.lookup(references.data_fingerprint(synthetic), exercise.RECIPE, 1) is None
    assert references.lookup("0" * 24, exercise.RECIPE, exercise.SEED) is None
    references.add(entry(synthetic, accuracy=0.7), table)  # measured again: replaces, not duplicates
    assert [e["accuracy"] for e in references.load()] == [0.7]


@pytest.mark.parametrize("text", ["", "{", '{"references": 3}', '{"references": [{"fingerprint": 1}]}'])
def test_a_missing_or_damaged_table_is_no_reference(synthetic, table, text):
    if text:
        table.write_text(text)
    assert references.lookup(references.data_fingerprint(synthetic), exercise.RECIPE, exercise.SEED) is None


def test_the_package_ships_the_image_folder_copys_reference():
    entries = references.load()
    shipped = [e for e in entries if e["recipe"] == dataclasses.asdict(exercise.RECIPE) and e["seed"] == 0]
    assert any("image-folder copy" in e["data"] and e["n_val"] == 2000 for e in shipped)
    for e in shipped:
        assert 0.7 < e["accuracy"] < 0.9  # the untouched exercise: about 82% on this kind of split
        datetime.date.fromisoformat(e["measured"])
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert references.TABLE.name in config["package-data"]["ffnn_lab.grading"]  # in a plain install too


# --- the check --------------------------------------------------------------------------------------


def test_with_a_shipped_reference_the_check_trains_nothing_and_says_where_it_comes_from(
    synthetic, table, monkeypatch, capsys
):
    references.add(entry(synthetic), table)
    refuse_to_train(monkeypatch)
    torch.manual_seed(0)
    start = time.perf_counter()
    assert exercise.check(baseline(), synthetic) is False
    assert time.perf_counter() - start < 20  # the contract's export and one evaluation
    out = capsys.readouterr().out
    assert "The untouched exercise scores 75.00%" in out
    assert "measured once for this split (the test's split) on 2026-11-30" in out
    assert "a 2-core CPU (test)" in out and "torch 9.9.9" in out and "nothing was trained here" in out


@pytest.mark.realdata
@pytest.mark.slow
def test_on_the_image_folder_copys_default_hold_out_the_check_takes_seconds(real_data, monkeypatch, capsys):
    data = prepare_cifar2(str(real_data))
    refuse_to_train(monkeypatch)
    torch.manual_seed(0)
    start = time.perf_counter()
    exercise.check(baseline(), data)
    assert time.perf_counter() - start < 20
    out = capsys.readouterr().out
    assert "measured once for this split (the image-folder copy" in out, out


def test_an_unknown_split_says_how_long_before_it_trains_and_is_cached(synthetic, table, monkeypatch, capsys):
    monkeypatch.setattr(exercise, "EPOCHS", 2)  # the announcement and the order matter here, not the length
    trained = []
    real = exercise.train_reference

    def train_reference(*args, **kwargs):
        trained.append((capsys.readouterr().out, kwargs.get("progress", args[4] if len(args) > 4 else None)))
        return real(*args, **kwargs)

    monkeypatch.setattr(exercise, "train_reference", train_reference)
    torch.manual_seed(0)
    model = baseline()
    exercise.check(model, synthetic)
    [(said_before, progress)] = trained
    assert "no reference shipped with ffnn-lab" in said_before
    assert "2 epochs at" in said_before and "s each (measured here): " in said_before
    assert progress is True  # a progress bar while it trains
    assert "trained just now on this machine, cached in" in capsys.readouterr().out
    exercise.check(model, synthetic)  # the next run finds it cached
    assert len(trained) == 1
    assert f"trained on this machine on {datetime.date.today().isoformat()}" in capsys.readouterr().out


def test_in_quick_mode_every_line_says_so_and_nothing_passes(synthetic, monkeypatch, capsys):
    monkeypatch.setenv("FFNN_LAB_QUICK", "1")
    monkeypatch.setattr(exercise, "reference_accuracy", lambda *a, **k: 0.5)
    monkeypatch.setattr(exercise, "evaluate", lambda *a, **k: 0.99)  # far above the quick bar
    torch.manual_seed(0)
    assert exercise.check(baseline(), synthetic) is False
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 5 and all(line.startswith(exercise.QUICK) for line in lines), lines
    assert not any("PASS" in line for line in lines)
    assert any("above this quick-mode bar" in line and "no verdict" in line for line in lines)


def test_the_package_s_own_network_is_named_as_not_counting(synthetic, table, monkeypatch, capsys):
    references.add(entry(synthetic, accuracy=0.0), table)
    exercise.check(ffnn_lab.wide_mlp(), synthetic)
    assert "does not count as solving the exercise" in capsys.readouterr().out


def test_help_does_not_hand_out_the_passing_recipe():
    assert "best" not in ffnn_lab.fit.__doc__ and "RECIPES" not in ffnn_lab.fit.__doc__
    assert "does not count" in ffnn_lab.wide_mlp.__doc__


# --- the time limit ----------------------------------------------------------------------------------


def epochs(n: int, seconds: float) -> list[dict]:
    return [{"epoch": i + 1, "seconds": seconds} for i in range(n)]


def test_the_time_check_sets_the_training_next_to_the_graders_limit(capsys):
    limit = policy.Budget().timeout
    room = exercise.TIME_ROOM * limit
    assert exercise.time_check(epochs(10, room / 20), loading=1) is True
    out = capsys.readouterr().out
    assert f"The grader's limit: {limit:.0f} s" in out and "Fits with room" in out
    assert exercise.time_check(epochs(10, (room + limit) / 20)) is False
    assert "Tight" in capsys.readouterr().out
    assert exercise.time_check(epochs(10, limit / 5)) is False
    out = capsys.readouterr().out
    assert "Too long" in out and f"about {int(room / (limit / 5))} epochs" in out
    assert exercise.time_check([]) is False
    assert "run the training cell first" in capsys.readouterr().out


def test_in_quick_mode_the_time_check_claims_nothing(monkeypatch, capsys):
    monkeypatch.setenv("FFNN_LAB_QUICK", "1")
    assert exercise.time_check(epochs(3, 0.1)) is False
    lines = capsys.readouterr().out.splitlines()
    assert all(line.startswith(exercise.QUICK) for line in lines) and "says nothing" in lines[-1]


# --- timing claims -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b, said",
    [
        ([1.0] * 5, [2.0] * 5, "A was faster than B in 5 of 5 rounds, 2.0 times as fast"),
        ([2.0] * 5, [1.0, 1.1, 0.9, 1.0, 1.0], "B was faster than A in 5 of 5 rounds, 2.0 times as fast"),
        (
            [1.0] * 5,
            [2.0, 2.0, 0.9, 2.0, 2.0],
            "too close to call here: A was faster in 4 of 5 rounds, B in 1",
        ),
        (
            [1.0] * 30,
            [2.0] * 20 + [0.5] * 10,
            "A was faster than B in 20 of 30 rounds",
        ),  # one hiccup is not all
        ([1.0] * 30, [2.0] * 19 + [0.5] * 11, "too close to call here"),  # 19 of 30: luck does that too often
        ([1.0] * 5, [1.05] * 5, "too close to call here"),  # always, but by too little
        ([1.0] * 3, [9.0] * 3, "3 rounds are too few"),
    ],
)
def test_a_race_claims_a_winner_only_when_luck_cannot_explain_it(a, b, said):
    assert said in timing.Race({"A": a, "B": b}).verdict()


@pytest.mark.parametrize("rounds, needed", [(5, 5), (7, 7), (8, 7), (30, 20), (4, 5)])
def test_the_sign_test_needs_this_many_wins(rounds, needed):
    assert timing.rounds_needed(rounds) == needed


def test_a_race_takes_turns(monkeypatch):
    order = []
    result = timing.race({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, rounds=3)
    assert order == ["a", "b", "a", "b", "b", "a", "a", "b"]  # one untimed warm-up each, then turns
    assert [len(t) for t in result.times.values()] == [3, 3]


@pytest.mark.parametrize(
    "seconds, said",
    [(0.5, "under a second"), (40, "about 40 seconds"), (200, "about 3 minutes"), (9000, "about 2.5 hours")],
)
def test_durations_are_said_as_a_person_would(seconds, said):
    assert timing.about(seconds) == said


def test_an_epoch_is_timed_after_a_warm_up(synthetic, monkeypatch):
    calls = []
    real = timing.fit

    def fit(model, *data, **kwargs):
        calls.append([len(d) for d in data if d is not None])
        return real(model, *data, **kwargs)

    monkeypatch.setattr(timing, "fit", fit)
    assert timing.epoch_seconds(baseline, synthetic.train, synthetic.val, batch_size=64) > 0
    # a few batches untimed, then the epoch timed, scored on the validation images as fit does
    assert calls == [[timing.WARM_UP], [len(synthetic.train), len(synthetic.val)]]


def test_the_reference_file_is_json_a_person_can_read():
    text = references.TABLE.read_text()
    assert json.loads(text)["references"] and text.endswith("\n") and "\n  " in text
