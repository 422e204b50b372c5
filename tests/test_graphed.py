"""The graph engine on the CPU: its static epoch gives what fit's eager loop gives, and it refuses
(or, under 'auto', leaves to the eager loop) what it cannot capture."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from ffnn_lab import (
    InvalidInput,
    Recipe,
    TensorData,
    TrainingDiverged,
    TrainingUnstable,
    fit,
    graphed,
    prepare_cifar2,
    tensors,
    wide_mlp,
)
from ffnn_lab.models import tanh_mlp


@pytest.fixture(scope="module")
def data():
    d = prepare_cifar2("synthetic")
    # 210 rows: batches of 64 leave a partial batch of 18, the case a static shape must get right
    return TensorData(d.train.x[:210], d.train.y[:210]), TensorData(d.val.x[:100], d.val.y[:100])


def twins(make):
    torch.manual_seed(0)
    a, b = make(), make()
    b.load_state_dict(a.state_dict())
    return a, b


RECIPES = {
    "plain SGD": {},
    "shifts and flips": {"max_shift": 3, "flip": True},
    "momentum and weight decay": {"momentum": 0.9, "weight_decay": 1e-3},
    "AdamW with shifts": {"optimizer": "adamw", "lr": 1e-3, "max_shift": 2},
    "one partial batch": {"batch_size": 256, "flip": True},
    "batches that divide the data": {"batch_size": 35},
}
MODELS = {"tanh": lambda: tanh_mlp(32, 2), "batchnorm and dropout": lambda: wide_mlp(width=32, depth=2)}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("changes", RECIPES.values(), ids=RECIPES)
def test_the_static_epoch_trains_as_the_eager_loop_does(data, model, changes):
    train, val = data
    eager, static = twins(MODELS[model])
    he = fit(eager, train, val, epochs=3, seed=5, progress=False, engine="eager", **changes)
    hg = fit(static, train, val, epochs=3, seed=5, progress=False, engine="graph", **changes)
    assert len(hg) == len(he) == 3
    for g, e in zip(hg, he, strict=True):
        del g["seconds"], e["seconds"]
        assert g == pytest.approx(e, rel=1e-6, abs=1e-7)
    for (name, a), b in zip(eager.state_dict().items(), static.state_dict().values(), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-7, msg=name)
    # and training changed the weights: equal because both learnt, not because neither did
    assert he[-1]["loss"] < he[0]["loss"]


def test_the_graph_draws_what_the_eager_loop_draws(data, monkeypatch):
    """An epoch's buffer holds the eager loop's own random draws, taken from the same seed: its
    permutation of the rows, then each batch's shifts and mirrors, in the order it takes them."""
    train, _ = data
    perms, augmentations = [], []
    real_randperm, real_draws = torch.randperm, tensors.augmentation_draws
    monkeypatch.setattr(torch, "randperm", lambda *a, **k: perms.append(real_randperm(*a, **k)) or perms[-1])
    monkeypatch.setattr(
        tensors, "augmentation_draws", lambda *a: augmentations.append(real_draws(*a)) or augmentations[-1]
    )
    recipe = Recipe(epochs=1, batch_size=64, max_shift=2, flip=True)
    fit(tanh_mlp(8, 2), train, recipe=recipe, seed=1, progress=False, engine="eager")
    assert len(perms) == 1 and len(augmentations) == 4  # 210 rows: batches of 64, 64, 64 and 18
    eager = torch.cat([perms[0][None], torch.cat(augmentations, dim=1)])

    model = tanh_mlp(8, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(1)  # as fit seeds it
    runner = graphed.GraphedEpochs(model, train, recipe, torch.nn.CrossEntropyLoss(), opt, gen)
    assert torch.equal(runner.next_draws, eager)
    assert eager[1:3].max() == 4 and eager[3].sum() > 0  # shifts and mirrors were drawn, not left at 0


def test_auto_on_the_cpu_is_the_eager_loop(data, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the graph engine was built on the CPU under engine='auto'")

    monkeypatch.setattr(graphed, "GraphedEpochs", refuse)
    train, _ = data
    a, b = twins(lambda: tanh_mlp(16, 2))
    ha = fit(a, train, epochs=2, progress=False)
    hb = fit(b, train, epochs=2, progress=False, engine="eager")
    assert [r["loss"] for r in ha] == [r["loss"] for r in hb]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mixup": 0.2}, r"engine='graph' cannot train this: mixup=0\.2 .*use engine='eager', or mixup=0"),
        (
            {"schedule": "onecycle"},
            r"schedule='onecycle' changes the learning rate .*use engine='eager', or schedule='constant'",
        ),
    ],
)
def test_graph_refuses_what_it_cannot_capture(data, changes, message):
    train, _ = data
    with pytest.raises(InvalidInput, match=message):
        fit(tanh_mlp(8, 2), train, epochs=1, progress=False, engine="graph", **changes)
    # auto leaves the same recipe to the eager loop, which trains it
    assert len(fit(tanh_mlp(8, 2), train, epochs=1, progress=False, **changes)) == 1


