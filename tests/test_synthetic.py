import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms
from torchvision.datasets import CIFAR10, VisionDataset

from ffnn_lab import InvalidInput, describe, fit, load_cifar10, models, prepare_cifar2
from ffnn_lab.array_dataset import ArrayCIFAR10
from ffnn_lab.synthetic import synthetic_cifar10


def test_same_interface_as_torchvision():
    ds = load_cifar10("synthetic")
    # torchvision's base class, not CIFAR10: nothing here to download or verify, so no download()
    assert isinstance(ds, ArrayCIFAR10) and isinstance(ds, VisionDataset) and not isinstance(ds, CIFAR10)
    assert not hasattr(ds, "download") and not hasattr(ds, "url")
    assert ds.data.dtype == np.uint8 and ds.data.shape == (3000, 32, 32, 3)
    assert len(ds) == 3000 and len(ds.targets) == 3000
    assert ds.classes[0] == "airplane" and len(ds.classes) == 10
    img, label = ds[5]
    assert isinstance(img, Image.Image) and img.size == (32, 32) and isinstance(label, int)
    assert np.bincount(ds.targets).tolist() == [300] * 10
    assert len(load_cifar10("synthetic", train=False)) == 1000


def test_deterministic_and_splits_differ():
    a, b = synthetic_cifar10(train=True), synthetic_cifar10(train=True)
    assert np.array_equal(a.data, b.data) and a.targets == b.targets
    assert not np.array_equal(a.data[:1000], synthetic_cifar10(train=False).data)


def test_transforms_run_per_item_as_in_torchvision():
    ds = synthetic_cifar10(transform=transforms.ToTensor(), target_transform=lambda t: t + 100)
    x, y = ds[3]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert torch.equal(x, transforms.functional.to_tensor(ds.data[3])) and y == ds.targets[3] + 100


def test_says_it_is_synthetic():
    assert "SYNTHETIC" in describe(load_cifar10("synthetic"))
    assert "SYNTHETIC" in repr(load_cifar10("synthetic"))


def test_learnable_by_the_course_baseline():
    data = prepare_cifar2("synthetic")
    torch.manual_seed(0)
    history = fit(models.baseline(), data.train, data.val, epochs=4, progress=False)
    assert history[-1]["val_accuracy"] > 0.75  # chance is 0.5


def test_array_dataset_refuses_what_is_not_cifar_like():
    pixels = np.zeros((3, 32, 32, 3), np.uint8)
    with pytest.raises(InvalidInput, match=r"float32 shaped \(3, 32, 32, 3\).*uint8"):
        ArrayCIFAR10("x", pixels.astype(np.float32), [0, 1, 2])
    with pytest.raises(InvalidInput, match="3 images but 2 labels"):
        ArrayCIFAR10("x", pixels, [0, 1])
    ds = ArrayCIFAR10("x", pixels, np.array([0, 1, 2]))
    assert type(ds[2][1]) is int and describe(ds) == "train: 3 images, in-memory images at x"
