"""The exercise's rules by structure: what a fully connected network may do to an image, and the
honest models in other forms that must still be graded. Each attack is built the way a student would."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import parametrizations

from ffnn_lab import baseline
from ffnn_lab.grading import exercise, graph, phase2, rules

X = torch.randn(graph.BATCH, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def problems_of(model: nn.Module) -> list[str]:
    return rules.rule_problems(graph.load_graph(graph.export_bytes(model)))


def conv_as_dense(conv: nn.Conv2d, size: int) -> nn.Linear:
    """A convolution written out as the dense matrix it is (its Toeplitz matrix): a real nn.Linear."""
    eye = torch.eye(conv.in_channels * size * size).view(-1, conv.in_channels, size, size)
    with torch.no_grad():
        columns = conv(eye).flatten(1) - conv.bias.repeat_interleave(conv(eye).shape[-1] ** 2)
        dense = nn.Linear(eye.shape[0], columns.shape[1])
        dense.weight.copy_(columns.t())
        dense.bias.copy_(conv.bias.repeat_interleave(conv(eye).shape[-1] ** 2))
    return dense


class DisguisedCNN(nn.Module):
    """A convolution as a dense layer, then max-pooling over pairs of neighbouring pixels rebuilt from
    view, matmul and abs: max(a, b) = (a + b) / 2 + |a - b| / 2."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = conv_as_dense(nn.Conv2d(3, 4, 3, padding=1), 32)
        self.register_buffer("mean", torch.tensor([0.5, 0.5]))
        self.register_buffer("half_gap", torch.tensor([0.5, -0.5]))
        self.head = nn.Linear(4 * 32 * 16, 2)

    def forward(self, x):
        pairs = torch.relu(self.conv(x.flatten(1))).view(-1, 4, 32, 16, 2)
        pooled = pairs @ self.mean + (pairs @ self.half_gap).abs()
        return self.head(pooled.reshape(-1, 4 * 32 * 16))


def test_the_dense_convolution_is_exactly_a_convolution():
    # the attack is real: the Linear layer computes what the convolution computes
    conv = nn.Conv2d(3, 4, 3, padding=1)
    dense = conv_as_dense(conv, 32)
    with torch.no_grad():
        torch.testing.assert_close(dense(X.flatten(1)), conv(X).flatten(1), atol=1e-4, rtol=1e-4)


def test_a_cnn_disguised_as_linear_layers_is_refused_for_rearranging_activations(capsys):
    model = DisguisedCNN()
    assert model(X).shape == (graph.BATCH, 2)
    problems = problems_of(model)
    assert problems and all("on the activations after the flatten" in p for p in problems)
    assert any("aten.view.default" in p and "reshapes them" in p for p in problems)
    # the student's own check says the same, in the same words
    assert exercise.contract(DisguisedCNN()) is False
    out = capsys.readouterr().out
    assert all(p in out for p in problems)


def test_a_linear_layer_is_fully_connected_whatever_its_weights():
    # the dense convolution alone, then plain layers: allowed (no image structure is rebuilt)
    model = nn.Sequential(
        nn.Flatten(), conv_as_dense(nn.Conv2d(3, 2, 3, padding=1), 32), nn.ReLU(), nn.Linear(2048, 2)
    )
    assert problems_of(model) == []


