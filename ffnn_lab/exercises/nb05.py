"""Checks for notebook 05 (classification loss): cross-entropy by hand, H(p, q), and its gradient."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import FAILED, attempt, check, not_answered, not_yet, right, unanswered


def _batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Fixed test batches: two and three classes, one with scores large enough to overflow exp."""
    gen = torch.Generator().manual_seed(5)
    return [
        (torch.randn(6, 2, generator=gen) * 3, torch.tensor([0, 1, 1, 0, 1, 0])),
        (torch.randn(5, 3, generator=gen) * 3, torch.tensor([2, 0, 1, 2, 1])),
        (torch.tensor([[0.0, 200.0], [300.0, 0.0], [-150.0, 150.0]]), torch.tensor([0, 0, 1])),
    ]


def _as_tensor(value) -> torch.Tensor:
    return torch.as_tensor(value, dtype=torch.float64).detach()


@check
def check_cross_entropy(fn) -> bool:
    """fn(logits, labels) must be the batch's mean NLL of log-softmax, stable for large scores."""
    for logits, labels in _batches():
        out = attempt(fn, logits.clone(), labels.clone())
        if out is FAILED:
            return False
        if unanswered(out):
            return not_answered()
        out = _as_tensor(out)
        expected = F.cross_entropy(logits.double(), labels)
        n = len(labels)
        if out.numel() == n and n > 1:
            return not_yet(
                f"got {n} numbers for a batch of {n}: the loss is one number, the average over the batch"
            )
        if out.numel() != 1:
            return not_yet(f"the loss must be one number; yours has shape {tuple(out.shape)}")
        out = out.reshape(())
        if not torch.isfinite(out):
            return not_yet(
                "inf or nan for large scores (e.g. [0, 200]): compute the log-softmax "
                "with the log-sum-exp trick (subtract each row's largest score first), "
                "never log(softmax(...))"
            )
        if torch.isclose(out, expected, rtol=1e-4, atol=1e-5):
            continue
        if torch.isclose(out, -expected, rtol=1e-4, atol=1e-5):
            return not_yet("the sign is flipped: the loss is MINUS the mean log-probability")
        if torch.isclose(out, expected * n, rtol=1e-4, atol=1e-5):
            return not_yet(f"{n} times too large: you summed over the batch; take the mean")
        return not_yet(
            f"wrong value on a batch of {n} images with {logits.shape[1]} classes: "
            "check the log-softmax (each row separately, dim=1) and that you pick, in "
            "row i, the column labels[i]"
        )
    return right(
        "one number per batch, the mean NLL, matching nn.CrossEntropyLoss, "
        "and finite even for scores of several hundred."
    )


def _distributions() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(7)
    p = torch.softmax(torch.randn(4, 3, generator=gen), dim=1)
    q = torch.softmax(torch.randn(4, 3, generator=gen), dim=1)
    labels = torch.tensor([2, 0, 1, 1])
    return p, q, labels


@check
def check_entropy(fn) -> bool:
    """fn(p, q) must return H(p, q) = -sum_k p_k log q_k for each row of the batches p and q."""
    p, q, labels = _distributions()
    out = attempt(fn, p.clone(), q.clone())
    if out is FAILED:
        return False
    if unanswered(out):
        return not_answered()
    out = _as_tensor(out)
    p64, q64 = p.double(), q.double()
    expected = -(p64 * q64.log()).sum(dim=1)
    if out.shape != expected.shape:
        return not_yet(
            f"for 4 pairs of distributions expected one value per pair, shape (4,); "
            f"got shape {tuple(out.shape)}: sum over the classes only (dim=1)"
        )
    if torch.allclose(out, -expected, rtol=1e-4):
        return not_yet("the sign is flipped: log q is negative, so H(p, q) = MINUS the sum")
    if torch.allclose(out, -(q64 * p64.log()).sum(dim=1), rtol=1e-4):
        return not_yet(
            "p and q are swapped: the weights are the TRUE distribution p, the logs are of the model's q"
        )
    if not torch.allclose(out, expected, rtol=1e-4):
        return not_yet(
            "wrong values for soft p (e.g. 0.2 / 0.5 / 0.3): weigh each log q_k "
            "by p_k and sum over the classes"
        )
    one_hot = F.one_hot(labels, 3).float()
    out = attempt(fn, one_hot, q.clone())
    if out is FAILED:
        return False
    if not torch.allclose(_as_tensor(out), -q64.log()[torch.arange(4), labels], rtol=1e-4):
        return not_yet("right for soft p, but not for a one-hot p: the terms with p_k = 0 must add nothing")
    return right("H(p, q) per row; with a one-hot p it equals the NLL of the true class.")


@check
def check_logit_gradient(fn) -> bool:
    """fn(logits, labels) must equal autograd's dL/dz for L = the batch-mean cross-entropy."""
    for logits, labels in _batches()[:2]:
        z = logits.double().requires_grad_()
        (expected,) = torch.autograd.grad(F.cross_entropy(z, labels), z)
        out = attempt(fn, logits.double(), labels.clone())
        if out is FAILED:
            return False
        if unanswered(out):
            return not_answered()
        out = _as_tensor(out)
        n, c = logits.shape
        if out.shape != expected.shape:
            return not_yet(
                f"the gradient has one entry per logit, shape ({n}, {c}); yours has shape {tuple(out.shape)}"
            )
        if torch.allclose(out, expected, atol=1e-6):
            continue
        if torch.allclose(out, -expected, atol=1e-6):
            return not_yet("the sign is flipped: softmax(z) MINUS the one-hot target")
        if torch.allclose(out, expected * n, atol=1e-6):
            return not_yet(f"{n} times too large: the loss is the batch MEAN, so divide by the batch size")
        soft = torch.softmax(logits.double(), dim=1)
        if torch.allclose(out, soft, atol=1e-6) or torch.allclose(out, soft / n, atol=1e-6):
            return not_yet("that is softmax(z) alone: subtract the one-hot target")
        return not_yet(
            f"does not match autograd on a batch of {n} with {c} classes: "
            "softmax over each row (dim=1), minus one-hot(labels), over the batch size"
        )
    return right("your formula matches autograd's gradient on batches with 2 and 3 classes.")
