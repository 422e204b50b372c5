"""Checks for notebook 09: mixup and dropout by hand, and which figure to report."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import FAILED, attempt, check, not_answered, not_yet, right, unanswered


def _pair(out) -> tuple[torch.Tensor, torch.Tensor] | str:
    """The (images, targets) a mixup function returned, or why they are not that."""
    if not isinstance(out, tuple | list) or len(out) != 2:
        return "return two things: the blended images and the blended targets"
    images, targets = out
    if not isinstance(images, torch.Tensor) or not isinstance(targets, torch.Tensor):
        return "both the images and the targets must be tensors"
    return images, targets


@check
def check_mixup(fn) -> bool:
    """fn(x, y, lam, partner) must blend each image with x[partner] and the one-hot labels alike."""
    gen = torch.Generator().manual_seed(9)
    x = torch.randn(6, 3, 4, 4, generator=gen)
    y = torch.tensor([0, 1, 1, 0, 1, 0])
    partner = torch.tensor([3, 2, 5, 1, 0, 4])
    lam = 0.7
    out = attempt(fn, x.clone(), y.clone(), lam, partner.clone())
    if out is FAILED:
        return False
    if unanswered(out):
        return not_answered()
    out = _pair(out)
    if isinstance(out, str):
        return not_yet(out)
    images, targets = out
    if images.shape != x.shape:
        return not_yet(
            f"the blended images must keep the batch's shape {tuple(x.shape)}; got {tuple(images.shape)}"
        )
    blended = lam * x + (1 - lam) * x[partner]
    if torch.allclose(images, (1 - lam) * x + lam * x[partner]):
        return not_yet(
            "the weights are swapped: each image keeps lam of itself and takes 1 - lam of its partner"
        )
    if not torch.allclose(images, blended, atol=1e-6):
        return not_yet("the images are not lam x image + (1 - lam) x its partner x[partner]")
    if targets.shape != (6, 2):
        return not_yet(
            f"the targets are a distribution over the 2 classes per image, shape "
            f"(6, 2); got {tuple(targets.shape)}"
        )
    targets = targets.double()
    one_hot = F.one_hot(y, 2).double()
    if not torch.allclose(targets.sum(dim=1), torch.ones(6, dtype=torch.float64)):
        return not_yet("each row of the targets must add up to 1: it is a probability distribution")
    if torch.allclose(targets, (1 - lam) * one_hot + lam * one_hot[partner]):
        return not_yet("the targets' weights are swapped: the image's own label gets lam")
    if not torch.allclose(targets, lam * one_hot + (1 - lam) * one_hot[partner], atol=1e-6):
        return not_yet(
            "the targets must be blended exactly like the images: lam x one-hot(y) "
            "+ (1 - lam) x one-hot(y[partner])"
        )
    return right(
        "images and one-hot labels blended with the same weights; each target row is a distribution."
    )


@check
def check_dropout(fn) -> bool:
    """fn(h, p, keep) must zero the dropped units and scale the kept ones by 1 / (1 - p)."""
    gen = torch.Generator().manual_seed(2)
    h = torch.randn(4, 10, generator=gen)
    p = 0.2
    keep = torch.rand(4, 10, generator=gen) >= p
    out = attempt(fn, h.clone(), p, keep.clone())
    if out is FAILED:
        return False
    if unanswered(out):
        return not_answered()
    if not isinstance(out, torch.Tensor) or out.shape != h.shape:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return not_yet(f"expected activations shaped like h, {tuple(h.shape)}; got {shape}")
    out = out.float()
    if torch.allclose(out, h * ~keep / (1 - p)) or torch.allclose(out, h * ~keep):
        return not_yet("you silenced the units the mask keeps: keep is True where a unit stays on")
    if torch.allclose(out, h * keep):
        return not_yet(
            "the kept units must be scaled up by 1 / (1 - p), so each unit's average "
            "is the same in training as in eval mode, where nothing is dropped"
        )
    if torch.allclose(out, h * keep * (1 - p)):
        return not_yet("scaled the wrong way: divide the kept units by (1 - p), do not multiply")
    if torch.allclose(out, h * keep / p):
        return not_yet("divide by the share of units KEPT, 1 - p, not by p")
    if not torch.allclose(out, h * keep / (1 - p), atol=1e-6):
        return not_yet("dropped units must be exactly 0 and kept ones h / (1 - p)")
    return right(
        "dropped units are zero and kept ones scaled by 1 / (1 - p), as nn.Dropout does in training mode."
    )


@check
def check_which_figure(answer) -> bool:
    """Which accuracy estimates how the chosen recipe does on new images: the untouched split's."""
    choice = answer.strip().lower() if isinstance(answer, str) else None
    if choice not in {"a", "b", "c"}:
        return not_yet('give "a", "b" or "c"')
    if choice == "a":
        return not_yet(
            "the best epoch was picked by looking at those very hold-out figures: "
            "that choice makes it the most optimistic of the three"
        )
    if choice == "b":
        return not_yet(
            "the recipe was chosen because it scored well on that hold-out, so part "
            "of its score there is luck that was selected for"
        )
    return right("only a split that played no part in any choice gives an unbiased estimate.")
