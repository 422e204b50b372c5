"""fit by recipe, its checks and its history; evaluate and predict."""

import dataclasses
import math
import time
import warnings

import pytest
import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from ffnn_lab import (
    InvalidInput,
    Recipe,
    TensorData,
    TrainingDiverged,
    TrainingUnstable,
    baseline,
    eager,
    evaluate,
    fit,
    load_cifar2,
    predict,
    prepare_cifar2,
    wide_mlp,
)
from ffnn_lab.recipes import RECIPES

KEYS = {"epoch", "loss", "train_accuracy", "val_accuracy", "seconds"}


@pytest.fixture(scope="module")
def data():
    return prepare_cifar2("synthetic")


def without_time(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def test_fit_returns_a_history_that_improves(data):
    torch.manual_seed(0)
    model = baseline()
    before = evaluate(model, data.val)
    start = time.perf_counter()
    history = fit(model, data.train, data.val, epochs=3, progress=False)
    elapsed = time.perf_counter() - start
    assert [h["epoch"] for h in history] == [1, 2, 3] and set(history[0]) == KEYS
    assert history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["val_accuracy"] == pytest.approx(evaluate(model, data.val))
    assert history[-1]["val_accuracy"] > before
    # each epoch's own time, not a running total: together they fit inside the call
    assert sum(h["seconds"] for h in history) <= elapsed


def test_a_recipe_and_its_fields_as_keywords_train_the_same(data):
    recipe = dataclasses.replace(RECIPES["best"], epochs=2)
    runs = []
    for kwargs in [{"recipe": recipe}, dataclasses.asdict(recipe), {"recipe": RECIPES["best"], "epochs": 2}]:
        torch.manual_seed(0)
        runs.append(without_time(fit(wide_mlp(width=64), data.train, data.val, progress=False, **kwargs)))
    assert runs[0] == runs[1] == runs[2]
    with pytest.raises(InvalidInput, match="epoch: not a recipe field"):
        fit(baseline(), data.train, epoch=3, progress=False)


def test_same_seed_same_history(data):
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        runs.append(fit(baseline(), data.train, data.val, epochs=2, seed=7, progress=False))
    assert without_time(runs[0]) == without_time(runs[1])
    torch.manual_seed(7)
    other = fit(baseline(), data.train, data.val, epochs=2, seed=8, progress=False)
    assert without_time(other) != without_time(runs[0])


def test_nan_loss_stops_at_once_with_advice(data):
    model = baseline()
    with torch.no_grad():
        model[1].weight[0, 0] = float("nan")
    with pytest.raises(TrainingDiverged, match=r"epoch 1.*learning rate .*try 0\.001") as e:
        fit(model, data.train, epochs=5, lr=1e-2, progress=False)
    assert e.value.history == []


class OnCall(nn.Module):
    """The baseline, with hook(call_number, output) deciding what each forward returns."""

    def __init__(self, hook):
        super().__init__()
        self.net, self.calls, self.hook = baseline(), 0, hook

    def forward(self, x):
        self.calls += 1
        return self.hook(self.calls, self.net(x))


def test_divergence_is_caught_in_a_later_epoch(data):
    blowup = OnCall(lambda n, out: out * (float("inf") if n > 15 else 1.0))
    with pytest.raises(TrainingDiverged, match="epoch 2") as e:
        fit(blowup, data.train, epochs=5, progress=False)  # 10 batches per epoch
    assert len(e.value.history) == 1


def test_ctrl_c_returns_the_finished_epochs(data, capsys):
    def interrupt_at_25(n, out):
        if n == 25:
            raise KeyboardInterrupt
        return out

    history = fit(OnCall(interrupt_at_25), data.train, epochs=10, progress=False)
    assert len(history) == 2  # epochs of 10 batches: interrupted during the third
    assert "Interrupted" in capsys.readouterr().out


class Counting(Dataset):
    """A dataset that counts how often its images are loaded."""

    def __init__(self, data):
        self.data, self.loads = data, 0

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        self.loads += 1
        return self.data.x[i], self.data.y[i]


def test_evaluate_on_a_dataloader_loads_each_image_once(data):
    counting = Counting(data.val)
    model = baseline()
    accuracy = evaluate(model, DataLoader(counting, batch_size=64))
    assert counting.loads == len(data.val)
    assert accuracy == pytest.approx(evaluate(model, data.val))


def test_a_dataloader_keeps_its_own_batch_size(data):
    loader = DataLoader(Counting(data.train), batch_size=100, shuffle=True)
    with pytest.raises(InvalidInput, match="batch_size=32 but the DataLoader makes batches of 100"):
        fit(baseline(), loader, epochs=1, batch_size=32, progress=False)
    with pytest.raises(InvalidInput, match="recipe's batch_size=128 but .* pass batch_size=100 to fit"):
        fit(baseline(), loader, recipe=RECIPES["best"], epochs=1, progress=False)
    assert len(fit(baseline(), loader, recipe=RECIPES["best"], epochs=1, batch_size=100, progress=False)) == 1
    assert len(fit(baseline(), loader, epochs=1, batch_size=100, progress=False)) == 1
    assert len(fit(baseline(), loader, recipe=Recipe(epochs=1, batch_size=100), progress=False)) == 1


def test_teaching_path_dataloader_gives_the_same_kind_of_history(data):
    ds = load_cifar2(
        "synthetic",
        transform=transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize(data.mean.tolist(), data.std.tolist())]
        ),
    )
    loader = DataLoader(ds, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))
    val_loader = DataLoader(
        load_cifar2("synthetic", False, transform=loader.dataset.dataset.transform), batch_size=100
    )
    torch.manual_seed(0)
    model = baseline()
    history = fit(model, loader, val_loader, epochs=2, progress=False)
    assert len(history) == 2 and history[-1]["val_accuracy"] > 0.6
    assert evaluate(model, val_loader) == pytest.approx(evaluate(model, data.val), abs=1e-6)
    shuffled = DataLoader(val_loader.dataset, batch_size=100, shuffle=True)
    assert evaluate(model, shuffled) == pytest.approx(evaluate(model, val_loader), abs=1e-6)


