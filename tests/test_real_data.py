"""On the real image-folder copy of CIFAR-10, when it is there."""

import pytest
import torch

from ffnn_lab import baseline, channel_stats, fit, load_cifar10, prepare_cifar2

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def test_baseline_reaches_the_lectures_accuracy(real_data):
    data = prepare_cifar2(str(real_data))
    assert len(data.train) == 8000 and len(data.val) == 2000
    assert data.val.y.bincount().tolist() == [1000, 1000]
    torch.manual_seed(0)
    history = fit(baseline(), data.train, data.val, epochs=20, progress=False)
    assert history[-1]["val_accuracy"] >= 0.75


def test_statistics_match_the_copys_published_values(real_data):
    full = load_cifar10(str(real_data), holdout=0)
    mean, std = channel_stats(full.data)
    # the copy's README: means 0.4913/0.4821/0.4465, standard deviations about 0.245
    assert torch.allclose(mean, torch.tensor([0.4913, 0.4821, 0.4465]), atol=2e-4)
    assert torch.allclose(std, torch.tensor([0.245, 0.245, 0.26]), atol=0.01)
