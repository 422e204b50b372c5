import numpy as np
import torch
from PIL import Image
from torchvision.datasets import CIFAR10

from ffnn_lab import describe, fit, load_cifar10, models, prepare_cifar2
from ffnn_lab.synthetic import SyntheticCIFAR10


def test_same_interface_as_torchvision():
    ds = load_cifar10("synthetic")
    assert isinstance(ds, CIFAR10)
    assert ds.data.dtype == np.uint8 and ds.data.shape == (3000, 32, 32, 3)
    assert len(ds) == 3000 and len(ds.targets) == 3000
    assert ds.classes[0] == "airplane" and len(ds.classes) == 10
    img, label = ds[5]
    assert isinstance(img, Image.Image) and img.size == (32, 32) and isinstance(label, int)
    assert np.bincount(ds.targets).tolist() == [300] * 10
    assert len(load_cifar10("synthetic", train=False)) == 1000


def test_deterministic_and_splits_differ():
    a, b = SyntheticCIFAR10(train=True), SyntheticCIFAR10(train=True)
    assert np.array_equal(a.data, b.data) and a.targets == b.targets
    assert not np.array_equal(a.data[:1000], SyntheticCIFAR10(train=False).data)


def test_says_it_is_synthetic():
    assert "SYNTHETIC" in describe(load_cifar10("synthetic"))
    assert "SYNTHETIC" in repr(load_cifar10("synthetic"))


def test_learnable_by_the_course_baseline():
    data = prepare_cifar2("synthetic")
    torch.manual_seed(0)
    history = fit(models.baseline(), data.train, data.val, epochs=4, progress=False)
    assert history[-1]["val_accuracy"] > 0.75  # chance is 0.5
