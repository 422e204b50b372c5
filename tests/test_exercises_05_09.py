"""Checks of notebooks 05-07 and 09: right for a right answer, not yet (and why) for typical wrong ones."""

import math

import pytest
import torch
import torch.nn.functional as F

import ffnn_lab
from ffnn_lab.exercises import nb05, nb06, nb07, nb09


def verdict(capsys, check, *args):
    """The check's return value and its printed line."""
    result = check(*args)
    return result, capsys.readouterr().out


def assert_right(capsys, check, *args):
    ok, out = verdict(capsys, check, *args)
    assert ok is True and out.startswith("✅ Right"), out


def assert_not_yet(capsys, check, *args, why: str):
    ok, out = verdict(capsys, check, *args)
    assert ok is False and out.startswith("❌ Not yet") and why in out, out


# ---- 05


def stable_ce(logits, labels):
    logp = logits - logits.max(dim=1, keepdim=True).values
    logp = logp - logp.exp().sum(dim=1, keepdim=True).log()
    return -logp[torch.arange(len(labels)), labels].mean()


@pytest.mark.parametrize(
    "wrong, why",
    [
        (lambda z, y: torch.log(torch.softmax(z, 1))[torch.arange(len(y)), y].neg().mean(), "inf or nan"),
        (lambda z, y: -stable_ce(z, y), "sign is flipped"),
        (lambda z, y: stable_ce(z, y) * len(y), "summed over the batch"),
        (lambda z, y: F.cross_entropy(z, y, reduction="none"), "the loss is one number"),
        (lambda z, y: stable_ce(z.softmax(1), y), "wrong value"),
        (lambda z, y: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_cross_entropy(capsys, wrong, why):
    assert_right(capsys, nb05.check_cross_entropy, stable_ce)
    assert_not_yet(capsys, nb05.check_cross_entropy, wrong, why=why)


@pytest.mark.parametrize(
    "wrong, why",
    [
        (lambda p, q: (p * q.log()).sum(dim=1), "sign is flipped"),
        (lambda p, q: -(q * p.log()).sum(dim=1), "swapped"),
        (lambda p, q: -(p * q.log()).sum(), "shape (4,)"),
        (lambda p, q: -q.log().sum(dim=1), "soft p"),
    ],
)
def test_entropy(capsys, wrong, why):
    assert_right(capsys, nb05.check_entropy, lambda p, q: -(p * q.log()).sum(dim=1))
    assert_not_yet(capsys, nb05.check_entropy, wrong, why=why)


def formula(z, y):
    return (torch.softmax(z, dim=1) - F.one_hot(y, z.shape[1])) / len(y)


@pytest.mark.parametrize(
    "wrong, why",
    [
        (lambda z, y: -formula(z, y), "sign is flipped"),
        (lambda z, y: formula(z, y) * len(y), "times too large"),
        (lambda z, y: torch.softmax(z, dim=1) / len(y), "softmax(z) alone"),
        (lambda z, y: formula(z, y)[:, 0], "shape"),
        (lambda z, y: (torch.softmax(z, dim=0) - F.one_hot(y, z.shape[1])) / len(y), "does not match"),
    ],
)
def test_logit_gradient(capsys, wrong, why):
    assert_right(capsys, nb05.check_logit_gradient, formula)
    assert_not_yet(capsys, nb05.check_logit_gradient, wrong, why=why)


def test_unanswered_gap_and_unfinished_function(capsys):
    for check in (
        nb05.check_cross_entropy,
        nb06.check_updates_per_epoch,
        nb07.check_parameter_count,
        nb09.check_mixup,
        nb09.check_which_figure,
    ):
        ok, out = verdict(capsys, check, ...)
        assert ok is False and out.startswith("✏️ Not answered yet"), out

    def unfinished(*args): ...  # what the student release leaves in a function body

    for check in (
        nb05.check_entropy,
        nb05.check_logit_gradient,
        nb06.check_accuracy,
        nb06.check_random_shift,
        nb09.check_dropout,
    ):
        ok, out = verdict(capsys, check, unfinished)
        assert ok is False and out.startswith("✏️ Not answered yet"), out


# ---- 06


@pytest.mark.parametrize(
    "wrong, why",
    [
        (lambda n, b: n // b, "last, smaller batch"),
        (lambda n, b: n / b, "whole number"),
        (lambda n, b: n // b + 1, "wrong count"),
        (lambda n, b: "16", "whole number"),
        (lambda n, b: True, "whole number"),
    ],
)
def test_updates_per_epoch(capsys, wrong, why):
    assert_right(capsys, nb06.check_updates_per_epoch, lambda n, b: math.ceil(n / b))
    assert_right(capsys, nb06.check_updates_per_epoch, lambda n, b: torch.tensor(n / b).ceil())
    assert_not_yet(capsys, nb06.check_updates_per_epoch, wrong, why=why)


def accuracy(model, loader):
    model.eval()
    correct = seen = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(dim=1) == y).sum().item()
            seen += len(y)
    return correct / seen


def no_eval(model, loader):
    with torch.no_grad():
        return sum((model(x).argmax(1) == y).sum().item() for x, y in loader) / 10


def batch_mean(model, loader):
    model.eval()
    with torch.no_grad():
        accs = [(model(x).argmax(1) == y).float().mean().item() for x, y in loader]
    return sum(accs) / len(accs)


def with_graph(model, loader):
    model.eval()
    return sum((model(x).argmax(1) == y).sum().item() for x, y in loader) / 10


def count_only(model, loader):
    model.eval()
    with torch.no_grad():
        return sum((model(x).argmax(1) == y).sum().item() for x, y in loader)


@pytest.mark.parametrize(
    "wrong, why",
    [
        (no_eval, "model.eval()"),
        (batch_mean, "last batch holds 2"),
        (with_graph, "torch.no_grad()"),
        (count_only, "number of correct answers"),
    ],
)
def test_accuracy(capsys, wrong, why):
    assert_right(capsys, nb06.check_accuracy, accuracy)
    assert_not_yet(capsys, nb06.check_accuracy, wrong, why=why)


def random_shift(x, max_shift, generator):
    d = torch.randint(-max_shift, max_shift + 1, (len(x), 2), generator=generator)
    return torch.stack([ffnn_lab.shift(img, int(dx), int(dy)) for img, (dx, dy) in zip(x, d)])


def one_shift_for_all(x, max_shift, generator):
    dx, dy = torch.randint(-max_shift, max_shift + 1, (2,), generator=generator).tolist()
    return ffnn_lab.shift(x, dx, dy) if max_shift else x


def one_way(x, max_shift, generator):
    d = torch.randint(0, max_shift + 1, (len(x), 2), generator=generator)
    return torch.stack([ffnn_lab.shift(img, int(dx), int(dy)) for img, (dx, dy) in zip(x, d)])


def global_rng(x, max_shift, generator):
    return random_shift(x, max_shift, None)


def rolls(x, max_shift, generator):
    d = torch.randint(-max_shift, max_shift + 1, (len(x), 2), generator=generator)
    return torch.stack([img.roll((int(dy), int(dx)), dims=(-2, -1)) for img, (dx, dy) in zip(x, d)])


def in_place(x, max_shift, generator):
    x[:] = random_shift(x, max_shift, generator)
    return x


@pytest.mark.parametrize(
    "wrong, why",
    [
        (one_shift_for_all, "same shift"),
        (one_way, "only go one way"),
        (global_rng, "same seeded"),
        (rolls, "use ffnn_lab.shift"),
        (in_place, "changed the batch"),
    ],
)
def test_random_shift(capsys, wrong, why):
    assert_right(capsys, nb06.check_random_shift, random_shift)
    assert_not_yet(capsys, nb06.check_random_shift, wrong, why=why)


# ---- 07


def count(widths):
    return sum(a * b + b for a, b in zip(widths, widths[1:]))


@pytest.mark.parametrize(
    "wrong, why",
    [
        (lambda w: sum(a * b for a, b in zip(w, w[1:])), "weights only"),
        (lambda w: count(w) + w[0], "biases belong"),
        (lambda w: sum(a + b for a, b in zip(w, w[1:])), "not a + b"),
        (lambda w: count(w) + 1, "wrong total"),
    ],
)
def test_parameter_count(capsys, wrong, why):
    assert_right(capsys, nb07.check_parameter_count, count)
    assert_not_yet(capsys, nb07.check_parameter_count, wrong, why=why)


def test_parameter_count_agrees_with_the_models():
    assert count([3072, 512, 2]) == ffnn_lab.count_parameters(ffnn_lab.baseline())
    assert count([3072, 1024, 512, 128, 2]) == ffnn_lab.count_parameters(ffnn_lab.deep())


M = torch.tensor([[812, 188], [169, 831]])


@pytest.mark.parametrize(
    "answers, why",
    [
        ((357 / 2000, 831 / 1000, 188 / 1000), "share of mistakes"),
        ((1643 / 2000 * 100, 831 / 1000, 188 / 1000), "not a percentage"),
        ((1643 / 2000, 831 / 1019, 188 / 1000), "COLUMN"),
        ((1643 / 2000, 831 / 2000, 188 / 1000), "not by all images"),
        ((1643 / 2000, 831 / 1000, 169 / 1000), "birds called airplanes"),
        ((1643 / 2000, 831 / 1000, 188 / 1019), "true airplanes"),
    ],
)
def test_confusion_reading(capsys, answers, why):
    assert_right(capsys, nb07.check_confusion_reading, 1643 / 2000, 0.831, 0.188, M)
    assert_right(capsys, nb07.check_confusion_reading, 0.82, 0.83, 0.19, M)  # rounded is fine
    assert_not_yet(capsys, nb07.check_confusion_reading, *answers, M, why=why)
    ok, out = verdict(capsys, nb07.check_confusion_reading, 0.8215, ..., 0.188, M)
    assert not ok and "Not answered" in out


@pytest.mark.parametrize(
    "answers, why",
    [
        ((0.5, "b"), "argmax rule"),
        ((0.9, "b"), "other way round"),
        ((1 / 9, "b"), "expected costs"),
        ((0.3, "b"), "write down"),
        ((0.1, "a"), "cheaper call"),
        ((0.1, "bird"), '"a" or "b"'),
    ],
)
def test_decision(capsys, answers, why):
    assert_right(capsys, nb07.check_decision, 0.1, "b")
    assert_not_yet(capsys, nb07.check_decision, *answers, why=why)


# ---- 09


def mixup(x, y, lam, partner):
    t = F.one_hot(y, 2).float()
    return lam * x + (1 - lam) * x[partner], lam * t + (1 - lam) * t[partner]


@pytest.mark.parametrize(
    "wrong, why",
    [
        (lambda x, y, lam, p: ((1 - lam) * x + lam * x[p], mixup(x, y, lam, p)[1]), "weights are swapped"),
        (lambda x, y, lam, p: (mixup(x, y, lam, p)[0], lam * y + (1 - lam) * y[p]), "shape"),
        (lambda x, y, lam, p: (mixup(x, y, lam, p)[0], F.one_hot(y, 2)), "blended exactly"),
        (lambda x, y, lam, p: (mixup(x, y, lam, p)[0], mixup(x, y, 1 - lam, p)[1]), "targets' weights"),
        (lambda x, y, lam, p: (x, mixup(x, y, lam, p)[1]), "not lam"),
        (lambda x, y, lam, p: mixup(x, y, lam, p)[0], "return two things"),
    ],
)
def test_mixup(capsys, wrong, why):
    assert_right(capsys, nb09.check_mixup, mixup)
    assert_not_yet(capsys, nb09.check_mixup, wrong, why=why)


@pytest.mark.parametrize(
    "wrong, why",
    [
        (lambda h, p, keep: h * keep, "scaled up"),
        (lambda h, p, keep: h * keep * (1 - p), "wrong way"),
        (lambda h, p, keep: h * keep / p, "KEPT"),
        (lambda h, p, keep: h * ~keep / (1 - p), "silenced the units"),
        (lambda h, p, keep: h / (1 - p), "exactly 0"),
    ],
)
def test_dropout(capsys, wrong, why):
    assert_right(capsys, nb09.check_dropout, lambda h, p, keep: h * keep / (1 - p))
    assert_not_yet(capsys, nb09.check_dropout, wrong, why=why)


def test_dropout_matches_torch_in_training_mode():
    torch.manual_seed(0)
    h = torch.randn(100, 100)
    out = torch.nn.functional.dropout(h, 0.2, training=True)
    keep = out != 0
    assert torch.allclose(out, h * keep / 0.8)


@pytest.mark.parametrize("wrong, why", [("a", "best epoch"), ("b", "luck"), ("d", '"a", "b" or "c"')])
def test_which_figure(capsys, wrong, why):
    assert_right(capsys, nb09.check_which_figure, "c")
    assert_not_yet(capsys, nb09.check_which_figure, wrong, why=why)