def test_graph_refuses_a_dataloader(data):
    train, _ = data
    loader = DataLoader(TensorDataset(train.x, train.y), batch_size=64)
    with pytest.raises(InvalidInput, match=r"training data is a DataLoader.*prepare_cifar2\(\)"):
        fit(tanh_mlp(8, 2), loader, epochs=1, progress=False, engine="graph")


def test_an_unknown_engine_is_refused(data):
    with pytest.raises(InvalidInput, match=r"engine='cuda': use one of 'auto', 'eager', 'graph'"):
        fit(tanh_mlp(8, 2), data[0], epochs=1, progress=False, engine="cuda")


def test_the_graph_engine_stops_on_nan_and_warns_on_explosion(data):
    train, _ = data
    model = tanh_mlp(8, 2)
    with torch.no_grad():
        model[1].weight[0, 0] = float("nan")
    with pytest.raises(TrainingDiverged, match=r"epoch 1.*try 0\.001") as e:
        fit(model, train, epochs=3, progress=False, engine="graph")
    assert e.value.history == []
    # the first batch's loss, kept on the device, is the yardstick of the unstable-loss warning
    with pytest.warns(TrainingUnstable, match=r"grew from 0\.\d+ \(first batch\)"):
        fit(tanh_mlp(64, 2), train, epochs=2, lr=1e9, progress=False, engine="graph")


@pytest.mark.parametrize(
    "changes", [{"momentum": 0.9}, {"optimizer": "adamw", "lr": 1e-3}], ids=["SGD", "AdamW"]
)
def test_warming_up_before_capture_leaves_no_trace(data, monkeypatch, changes):
    """On CUDA the graph is captured after real warm-up steps; restoring the weights and zeroing the
    optimiser's state must give the run a fresh start (checked here with the CPU's uncaptured epoch)."""

    class WarmedUp(graphed.GraphedEpochs):
        def __init__(self, *args):
            super().__init__(*args)
            saved = {k: v.clone() for k, v in self.model.state_dict().items()}
            self._warm_up()
            assert self.opt.state, "the warm-up took no optimiser step"
            self._restore(saved)

    monkeypatch.setattr(graphed, "GraphedEpochs", WarmedUp)
    train, _ = data
    eager, static = twins(lambda: wide_mlp(width=32, depth=2))
    he = fit(eager, train, epochs=2, seed=1, progress=False, engine="eager", **changes)
    hg = fit(static, train, epochs=2, seed=1, progress=False, engine="graph", **changes)
    assert [r["loss"] for r in hg] == pytest.approx([r["loss"] for r in he], rel=1e-6)
    for a, b in zip(eager.state_dict().values(), static.state_dict().values(), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-7)
