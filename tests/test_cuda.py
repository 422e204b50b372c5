"""The fast path on a GPU: skipped without one, run on a lent GPU machine."""

import pytest
import torch

from ffnn_lab import augment, baseline, evaluate, fit, prepare_cifar2

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")]


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
