"""Checks for notebook 09: which figure to report and how precise it is, mixup and dropout by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .judge import call, check, fail, fresh, number, numbers, right, show
from .sealed import SEALED
from .written import Sealed, explanation_feedback, judge_choice

WHICH_FIGURE = Sealed("nb09.which-figure", SEALED["nb09.which-figure"])


def _spread(accuracy: float, n: int) -> tuple[float, float]:
    # the library's binomial: the spread of the number right out of n, as a share of n (dividing
    # by n or by n - 1 are both accepted)
    std = float(torch.distributions.Binomial(n, probs=torch.tensor(accuracy)).stddev) / n
    return std, std * (n / (n - 1)) ** 0.5


def _judge_standard_error(fn: Any, rng: np.random.Generator) -> None:
    cases = [(float(rng.uniform(0.55, 0.95)), int(rng.integers(200, 20000))) for _ in range(3)] + [
        (0.9, 2000)
    ]
    for accuracy, n in cases:
        got = number(
            call(
                fn, accuracy, n, on=f"accuracy {accuracy:.3f} on {n:,} images", so_far="your choice is right."
            ),
            "the standard error",
        )
        if any(got.close(want) for want in _spread(accuracy, n)):
            continue
        want = _spread(accuracy, n)[0]
        said = f"for an accuracy of {accuracy:.3f} on {n:,} images you gave {float(got.values):.4g}"
        mistakes = [
            (want**2, "that is the variance; the standard error is its square root"),
            (100 * want, "that is in percentage points; give it as a share, like the accuracy"),
            (
                want * n**0.5 / n,
                "you divided the square root by n: the share's variance is the count's over n squared",
            ),
            (want * n, "that is the spread of the number of right answers; divide by n for the share"),
            (
                (accuracy / n) ** 0.5,
                "each image is right or wrong: the variance of one is accuracy x (1 - accuracy)",
            ),
        ]
        for value_if, reason in mistakes:
            if got.close(value_if):
                fail(f"{said}: {reason}")
        fail(
            f"{said}: the number right out of n is binomial, variance n p (1 - p) with p the "
            "accuracy; the share is that number divided by n"
        )


@check
def check_which_figure(answer: Any, standard_error: Any = ..., explanation: Any = ...) -> bool:
    """answer: which accuracy estimates the recipe's accuracy on new images without bias;
    standard_error(accuracy, n): that figure's sampling noise; explanation: why the others are optimistic."""
    chosen, why = judge_choice(WHICH_FIGURE, answer, "abcd")
    _, rng = fresh()
    _judge_standard_error(standard_error, rng)
    praise = f"({chosen}) {why} And standard_error gives its noise: about 0.7 points on 2,000 images."
    return right(explanation_feedback(WHICH_FIGURE, chosen, explanation, praise))


def _pair(out: Any) -> tuple[np.ndarray, Any]:
    """The (images, targets) a mixup function returned, or the end of the check saying why not."""
    if not isinstance(out, tuple | list) or len(out) != 2:
        fail("return two things: the blended images and the blended targets")
    images, targets = out
    return numbers(images, "the blended images").values, targets


def _mixup_cases(gen: torch.Generator) -> list[tuple[torch.Tensor, torch.Tensor, float, torch.Tensor, str]]:
    """Batches drawn now: (x, y, lam, partner, description); lam never 0.5 and some image paired
    with one of the other class, where swapped or missing weights would go unseen; the last
    batch has no bird at all."""
    cases = []
    for birds in (True, True, False):
        n = int(torch.randint(3, 9, (1,), generator=gen))
        x = torch.randn(n, 3, 32, 32, generator=gen)
        order = torch.randperm(n, generator=gen)
        partner = torch.empty_like(order)
        partner[order] = order.roll(-1)  # one cycle through the batch: no image is its own partner
        y = torch.randint(0, 2, (n,), generator=gen) if birds else torch.zeros(n, dtype=torch.long)
        if birds:
            y[0], y[partner[0]] = 0, 1
        lam = round(float(torch.rand(1, generator=gen)) * 0.3 + (0.6 if birds else 0.05), 3)
        cases.append(
            (x, y, lam, partner, f"a batch of {n}, lam = {lam}" + ("" if birds else ", no bird in it"))
        )
    return cases


def _judge_images(images: np.ndarray, x: torch.Tensor, lam: float, partner: torch.Tensor, what: str) -> None:
    if images.shape != tuple(x.shape):
        fail(
            f"on {what} the blended images should keep the batch's shape {tuple(x.shape)}; "
            f"yours are {images.shape}"
        )
    x64 = x.double()
    want = torch.lerp(x64[partner], x64, lam).numpy()
    tol = 1e-4 * (1 + np.abs(want).max())
    if np.allclose(images, want, atol=tol):
        return
    if np.allclose(images, torch.lerp(x64, x64[partner], lam).numpy(), atol=tol):
        fail(
            f"on {what} the weights are swapped: each image keeps lam of itself and takes 1 - lam "
            "of x[partner]"
        )
    if np.allclose(images, x64.numpy(), atol=tol):
        fail(f"on {what} the images are not blended: lam x image + (1 - lam) x x[partner]")
    fail(f"on {what} the images are not lam x image + (1 - lam) x its partner x[partner]")