class ActivationProduct(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.out = nn.Linear(graph.BATCH, 2)

    def forward(self, x):
        h = x.flatten(1)
        return self.out(h @ h.t())  # each image against every other: scores depend on the batch


class PositionBias(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.out = nn.Linear(3072, 2)
        self.by_position = nn.Parameter(torch.randn(graph.BATCH, 2))

    def forward(self, x):
        return self.out(x.flatten(1)) + self.by_position


class BatchSoftmax(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.out = nn.Linear(3072, 2)

    def forward(self, x):
        return torch.softmax(self.out(x.flatten(1)), dim=0)


@pytest.mark.parametrize(
    ("model", "words"),
    [
        (ActivationProduct(), "multiplies activations with each other"),
        (PositionBias(), "each image's scores must depend on that image alone"),
        (BatchSoftmax(), "works over dim 0"),
        (nn.Sequential(nn.Unflatten(1, (3, 32, 32)), nn.Flatten(), nn.Linear(3072, 2)), None),
    ],
    ids=["product of activations", "a bias per batch position", "softmax over the batch", "no-op reshape"],
)
def test_what_mixes_images_or_rearranges_activations_is_named(model, words):
    if words is None:
        assert problems_of(nn.Sequential(nn.Flatten(), nn.Linear(3072, 2))) == []
        return
    problems = problems_of(model)
    assert any(words in p for p in problems), problems


def test_a_weight_changed_in_place_is_refused():
    spec, weights = graph.to_graph(nn.Sequential(nn.Flatten(), nn.Linear(3072, 2)))
    weight = next(iter(weights))
    spec["nodes"].insert(
        0, {"name": "grow", "op": "add_.Scalar", "args": [{"ref": weight}, 1.0], "kwargs": {}}
    )
    import io
    import json

    buf = io.BytesIO()
    np.savez(buf, __graph__=np.array(json.dumps(spec)), **{f"w_{k}": v for k, v in weights.items()})
    problems = rules.rule_problems(graph.load_graph(buf.getvalue()))
    assert any("changes a weight in place" in p for p in problems)


class CastsToDouble(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(3072, 2).double()

    def forward(self, x):
        return self.layer(x.flatten(1).double())


class Gated(nn.Module):
    """A residual, gated fully connected block: elementwise products of activations are allowed."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.out = nn.Linear(3072, 32), nn.Linear(3072, 32), nn.Linear(32, 2)
        self.norm = nn.LayerNorm(32)

    def forward(self, x):
        h = x.flatten(1)
        return self.out(self.norm(self.a(h) * torch.sigmoid(self.b(h)) + self.a(h)))


class Normalises(nn.Module):
    """Per-channel normalisation inside the model, before the flatten."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.1, 0.2, 0.3]).view(3, 1, 1))
        self.out = nn.Linear(3072, 2)

    def forward(self, x):
        return self.out(((x - self.mean) / 2).flatten(1))


@pytest.mark.parametrize(
    "build",
    [
        lambda: baseline().double(),
        CastsToDouble,
        lambda: nn.Sequential(
            nn.Flatten(),
            parametrizations.weight_norm(nn.Linear(3072, 64)),
            nn.BatchNorm1d(64),
            nn.GELU(),
            nn.Dropout(0.2),
            parametrizations.spectral_norm(nn.Linear(64, 2)),
        ),
        Gated,
        Normalises,
        lambda: nn.Sequential(
            nn.Flatten(), nn.Linear(3072, 16), nn.ReLU(), nn.Linear(16, 2), nn.LogSoftmax(dim=1)
        ),
    ],
    ids=[
        "float64",
        "casts to float64",
        "weight_norm and spectral_norm",
        "gated residual",
        "normalises",
        "log-softmax",
    ],
)
def test_honest_models_in_other_forms_are_graded_and_scored_exactly(build):
    torch.manual_seed(0)
    model = build().eval()
    g = graph.load_graph(graph.export_bytes(model))
    assert rules.rule_problems(g) == []
    with torch.no_grad():
        expected = model(X.to(g.input_dtype)).float()
    torch.testing.assert_close(graph.run_graph(g, X), expected, atol=1e-5, rtol=1e-5)


def test_half_precision_is_scored_in_float32():
    torch.manual_seed(0)
    model = baseline().bfloat16().eval()
    g = graph.load_graph(graph.export_bytes(model))
    assert g.input_dtype == torch.float32 and rules.rule_problems(g) == []
    with torch.no_grad():
        expected = model.float()(X)
    torch.testing.assert_close(graph.run_graph(g, X), expected, atol=1e-5, rtol=1e-5)


class Branches(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.out = nn.Linear(3072, 2)

    def forward(self, x):
        y = self.out(x.flatten(1))
        if y.sum() > 0:  # a choice that depends on the values
            return y
        return -y


def test_data_dependent_control_flow_gets_its_own_hint(capsys):
    with pytest.raises(graph.ExportError, match=r"depends on the values in a tensor.*torch\.where"):
        graph.to_graph(Branches())
    assert "def forward" not in capsys.readouterr().err  # torch's own dump of the graph stays out
    with pytest.raises(graph.ExportError, match=r"start it with nn\.Flatten\(\)"):
        graph.to_graph(nn.Linear(3072, 2))


def test_scores_that_depend_on_the_rest_of_the_batch_are_caught_when_scoring(monkeypatch):
    model = nn.Sequential(nn.Flatten(), nn.Linear(3072, 2))
    data = graph.export_bytes(model)
    real = graph.run_graph

    def batch_dependent(g, x):  # what no structure check could see: scores shifted by the batch's mean
        return real(g, x) + x.mean()

    monkeypatch.setattr(graph, "run_graph", batch_dependent)
    images = torch.randn(250, 3, 32, 32).numpy()
    result = phase2.score(data, images)
    assert "problems" in result and "depend on that image alone" in result["problems"][0]
    monkeypatch.setattr(graph, "run_graph", real)
    result = phase2.score(data, images)
    assert len(result["predictions"]) == 250 and result["device"] == "cpu"


class PositionBiasInAddmm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(3072, 2) / 60)
        self.by_position = nn.Parameter(torch.randn(graph.BATCH, 2))

    def forward(self, x):
        return torch.addmm(self.by_position, x.flatten(1), self.weight)


def test_a_bias_per_batch_position_is_refused_by_the_rules_and_the_students_check(capsys):
    problems = problems_of(PositionBiasInAddmm())
    assert any("adds a bias shaped (100, 2)" in p for p in problems), problems
    assert exercise.contract(PositionBiasInAddmm()) is False
    assert "depend on that image alone" in capsys.readouterr().out


class Standardises(nn.Module):
    """Per-image standardisation, F.normalize, two branches side by side, GLU, an in-place dropout."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(3072, 16), nn.Linear(3072, 16)
        self.glu, self.out, self.drop = nn.GLU(), nn.Linear(16, 2), nn.Dropout(0.1, inplace=True)

    def forward(self, x):
        h = x.flatten(1)
        h = (h - h.mean(dim=1, keepdim=True)) / (h.std(dim=1, keepdim=True) + 1e-5)
        both = torch.cat([nn.functional.normalize(self.a(h), dim=1), self.b(h)], dim=1)
        return self.out(self.drop(self.glu(both)).unsqueeze(1).squeeze(1))


def test_per_image_reductions_joined_branches_glu_and_inplace_dropout_are_allowed():
    torch.manual_seed(0)
    model = Standardises().eval()
    g = graph.load_graph(graph.export_bytes(model))
    assert rules.rule_problems(g) == []
    with torch.no_grad():
        torch.testing.assert_close(graph.run_graph(g, X), model(X), atol=1e-5, rtol=1e-5)


def test_batch_statistics_are_named_as_such():
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(3072, 8), nn.BatchNorm1d(8, track_running_stats=False), nn.Linear(8, 2)
    )
    problems = problems_of(model.eval())
    assert problems == [
        "aten.batch_norm.default uses the batch's own statistics (BatchNorm1d with "
        "track_running_stats=False: keep the default)"
    ]