def test_evaluate_and_predict_on_a_known_model():
    data = TensorData(
        torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 1, 1, 1])
    )
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))
    assert predict(model, data).tolist() == [0, 1, 0, 1]
    assert evaluate(model, data) == 0.75


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(epochs=0), "epochs=0: use a finite number greater than 0"),
        (dict(lr=float("inf")), "lr=inf: use a finite number greater than 0"),
        (dict(epochs=2.5), "epochs=2.5: use a whole number"),
        (dict(optimizer="adam2"), "unknown optimizer='adam2': use one of sgd, adamw"),
        (dict(schedule="cosine"), "unknown schedule='cosine': use one of constant, onecycle"),
        (dict(optimizer="adamw", momentum=0.9), "momentum=0.9 applies to optimizer='sgd' only"),
    ],
)
def test_bad_settings_are_explained(data, bad, message):
    with pytest.raises(InvalidInput, match=message):
        fit(baseline(), data.train, progress=False, **bad)
    with pytest.raises(InvalidInput, match=message):  # the same rule, wherever a recipe is made
        Recipe(**bad)


@pytest.fixture
def steps():
    """Every optimiser step taken while the test runs: (optimiser type, its settings at that step)."""
    taken = []
    handle = register_optimizer_step_pre_hook(
        lambda opt, args, kwargs: taken.append((type(opt), dict(opt.param_groups[0], params=None)))
    )
    yield taken
    handle.remove()


