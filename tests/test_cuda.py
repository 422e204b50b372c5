"""The fast path on a GPU: skipped without one, run on a lent GPU machine."""

import pytest
import torch

from ffnn_lab import baseline, evaluate, fit, graphed, prepare_cifar2, wide_mlp
from ffnn_lab import train as train_module
from ffnn_lab.tensors import augment

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here"),
]


def test_data_lives_on_the_gpu_and_training_runs_there():
    data = prepare_cifar2("synthetic", device="cuda")
    assert data.train.x.is_cuda and data.val.y.is_cuda
    torch.manual_seed(0)
    model = baseline().cuda()
    history = fit(model, data.train, data.val, epochs=3, max_shift=2, flip=True, progress=False)
    assert history[-1]["val_accuracy"] > 0.7 and evaluate(model, data.val) > 0.7


def test_augment_stays_on_the_gpu():
    x = torch.randn(8, 3, 32, 32, device="cuda")
    assert augment(x, 4, True, torch.Generator().manual_seed(0)).is_cuda


def test_cuda_matches_cpu_closely():
    cpu = prepare_cifar2("synthetic")
    gpu = prepare_cifar2("synthetic", device="cuda")
    torch.manual_seed(0)
    a = baseline()
    b = baseline().cuda()
    b.load_state_dict(a.state_dict())
    ha = fit(a, cpu.train, cpu.val, epochs=2, progress=False)
    hb = fit(b, gpu.train, gpu.val, epochs=2, progress=False)
    assert abs(ha[-1]["loss"] - hb[-1]["loss"]) < 1e-2


@pytest.mark.parametrize(
    "changes",
    [{"max_shift": 2, "flip": True, "momentum": 0.9}, {"optimizer": "adamw", "lr": 1e-3, "batch_size": 96}],
    ids=["SGD momentum, shifts, flips", "AdamW, a partial batch"],
)
def test_the_cuda_graph_trains_as_the_eager_loop_does(changes):
    gpu = prepare_cifar2("synthetic", device="cuda")
    torch.manual_seed(0)
    a = baseline().cuda()
    b = baseline().cuda()
    b.load_state_dict(a.state_dict())
    he = fit(a, gpu.train, gpu.val, epochs=3, seed=2, progress=False, engine="eager", **changes)
    hg = fit(b, gpu.train, gpu.val, epochs=3, seed=2, progress=False, engine="graph", **changes)
    assert [r["loss"] for r in hg] == pytest.approx([r["loss"] for r in he], rel=1e-4)
    assert [r["train_accuracy"] for r in hg] == pytest.approx([r["train_accuracy"] for r in he], abs=0.01)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(q, p, rtol=1e-3, atol=1e-4)


def test_auto_is_eager_on_cuda_until_the_graph_is_measured_to_pay(monkeypatch):
    built = []

    def spy(*args, **kwargs):
        built.append(graphed.graph_runner(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(train_module, "graph_runner", spy)
    monkeypatch.setattr(graphed, "AUTO_PICKS_GRAPH", False)
    data = prepare_cifar2("synthetic", device="cuda")
    fit(baseline().cuda(), data.train, epochs=1, progress=False)
    assert built == [None]


def test_auto_captures_the_epoch_on_cuda_when_it_picks_the_graph(monkeypatch):
    monkeypatch.setattr(graphed, "AUTO_PICKS_GRAPH", True)
    built = []

    def spy(*args, **kwargs):
        built.append(graphed.graph_runner(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(train_module, "graph_runner", spy)
    replays = []
    real_replay = torch.cuda.CUDAGraph.replay
    monkeypatch.setattr(torch.cuda.CUDAGraph, "replay", lambda g: replays.append(1) or real_replay(g))
    data = prepare_cifar2("synthetic", device="cuda")
    torch.manual_seed(0)
    model = wide_mlp(width=64).cuda()  # dropout and batch norm inside the graph too
    history = fit(model, data.train, data.val, epochs=4, max_shift=2, flip=True, progress=False)
    assert isinstance(built[0], graphed.GraphedEpochs) and built[0].graph is not None
    assert len(replays) == 4  # one replay per epoch
    assert history[-1]["val_accuracy"] > 0.7
    # mixup is the eager loop's, and so is a model whose hooks a replay would skip
    fit(baseline().cuda(), data.train, epochs=1, mixup=0.2, progress=False)
    assert built[-1] is None
    seen = []
    hooked = baseline().cuda()
    hooked[1].register_forward_hook(lambda module, inputs, output: seen.append(len(output)))
    fit(hooked, data.train, epochs=2, progress=False)
    assert built[-1] is None and sum(seen) == 2 * len(data.train)