def _judge_targets(targets: Any, y: torch.Tensor, lam: float, partner: torch.Tensor, what: str) -> None:
    n = len(y)
    found = numbers(targets, "the targets")
    if found.shape != (n, 2):
        hint = " (one_hot needs num_classes=2 when a batch has no bird)" if found.shape == (n, 1) else ""
        fail(
            f"on {what} the targets should be one distribution over the 2 classes per image, "
            f"shape ({n}, 2); yours are {found.shape}{hint}"
        )
    rows = found.values.sum(axis=1)
    if not np.allclose(rows, 1, atol=1e-4):
        fail(
            f"on {what} each row of the targets should add up to 1 (a distribution); yours add up "
            f"to {show(rows)}"
        )
    # the loss fit uses with mixup, lam x CE(y) + (1 - lam) x CE(y[partner]), must equal the
    # cross-entropy with your targets for any scores: that pins the targets down
    scores = torch.randn(n, 2, dtype=torch.float64)
    want = lam * F.cross_entropy(scores, y, reduction="none") + (1 - lam) * F.cross_entropy(
        scores, y[partner], reduction="none"
    )
    mine = F.cross_entropy(scores, torch.as_tensor(found.values), reduction="none")
    if torch.allclose(mine, want, atol=1e-4):
        return
    swapped = (1 - lam) * F.cross_entropy(scores, y, reduction="none") + lam * F.cross_entropy(
        scores, y[partner], reduction="none"
    )
    if torch.allclose(mine, swapped, atol=1e-4):
        fail(f"on {what} the targets' weights are swapped: the image's own label gets lam")
    fail(
        f"on {what} the targets must be blended exactly like the images, from one-hot(y) and "
        "one-hot(y[partner])"
    )


@check
def check_mixup(fn: Any) -> bool:
    """fn(x, y, lam, partner) must blend each image with x[partner] and the one-hot labels alike."""
    gen, _ = fresh()
    for x, y, lam, partner, what in _mixup_cases(gen):
        out = call(fn, x, y, lam, partner, on=what)
        images, targets = _pair(out)
        _judge_images(images, x, lam, partner, what)
        _judge_targets(targets, y, lam, partner, what)
    return right(
        "images and one-hot labels blended with the same weights; each target row is a distribution."
    )


def _scale(p: float) -> float:
    """How much nn.Dropout scales the units it keeps, read off the library itself."""
    return float(F.dropout(torch.ones(4096, dtype=torch.float64), p, training=True).max()) if p else 1.0


def _dropout_cases(gen: torch.Generator) -> list[tuple[torch.Tensor, float, torch.Tensor, str]]:
    cases = []
    for dtype, p in ((torch.float32, None), (torch.float64, None), (torch.float32, 0.0)):
        n, d = int(torch.randint(4, 9, (1,), generator=gen)), int(torch.randint(10, 40, (1,), generator=gen))
        share = round(float(torch.rand(1, generator=gen)) * 0.6 + 0.15, 3) if p is None else p
        h = torch.randn(n, d, generator=gen, dtype=dtype)
        keep = torch.rand(n, d, generator=gen) >= share
        keep[0, :2] = torch.tensor([True, share == 0.0])
        cases.append((h, share, keep, f"{dtype} activations shaped ({n}, {d}), p = {share}"))
    return cases


def _judge_dropout(found: np.ndarray, h: torch.Tensor, p: float, keep: torch.Tensor, what: str) -> None:
    h64, kept = h.double().numpy(), keep.numpy()
    factor = _scale(p)
    tol = 1e-5 * (1 + np.abs(h64).max() * factor)
    if found.shape != h64.shape:
        fail(f"on {what} expected activations shaped like h, {h64.shape}; yours are {found.shape}")
    if np.any(found[~kept] != 0):
        if np.all(found[kept] == 0):
            fail(f"on {what} you silenced the units the mask keeps: keep is True where a unit stays on")
        fail(f"on {what} some dropped units (keep False) are not exactly 0: use the mask you are given")
    if np.any(found[kept] == 0):
        fail(f"on {what} some units the mask keeps are 0: use the mask you are given, not a new one")
    if np.allclose(found[kept], h64[kept] * factor, atol=tol):
        return
    if p == 0:
        fail(f"on {what} nothing is dropped, so nothing should change: h itself")
    mistakes = [
        (
            h64[kept],
            "the kept units must be scaled up, so that each unit's average is the same as in eval mode",
        ),
        (h64[kept] * (1 - p), "scaled the wrong way: the kept units must grow, not shrink"),
        (h64[kept] / p, "p is the share DROPPED: the scale comes from the share kept"),
    ]
    for value_if, reason in mistakes:
        if np.allclose(found[kept], value_if, atol=tol):
            fail(f"on {what}: {reason}")
    fail(f"on {what} the kept units are not h scaled so that their average matches eval mode")


@check
def check_dropout(fn: Any) -> bool:
    """fn(h, p, keep) must zero the dropped units and scale the kept ones as nn.Dropout does in training."""
    gen, _ = fresh()
    for h, p, keep, what in _dropout_cases(gen):
        out = call(fn, h, p, keep, on=what)
        _judge_dropout(numbers(out, "the activations").values, h, p, keep, what)
    return right(
        "dropped units are zero and the kept ones scaled so that averages match eval mode, as "
        "nn.Dropout does."
    )
