"""Checks for notebook 05 (classification loss): cross-entropy by hand, H(p, q), and its gradient."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .judge import Ban, Numbers, call, check, fail, fresh, numbers, right, show

LOSSES = frozenset(
    {"cross_entropy", "nll_loss", "kl_div", "binary_cross_entropy", "binary_cross_entropy_with_logits"}
)
SOFTMAXES = frozenset(
    {"softmax", "_softmax", "log_softmax", "_log_softmax", "special_softmax", "special_log_softmax"}
)
NO_SHORTCUT = Ban("torch.softmax, log_softmax or the library's losses", torch_names=SOFTMAXES | LOSSES)
NO_LOSSES = Ban("the library's losses (F.cross_entropy and the like)", torch_names=LOSSES)
NO_AUTOGRAD = Ban(
    "autograd (backward or torch.autograd.grad)",
    torch_names=frozenset({"backward", "grad", "vjp", "jacobian", "jacrev", "jacfwd", "hessian"}),
)


def _batches(gen: torch.Generator) -> list[tuple[torch.Tensor, torch.Tensor, str]]:
    """Batches drawn now: (logits, labels, description). The first one's labels never reach
    its last class; then huge scores, a single image, and float64."""
    n, c = int(torch.randint(3, 9, (1,), generator=gen)) | 1, int(torch.randint(3, 6, (1,), generator=gen))
    first = torch.randn(n, c, generator=gen) * 3
    first_labels = torch.randint(0, c - 1, (n,), generator=gen)
    first_labels[0] = c - 2  # so one_hot(labels) alone has c - 1 columns, never one that broadcasts
    huge = torch.randn(n + 2, 2, generator=gen) * 300
    one = torch.randn(1, c, generator=gen)
    wide = torch.randn(n, c + 2, generator=gen, dtype=torch.float64) * 3
    return [
        (first, first_labels, f"a batch of {n} with {c} classes whose labels never reach the last class"),
        (
            huge,
            torch.randint(0, 2, (n + 2,), generator=gen),
            f"a batch of {n + 2} with scores of several hundred",
        ),
        (one, torch.randint(0, c, (1,), generator=gen), f"a batch of one image with {c} classes"),
        (wide, torch.randint(0, c + 2, (n,), generator=gen), f"a float64 batch of {n} with {c + 2} classes"),
    ]


def _judge_loss(found: Numbers, logits: torch.Tensor, labels: torch.Tensor, what: str) -> None:
    n = len(labels)
    if found.values.size == n and n > 1:
        fail(f"on {what} you returned {n} numbers: the loss is one number, the mean over the batch")
    if found.values.size != 1:
        fail(f"on {what} the loss should be one number, but yours has shape {found.shape}")
    found = Numbers(found.values.reshape(()), found.eps)  # a one-element tensor of any shape is fine
    value = found.values
    if not np.isfinite(value):
        fail(
            f"on {what} you returned {value}: compute the log-softmax with the log-sum-exp trick "
            "(subtract each row's largest score first), never log(exp(...) / ...)"
        )
    z = logits.double()
    want = F.cross_entropy(z, labels).item()
    scale = 1 + float(z.abs().max())
    if found.close(want, scale):
        return
    mistakes = [
        (-want, "the sign is flipped: the loss is MINUS the mean log-probability"),
        (want * n, f"{n} times too large: you summed over the batch; take the mean"),
        (
            -z.log_softmax(dim=0)[torch.arange(n), labels].mean().item(),
            "the log-softmax runs over each ROW (dim=1)",
        ),
        (
            -z.log_softmax(dim=1)[:, labels].mean().item(),
            "pick one entry per row, row i's column labels[i]: log_probs[range(N), labels]",
        ),
    ]
    for value_if, reason in mistakes:
        if found.close(value_if, scale):
            fail(f"on {what}: {reason}")
    fail(
        f"on {what} you gave {float(value):.5g}: check the log-softmax of each row and the column "
        "of its true class"
    )


@check
def check_cross_entropy(fn: Any) -> bool:
    """fn(logits, labels) must be the batch's mean NLL of log-softmax, by hand, stable for large scores."""
    gen, _ = fresh()
    for logits, labels, what in _batches(gen):
        out = call(fn, logits.clone(), labels.clone(), on=what, without=NO_SHORTCUT)
        _judge_loss(numbers(out, "the loss"), logits, labels, what)
    return right(
        "one number per batch, the mean NLL, matching nn.CrossEntropyLoss, "
        "and finite even for scores of several hundred."
    )