@pytest.mark.parametrize(
    "recipe, optimiser",
    [
        (Recipe(epochs=2, lr=0.05, momentum=0.9, weight_decay=1e-3), torch.optim.SGD),
        (
            Recipe(
                epochs=2,
                lr=1e-3,
                optimizer="adamw",
                weight_decay=0.05,
                schedule="onecycle",
                max_shift=2,
                flip=True,
            ),
            torch.optim.AdamW,
        ),
    ],
    ids=["SGD with momentum", "AdamW, one-cycle, shifts and flips"],
)
def test_the_optimiser_schedule_and_augmentation_asked_for_are_the_ones_used(
    data, steps, monkeypatch, recipe, optimiser
):
    made = []  # (max_shift, flip) asked of each augmentation, and the batch it made
    real_augment = eager.augment
    monkeypatch.setattr(
        eager, "augment", lambda x, *a: made.append((a[:2], real_augment(x, *a))) or made[-1][1]
    )
    model, inputs = baseline(), []
    model.register_forward_pre_hook(lambda module, args: inputs.append(args[0]))
    fit(model, data.train, recipe=recipe, progress=False)

    assert len(steps) == recipe.epochs * math.ceil(len(data.train) / recipe.batch_size)
    assert {kind for kind, _ in steps} == {optimiser}
    settings = [group for _, group in steps]
    assert {g["weight_decay"] for g in settings} == {recipe.weight_decay}
    assert {g.get("momentum", 0.0) for g in settings} == {recipe.momentum}
    lrs = [g["lr"] for g in settings]
    if recipe.schedule == "constant":
        assert set(lrs) == {recipe.lr}
    else:  # one cycle: warm up from lr/25 to lr, then anneal to far below it
        assert lrs[0] == pytest.approx(recipe.lr / 25) and max(lrs) == pytest.approx(recipe.lr)
        assert 0 < lrs.index(max(lrs)) < len(lrs) - 1 and lrs[-1] < recipe.lr / 1000
    if recipe.max_shift or recipe.flip:  # every batch augmented as asked, and that is what the model saw
        assert [asked for asked, _ in made] == [(recipe.max_shift, recipe.flip)] * len(steps)
        assert all(torch.equal(seen, batch) for seen, (_, batch) in zip(inputs, made, strict=True))
    else:
        assert made == []


def test_mixup_is_seeded_and_changes_training(data):
    def run(mixup):
        torch.manual_seed(0)
        return without_time(
            fit(
                baseline(),
                data.train,
                data.val,
                epochs=2,
                lr=1e-3,
                optimizer="adamw",
                mixup=mixup,
                progress=False,
            )
        )

    assert run(0.2) == run(0.2)
    plain, mixed = run(0.0), run(0.2)
    assert plain != mixed
    # blended images are harder to fit: mixup's training loss stays above the plain run's
    assert mixed[-1]["loss"] > plain[-1]["loss"] and mixed[-1]["val_accuracy"] > 0.6


def test_negative_augmentation_settings_are_explained(data):
    for bad in (dict(max_shift=-1), dict(mixup=-0.2), dict(mixup=float("nan")), dict(mixup=float("inf"))):
        with pytest.raises(ValueError, match="use 0 \\(off\\) or a finite positive number"):
            fit(baseline(), data.train, epochs=1, progress=False, **bad)


def test_an_exploding_loss_warns_with_the_same_advice(data):
    with pytest.warns(
        TrainingUnstable,
        match=r"grew from 0\.\d+ \(first batch\) to .*e\+\d+ in epoch 1.*"
        r"learning rate \(1e\+09\) is probably too high: try 1e\+08",
    ):
        history = fit(baseline(), data.train, epochs=2, lr=1e9, progress=False)
    assert len(history) == 2  # finite: training runs to the end, unlike a NaN
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingUnstable)
        fit(baseline(), data.train, epochs=2, lr=1e-2, progress=False)  # a healthy run is quiet


def test_fit_refuses_a_loss_it_would_report_wrongly():
    # a summed loss would be counted batch_size times over and trip the unstable-loss warning
    data = prepare_cifar2("synthetic")
    with pytest.raises(InvalidInput, match="reduction='sum'.*fit.*reduction='mean'"):
        fit(baseline(), data.train, epochs=1, loss_fn=nn.CrossEntropyLoss(reduction="sum"), progress=False)
