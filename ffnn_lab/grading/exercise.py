"""The graded exercise's rule, shared by the student's checks in notebook 08 and the instructor's grader.

A submission passes when its final model, in eval mode, beats what the untouched exercise scores on
the same images by a clear margin (and the lecture's 80% bar). The untouched exercise is the lecture's
baseline with the notebook's recipe; `reference_accuracy` trains it once per split and caches the result.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import io
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from .. import config, timing
from ..cache import write_text_atomic
from ..data import Prepared, TensorData
from ..models import baseline, wide_mlp
from ..recipes import Recipe
from ..train import evaluate, fit
from . import references
from .graph import BATCH, ExportError, export_bytes, load_graph
from .policy import MARGIN, THRESHOLD, Budget, bar
from .rules import RULES, batch_problems, rule_problems

GRADER_ENV = "FFNN_LAB_GRADER"  # set by the grader in its sandbox: check() need not train the reference
# notebook 08's untouched cell: the lecture's baseline and recipe (SGD, batch 64, lr 1e-2), seed 0
RECIPE, SEED = Recipe(), 0
EPOCHS = RECIPE.epochs
QUICK = "[quick mode] "  # how every line of a quick-mode check starts: its figures are not the grade's
# Keep a notebook under this share of the grader's limit on one's own machine: the grader's may be
# slower, or shared by several submissions at once (grade --jobs).
TIME_ROOM = 0.5


def _digest(*tensors: torch.Tensor, extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for t in tensors:
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:24]


def train_reference(
    train: TensorData,
    images: torch.Tensor,
    labels: torch.Tensor,
    epochs: int = EPOCHS,
    progress: bool = False,
) -> float:
    """Train the untouched exercise on train (no cache) and return its accuracy on (images, labels)."""
    torch.manual_seed(SEED)
    model = baseline().to(train.device)
    fit(model, train, recipe=dataclasses.replace(RECIPE, epochs=epochs), seed=SEED, progress=progress)
    return evaluate(model, TensorData(images.to(train.device), labels.to(train.device)))


def _cache_file(
    train: TensorData, images: torch.Tensor, labels: torch.Tensor, epochs: int, split_key: str | None
) -> Path:
    """Where the reference for this data and recipe is cached (in the data root, beside the data)."""
    recipe = dataclasses.replace(RECIPE, epochs=epochs)
    extra = f"{recipe} seed {SEED} torch {torch.__version__}"
    key = (
        _digest(extra=f"{split_key} {extra}")
        if split_key
        else _digest(train.x, train.y, images, labels, extra=extra)
    )
    return config.data_root() / "cache" / f"reference-{key}.json"


def _cached(cache: Path) -> dict | None:
    """The cached entry if it is whole, else None (absent or damaged: train it again)."""
    try:
        entry = json.loads(cache.read_text())
        value = entry["accuracy"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return entry if isinstance(value, float) and 0 <= value <= 1 else None


def reference_accuracy(
    train: TensorData,
    images: torch.Tensor,
    labels: torch.Tensor,
    epochs: int = EPOCHS,
    progress: bool = False,
    split_key: str | None = None,
) -> float:
    """Accuracy on (images, labels) of the untouched exercise trained on train; cached per data and
    recipe. split_key names the data when its images come in an order of the run's own (the grader's
    fresh order), so that the same split finds its cached reference on every run."""
    cache = _cache_file(train, images, labels, epochs, split_key)
    entry = _cached(cache)
    if entry is not None:
        return entry["accuracy"]
    start = time.perf_counter()
    accuracy = train_reference(train, images, labels, epochs, progress)
    entry = {
        "accuracy": accuracy,
        "recipe": dataclasses.asdict(dataclasses.replace(RECIPE, epochs=epochs)),
        "seed": SEED,
        # where and when, so that a check reading it back can say where its figure comes from
        "measured": datetime.date.today().isoformat(),
        "device": str(train.device),
        "torch": torch.__version__,
        "seconds": round(time.perf_counter() - start, 1),
    }
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(cache, json.dumps(entry))
    except OSError:
        pass  # a read-only data root: trained again next time
    return accuracy


def contract(model: nn.Module) -> bool:
    """Say whether model meets the exercise's contract exactly as the grader reads it: exported the
    grader's way, checked by the grader's rules, in the grader's words."""
    try:
        graph = load_graph(export_bytes(model))
    except ExportError as e:
        print(f"NOT YET: {e}.")
        return False
    images = torch.randn(2 * BATCH + BATCH // 2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    problems = rule_problems(graph) or batch_problems(graph, images)[0]
    if problems:
        print(f"NOT YET: {RULES}. Your model breaks them:")
        for problem in problems:
            print(f"  - {problem}")
        return False
    print(
        "OK: images (N, 3, 32, 32) in, 2 scores per image out, built within the rules. "
        "This is exactly what the grader exports and checks."
    )
    return True


def _printer(quick: bool) -> Callable[[str], None]:
    """print, flushed; in quick mode every line says it is a quick-mode comparison."""
    if not quick:
        return lambda text: print(text, flush=True)
    return lambda text: print("\n".join(QUICK + line for line in text.splitlines()), flush=True)


def _announce_training(data: Prepared, cache: Path, say: Callable[[str], None]) -> None:
    """Before training the reference here: why, and how long it will take on this machine, from one
    epoch measured first."""
    known = "; ".join(references.known_splits()) or "none"
    say(
        "This split has no reference shipped with ffnn-lab (shipped: "
        f"{known}), so the check trains the untouched exercise once, on this machine. Timing one epoch..."
    )
    per_epoch = timing.epoch_seconds(baseline, data.train, seed=SEED, recipe=RECIPE)
    say(
        f"{timing.estimate(per_epoch, EPOCHS)}. The result is cached in {cache.parent}, so later checks "
        "take seconds. (Interrupting it loses nothing but the wait.)"
    )


def _reference(data: Prepared, say: Callable[[str], None]) -> tuple[float, str]:
    """The untouched exercise's accuracy on data.val, and where it comes from: shipped with the package
    for a split courses use, else cached on this machine, else trained here now (announced first)."""
    if config.quick_mode():
        accuracy = reference_accuracy(data.train, data.val.x, data.val.y, config.QUICK_EPOCHS)
        return accuracy, (
            f"trained here for the same {config.QUICK_EPOCHS} epochs quick mode gives your cell: "
            f"a quick-mode figure, not the {EPOCHS}-epoch reference the grade is measured against"
        )
    shipped = references.lookup(references.data_fingerprint(data), RECIPE, SEED)
    if shipped is not None:
        return shipped.accuracy, shipped.provenance()
    cache = _cache_file(data.train, data.val.x, data.val.y, EPOCHS, None)
    entry = _cached(cache)
    if entry is not None:
        when = entry.get("measured", "an earlier run")
        return entry["accuracy"], f"trained on this machine on {when} and cached in {cache}"
    _announce_training(data, cache, say)
    accuracy = reference_accuracy(data.train, data.val.x, data.val.y, EPOCHS, progress=True)
    kept = f"cached in {cache}" if cache.exists() else f"not cached: {cache.parent} cannot be written"
    return accuracy, f"trained just now on this machine, {kept}"


def check(model: nn.Module, data: Prepared, margin: float = MARGIN) -> bool:
    """The student's check: the final model's accuracy on data.val against the untouched exercise's.
    The reference comes shipped with the package for the splits courses use; for another split it is
    trained once here, after saying how long that will take. In quick mode every line says it is a
    quick-mode comparison, and nothing passes."""
    quick = config.quick_mode()
    say = _printer(quick)
    said = io.StringIO()
    with contextlib.redirect_stdout(said):  # the contract's lines, marked like the check's own
        ok = contract(model)
    say(said.getvalue().rstrip("\n"))
    if not ok:
        return False
    device = next(model.parameters()).device
    accuracy = evaluate(model, TensorData(data.val.x.to(device), data.val.y.to(device)))
    say(f"Your final model: {accuracy:.2%} of {len(data.val):,} validation images right (eval mode).")
    if os.environ.get(GRADER_ENV):
        say(
            "The instructor's grader is running this notebook: it scores the final model itself, on "
            "images this notebook never sees, so the comparison is skipped here."
        )
        return False
    reference, source = _reference(data, say)
    goal = bar(reference, margin)
    say(f"The untouched exercise scores {reference:.2%} on the same images.")
    say(f"  Where that comes from: {source}.")
    say(f"The bar: {goal:.2%} ({margin * 100:.0f} points over it, and over {THRESHOLD:.0%}).")
    if str(model) == str(wide_mlp()):
        say(
            "This is the package's own strongest network (ffnn_lab.wide_mlp): handing it in does not "
            "count as solving the exercise, which asks you to design and tune a network yourself."
        )
    if quick:
        where = "above" if accuracy >= goal else "below"
        say(
            f"Your model is {where} this quick-mode bar. That is no verdict: both ran only "
            f"{config.QUICK_EPOCHS} epochs, on the quick-mode data. Unset FFNN_LAB_QUICK and run the "
            "notebook at full length for the comparison the grade is made of."
        )
        return False
    if accuracy >= goal and not math.isnan(accuracy):
        say(f"PASS: {accuracy - reference:+.2%} over the untouched exercise. Well done!")
        return True
    gap = goal - accuracy
    hint = (
        "close to guessing (50%): did the training cell run, and did it train this same `model`"
        if accuracy < 0.6
        else "no better than the untouched baseline yet: change the network or the recipe (see the ideas)"
        if accuracy <= reference + 0.005
        else "on the way: more varied data (shifts, flips) or regularisation usually buys the last points"
    )
    say(f"NOT YET: {gap:.1%} short of the bar; {hint}.")
    return False


def time_check(history: list[dict], loading: float = 0.0) -> bool:
    """How long the training took on this machine, next to the grader's time limit for the whole
    notebook; True when it fits with room (under TIME_ROOM of the limit here), else a warning and False."""
    quick = config.quick_mode()
    say, limit = _printer(quick), Budget().timeout
    if not history:
        say(
            "`history` holds no epochs: run the training cell first (the time limit covers the whole "
            f"notebook, {limit:.0f} s on the grader's machine)."
        )
        return False
    training = sum(h["seconds"] for h in history)
    per_epoch, total = training / len(history), training + loading
    say(
        f"Your training: {len(history)} epochs in {training:.0f} s on this machine ({per_epoch:.2f} s per "
        f"epoch), and {loading:.0f} s to load the data."
    )
    say(
        f"The grader's limit: {limit:.0f} s for the whole notebook, on the grader's machine (the default "
        "of `ffnn-lab grade`; your instructor may announce another)."
    )
    if quick:
        say(
            f"Quick mode trained only {len(history)} epochs on its own data, so this says nothing about "
            "the limit: run the notebook at full length (FFNN_LAB_QUICK unset) to measure your real run."
        )
        return False
    room = TIME_ROOM * limit
    epochs_in_room = max(0, int((room - loading) / per_epoch))
    if total <= room:
        say(f"Fits with room: {total:.0f} s here is {total / limit:.0%} of the limit.")
        return True
    verdict = (
        f"⚠️ Tight: {total:.0f} s here is {total / limit:.0%} of the limit, and the grader's machine may be "
        "slower than this one, or shared with other submissions."
        if total <= limit
        else f"❌ Too long: {total:.0f} s here is over the limit; the grader stops the notebook at "
        f"{limit:.0f} s, and a notebook that does not finish fails."
    )
    say(
        f"{verdict} Keep it under {room:.0f} s here ({TIME_ROOM:.0%} of the limit): at {per_epoch:.2f} s "
        f"per epoch that is about {epochs_in_room} epochs, or make each epoch cheaper."
    )
    return False