def _distributions(gen: torch.Generator) -> list[tuple[torch.Tensor, torch.Tensor, str]]:
    """Pairs (p, q) drawn now: soft, one-hot, float64, a single row."""
    n, c = int(torch.randint(2, 7, (1,), generator=gen)), int(torch.randint(2, 6, (1,), generator=gen))
    n += n == c  # not square, so that a sum over the wrong axis shows in the shape
    soft = torch.softmax(torch.randn(n, c, generator=gen) * 2, dim=1)
    q = torch.softmax(torch.randn(n, c, generator=gen) * 2, dim=1)
    one_hot = F.one_hot(torch.randint(0, c, (n,), generator=gen), c).float()
    return [
        (soft, q, f"soft targets p, shape ({n}, {c})"),
        (one_hot, q, f"one-hot targets p, shape ({n}, {c})"),
        (soft.double(), q.double(), f"float64 distributions, shape ({n}, {c})"),
        (soft[:1], q[:1], f"a single row, shape (1, {c})"),
    ]


def _judge_entropy(found: Numbers, p: torch.Tensor, q: torch.Tensor, what: str) -> None:
    p64, q64 = p.double(), q.double()
    want = F.cross_entropy(q64.log(), p64, reduction="none").numpy()  # the library's H(p, q)
    n, c = p.shape
    if found.shape != want.shape:
        if found.values.size == 1 and n > 1:
            fail(
                f"on {what} you returned one number: one value per row, so sum over the classes only (dim=1)"
            )
        if found.shape == (c,):
            fail(
                f"on {what} you returned {c} values, one per class: sum over the classes (dim=1), "
                "not over the rows"
            )
        fail(f"on {what} expected one value per row, shape ({n},); yours has shape {found.shape}")
    if found.close(want):
        return
    mistakes = [
        (-want, "the sign is flipped: log q is negative, so H(p, q) = MINUS the sum"),
        (
            -(q64 * p64.clamp_min(1e-300).log()).sum(dim=1).numpy(),
            "p and q are swapped: weigh log q by the TRUE p",
        ),
        (want / c, "you averaged over the classes: H(p, q) is a sum"),
        (want / np.log(2), "that is in bits (log2): use the natural log"),
        (-q64.log().sum(dim=1).numpy(), "each log q_k must be weighed by p_k"),
    ]
    for value_if, reason in mistakes:
        if found.close(value_if):
            fail(f"on {what}: {reason}")
    fail(f"on {what} your values {show(found.values)} are off: -sum over k of p_k log q_k, per row")


@check
def check_entropy(fn: Any) -> bool:
    """fn(p, q) must return H(p, q) = -sum_k p_k log q_k for each row of the batches p and q."""
    gen, _ = fresh()
    for p, q, what in _distributions(gen):
        out = call(fn, p.clone(), q.clone(), on=what, without=NO_LOSSES)
        _judge_entropy(numbers(out, "H(p, q)"), p, q, what)
    return right("H(p, q) per row; with a one-hot p it equals the NLL of the true class.")


def _judge_gradient(found: Numbers, logits: torch.Tensor, labels: torch.Tensor, what: str) -> None:
    z = logits.double().requires_grad_()
    (want,) = torch.autograd.grad(F.cross_entropy(z, labels), z)
    n, c = logits.shape
    if found.shape != (n, c):
        fail(
            f"on {what} the gradient has one entry per logit, shape ({n}, {c}); yours has shape {found.shape}"
        )
    expected = want.numpy()
    if found.close(expected):
        return
    if not np.isfinite(found.values).all():
        fail(
            f"on {what} your gradient has nan or inf: compute the softmax stably (subtract each "
            "row's largest score first, or use torch.softmax)"
        )
    soft = torch.softmax(z.detach(), dim=1).numpy()
    mistakes = [
        (-expected, "the sign is flipped: softmax(z) MINUS the one-hot target"),
        (soft, "that is softmax(z) alone: subtract the one-hot target"),
        (soft / n, "that is softmax(z) alone: subtract the one-hot target"),
    ]
    if n > 1:
        mistakes.append((expected * n, f"{n} times too large: the loss is the batch MEAN, so divide by N"))
    for value_if, reason in mistakes:
        if found.close(value_if):
            fail(f"on {what}: {reason}")
    fail(
        f"on {what} your gradient does not match autograd's: softmax over each row (dim=1), "
        "minus one-hot(labels), divided by N"
    )


@check
def check_logit_gradient(fn: Any) -> bool:
    """fn(logits, labels) must equal autograd's dL/dz for L = the batch-mean cross-entropy, by hand."""
    gen, _ = fresh()
    for logits, labels, what in _batches(gen):
        out = call(fn, logits.clone(), labels.clone(), on=what, without=NO_AUTOGRAD)
        _judge_gradient(numbers(out, "the gradient"), logits, labels, what)
    return right("your formula matches autograd's gradient on every batch, by hand.")
