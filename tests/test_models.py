import pytest
import torch
from torch import nn

from ffnn_lab import baseline, count_parameters, deep, wide_mlp
from ffnn_lab.models import small
from ffnn_lab.recipes import MODELS, RECIPES, build_model


def test_parameter_counts_are_the_lectures():
    assert count_parameters(baseline(head="softmax")) == 1_574_402
    assert count_parameters(baseline()) == 1_574_402  # a head adds no parameters
    assert count_parameters(deep()) == 3_737_474
    assert count_parameters(small()) == 3072 * 128 + 128 + 128 * 2 + 2


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_maps_images_to_two_scores(name):
    model = build_model(name).eval()
    assert model(torch.zeros(5, 3, 32, 32)).shape == (5, 2)
    assert name in RECIPES


def test_heads():
    x = torch.randn(4, 3, 32, 32)
    assert torch.allclose(baseline(head="softmax")(x).sum(dim=1), torch.ones(4))
    assert (baseline(head="logsoftmax")(x) <= 0).all()
    assert isinstance(baseline(head="softmax")[-1], nn.Softmax)
    with pytest.raises(ValueError, match="head"):
        baseline(head="sigmoid")


def test_architecture_follows_the_lecture():
    layers = [type(m) for m in baseline()]
    assert layers == [nn.Flatten, nn.Linear, nn.Tanh, nn.Linear]
    assert [m.out_features for m in deep() if isinstance(m, nn.Linear)] == [1024, 512, 128, 2]
    assert not any(isinstance(m, (nn.Conv2d, nn.MaxPool2d)) for m in wide_mlp().modules())


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="unknown model 'cnn'.*baseline"):
        build_model("cnn")
