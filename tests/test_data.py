"""CIFAR-2 by targets, per-channel statistics, the uint8 view of any dataset, and CIFAR-2 as tensors."""

import numpy as np
import pytest
import torch
from torch.utils.data import Subset
from torchvision import transforms

from ffnn_lab import (
    channel_stats,
    cifar2_indices,
    describe,
    load_cifar2,
    load_cifar10,
    prepare_cifar2,
    to_arrays,
)
from ffnn_lab.data import preload
from ffnn_lab.labels import remap_label


def test_cifar2_indices_come_from_targets():
    assert cifar2_indices([0, 1, 2, 3, 2, 9, 0]) == [0, 2, 4, 6]
    assert cifar2_indices([]) == []


def test_load_cifar2_keeps_only_remapped_birds_and_airplanes():
    full = load_cifar10("synthetic", target_transform=remap_label)
    cifar2 = load_cifar2("synthetic")
    assert isinstance(cifar2, Subset) and len(cifar2) == 600
    labels = [label for _, label in cifar2]
    assert sorted(set(labels)) == [0, 1] and labels.count(1) == 300
    # the same images as the lecture's slow filter over every decoded sample
    slow = [i for i, (_, label) in enumerate(full) if label in {0, 1}]
    assert cifar2.indices == slow
    offset = load_cifar2("synthetic", target_transform=lambda y: y + 10)
    assert {label for _, label in offset} == {10, 11}


def test_channel_stats_match_totensor_then_stack():
    ds = load_cifar10("synthetic", transform=transforms.ToTensor())
    stacked = torch.stack([img for img, _ in ds], dim=3)  # the lecture's way
    mean, std = channel_stats(ds.data)
    assert torch.allclose(mean, stacked.view(3, -1).mean(dim=1), atol=1e-4)
    assert torch.allclose(std, stacked.view(3, -1).std(dim=1), atol=1e-4)
    m2, s2 = channel_stats(ds)  # a dataset works too
    assert torch.equal(m2, mean) and torch.equal(s2, std)


def test_channel_stats_reject_the_wrong_input():
    with pytest.raises(ValueError, match="uint8"):
        channel_stats(np.zeros((2, 32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="uint8"):
        channel_stats(np.zeros((2, 3, 32, 32), np.uint8))


def test_arrays_follow_nested_subsets_and_target_transform():
    full = load_cifar10("synthetic", target_transform=remap_label)
    inner = Subset(full, [5, 6, 7, 8])
    outer = Subset(inner, [3, 1])
    data, labels = to_arrays(outer)
    assert np.array_equal(data, full.data[[8, 6]])
    assert labels.tolist() == [remap_label(full.targets[8]), remap_label(full.targets[6])]
    with pytest.raises(TypeError, match=".data/.targets"):
        to_arrays(torch.utils.data.TensorDataset(torch.zeros(3)))


def test_preload_equals_totensor_then_normalize():
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    slow = load_cifar2(
        "synthetic", transform=transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])
    )
    fast = preload(load_cifar2("synthetic"), torch.tensor(mean), torch.tensor(std))
    assert fast.x.shape == (600, 3, 32, 32) and fast.x.dtype == torch.float32
    for i in (0, 17, 599):
        img, label = slow[i]
        assert torch.allclose(fast.x[i], img, atol=1e-5) and fast.y[i].item() == label


def test_prepare_cifar2_normalises_both_splits_with_the_training_statistics():
    data = prepare_cifar2("synthetic")
    mean, std = channel_stats(load_cifar10("synthetic").data)  # all ten classes of the training split
    assert torch.equal(data.mean, mean) and torch.equal(data.std, std)
    for split, train in ((data.train, True), (data.val, False)):
        expected = preload(load_cifar2("synthetic", train), mean, std)
        assert torch.equal(split.x, expected.x) and torch.equal(split.y, expected.y)
    assert (
        data.summary == f"{describe(load_cifar2('synthetic'))}\n{describe(load_cifar2('synthetic', False))}"
    )
