"""The course's networks and the registry the command line trains them from."""

import pytest
import torch
from torch import nn

from ffnn_lab import Recipe, baseline, count_parameters, deep, wide_mlp
from ffnn_lab.models import small
from ffnn_lab.recipes import MODELS, RECIPES, build_model


def test_parameter_counts_are_the_lectures():
    assert count_parameters(baseline(head="softmax")) == 1_574_402
    assert count_parameters(baseline()) == 1_574_402  # a head adds no parameters
    assert count_parameters(deep()) == 3_737_474
    assert count_parameters(small()) == 3072 * 128 + 128 + 128 * 2 + 2
    frozen = baseline()
    frozen[1].requires_grad_(False)
    assert count_parameters(frozen) == 512 * 2 + 2  # trainable ones only


@pytest.mark.parametrize("name", list(MODELS))
def test_every_named_model_builds_fresh_and_brings_its_recipe(name):
    a, b = build_model(name), build_model(name)
    assert a(torch.zeros(5, 3, 32, 32)).shape == (5, 2)
    assert a is not b and not all(
        torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True)
    )
    assert isinstance(MODELS[name].recipe, Recipe) and RECIPES[name] is MODELS[name].recipe


def test_the_registry_builds_the_lectures_networks():
    assert [type(m) for m in build_model("baseline").modules()] == [type(m) for m in baseline().modules()]
    for name, builder in (("small", small), ("deep", deep), ("best", wide_mlp)):
        assert count_parameters(build_model(name)) == count_parameters(builder())
    assert RECIPES["baseline"] == Recipe()  # the lecture's network, trained as in the lecture


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
    with pytest.raises(ValueError, match="unknown model 'cnn': choose one of baseline, small, deep, best"):
        build_model("cnn")
