"""The lab's main job without a notebook: `ffnn-lab train`, `ffnn-lab grade` and `ffnn-lab release`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import time
import warnings
from pathlib import Path

import torch

from .cache import write_text_atomic
from .data import HOLDOUT, SPLIT_SEED, find_source, prepare_cifar2, ways_out
from .device import resolve_device
from .errors import DataNotFoundError, InvalidInput, LabError, TrainingDiverged, TrainingUnstable
from .labels import CIFAR2_SOURCE_LABELS
from .models import count_parameters
from .recipes import MODELS, OPTIMIZERS, RECIPES, SCHEDULES, Recipe, build_model
from .train import evaluate, fit


def _number(kind: type, ok, requirement: str):
    """An argparse type: text -> kind, rejected with a reason unless ok(value)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a {'whole ' if kind is int else ''}number"
            ) from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{text} must be {requirement}")
        return value

    return parse


POSITIVE_INT = _number(int, lambda v: v > 0, "greater than 0")
POSITIVE = _number(float, lambda v: 0 < v < float("inf"), "a finite number greater than 0")
NON_NEGATIVE_INT = _number(int, lambda v: v >= 0, "0 or more")
NON_NEGATIVE = _number(float, lambda v: 0 <= v < float("inf"), "a finite number, 0 or more")
FRACTION = _number(float, lambda v: 0 < v < 1, "a fraction between 0 and 1, e.g. 0.8 for 80%")
CEILING_FRACTION = _number(float, lambda v: 0 < v <= 1, "a fraction up to 1, e.g. 0.95 (1 turns review off)")


def _defaults(field: str) -> str:
    """Each model's default for a recipe field, for --help: 'default baseline/small/deep 100, best 150'."""

    def show(v) -> str:
        return ("on" if v else "off") if isinstance(v, bool) else f"{v:g}" if isinstance(v, float) else str(v)

    groups: dict[str, list[str]] = {}
    for name, recipe in RECIPES.items():
        groups.setdefault(show(getattr(recipe, field)), []).append(name)
    return "default " + ", ".join(f"{'/'.join(names)} {value}" for value, names in groups.items())


def parser() -> argparse.ArgumentParser:
    """The command line: train, grade and release."""
    p = argparse.ArgumentParser(prog="ffnn-lab", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    data_help = (
        "CIFAR-10 source: a directory (official cifar-10-batches-py/ inside, or an image-folder "
        "copy DIR/train/<class>/*) or 'synthetic'; default $FFNN_LAB_DATA, else the official "
        "copy in data-unversioned/ (downloaded on first use)"
    )

    t = sub.add_parser(
        "train",
        help="train a model on CIFAR-2 (birds vs airplanes)",
        epilog="exit status: 0 trained; 1 training failed (the loss turned NaN, or grew far beyond its "
        "start: lower --lr as the message advises); 2 a usage, data or setting error; "
        "130 interrupted (the finished epochs are still summarised)",
    )
    t.add_argument("--model", choices=list(MODELS), default="baseline")
    r = t.add_argument_group("recipe", "each defaults to the model's own recipe (ffnn_lab.recipes.RECIPES)")
    r.add_argument("--epochs", type=POSITIVE_INT, help=_defaults("epochs"))
    r.add_argument("--batch-size", type=POSITIVE_INT, help=_defaults("batch_size"))
    r.add_argument("--lr", type=POSITIVE, help="learning rate; " + _defaults("lr"))
    r.add_argument("--optimizer", choices=list(OPTIMIZERS), help=_defaults("optimizer"))
    r.add_argument("--momentum", type=NON_NEGATIVE, help="SGD's only; " + _defaults("momentum"))
    r.add_argument("--weight-decay", type=NON_NEGATIVE, help=_defaults("weight_decay"))
    r.add_argument("--schedule", choices=SCHEDULES, help=_defaults("schedule"))
    r.add_argument(
        "--max-shift", type=NON_NEGATIVE_INT, help="random translation in pixels; " + _defaults("max_shift")
    )
    r.add_argument(
        "--flip", action=argparse.BooleanOptionalAction, help="random mirroring; " + _defaults("flip")
    )
    r.add_argument("--mixup", type=NON_NEGATIVE, help="mixup strength alpha, 0 is off; " + _defaults("mixup"))
    t.add_argument(
        "--seed",
        type=int,
        default=0,
        help="training seed: initial weights, shuffling, augmentation, dropout (default %(default)s)",
    )
    t.add_argument("--data", help=data_help)
    t.add_argument(
        "--holdout",
        type=NON_NEGATIVE_INT,
        default=HOLDOUT,
        help="validation images carved from train/ when the copy has no test/ (default %(default)s)",
    )
    t.add_argument(
        "--split-seed",
        type=int,
        default=SPLIT_SEED,
        help="which images the hold-out takes (default %(default)s); --seed leaves the split alone",
    )
    t.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda")
    t.add_argument("--json", type=Path, help="write the run's summary and per-epoch history here")
    t.add_argument("--quiet", action="store_true", help="no progress bar")

    g = sub.add_parser("grade", help="grade exercise notebooks in a sandbox, on private images")
    g.add_argument("submissions", nargs="+", type=Path, help="notebooks, e.g. submissions/*/exercise.ipynb")
    g.add_argument("--data", help=data_help + "; graded on its test/ split, else on a hold-out never shown")
    from .grading.policy import CEILING, MARGIN, Budget  # a leaf: the grader itself loads only to grade

    budget = Budget()
    g.add_argument(
        "--timeout",
        type=POSITIVE,
        default=budget.timeout,
        help=f"seconds per notebook (default {budget.timeout:g}); start-up and scoring add at most "
        f"{budget.most - budget.timeout:g} s",
    )
    g.add_argument("--report-dir", type=Path, default=Path("grading-report"))
    g.add_argument(
        "--threshold",
        type=FRACTION,
        help="a fixed pass mark (a fraction); default: the untouched exercise's score + --margin",
    )
    g.add_argument(
        "--margin",
        type=FRACTION,
        default=MARGIN,
        help=f"how far above the untouched exercise a pass must be (default {MARGIN:g})",
    )
    g.add_argument(
        "--ceiling",
        type=CEILING_FRACTION,
        default=CEILING,
        help=f"scores above this are marked REVIEW, not passed (default {CEILING:g}: more than a fully "
        "connected network reaches here; a memorised table would score like that)",
    )
    g.add_argument("--jobs", type=POSITIVE_INT, default=1, help="submissions graded at once (default 1)")
    g.add_argument(
        "--shard",
        type=_shard,
        default=(1, 1),
        metavar="K/N",
        help="grade only the K-th of N shares (by sorted path); merge with grade-merge",
    )
    g.add_argument(
        "--memory",
        type=POSITIVE,
        help="GiB of memory per sandbox (default 8, less where --jobs would not fit in 3/4 of the machine)",
    )
    g.add_argument(
        "--gpu",
        action="store_true",
        help="bind the GPU into each sandbox, so notebooks train with CUDA (checked first; else the CPU)",
    )
    g.add_argument(
        "--holdout",
        type=NON_NEGATIVE_INT,
        default=HOLDOUT,
        help="images graded when the data has no test/ split (default %(default)s)",
    )
    g.add_argument(
        "--split-seed",
        type=int,
        default=SPLIT_SEED,
        help="which images that hold-out takes (default %(default)s)",
    )
    g.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run notebooks without bubblewrap: only for code you trust; reports say UNSANDBOXED",
    )

    m = sub.add_parser("grade-merge", help="combine the reports of grading shards into one")
    m.add_argument("reports", nargs="+", type=Path, help="report folders of `grade --shard` runs")
    m.add_argument("--report-dir", type=Path, default=Path("grading-report"))
    m.add_argument(
        "--partial", action="store_true", help="merge even if shards are missing (the report says so)"
    )

    rel = sub.add_parser(
        "release",
        help="write the student release: notebooks 01-08 without solutions, and a README for students",
        description="Write the student release to OUT: notebooks 01-08 with every solution replaced by "
        "a gap and no outputs, and a README for students (install, the checks, what notebook 08 is "
        "graded on, handing in). Made from a checkout of the repository: the installed package holds "
        "no notebooks.",
    )
    rel.add_argument("out", type=Path, metavar="OUT", help="a new or empty folder")
    rel.add_argument(
        "--after-grading",
        action="store_true",
        help="add after-grading/ (notebook 09, a full solution of 08): only once 08 is graded",
    )
    rel.add_argument(
        "--force",
        action="store_true",
        help="write into OUT although it is not empty (replaces the release's files, removes an old "
        "after-grading/)",
    )
    rel.add_argument(
        "--checkout",
        type=Path,
        metavar="DIR",
        help="the repository checkout to release from (default: this one)",
    )
    rel.add_argument(
        "--package-url",
        metavar="URL",
        help="where students install ffnn-lab from, for their README's install command "
        "(default: the placeholder git+https://github.com/YOUR-ORG/ffnn-lab)",
    )
    return p


def check_writable(path: Path, what: str, directory: bool = False) -> None:
    """Fail before the long work, not after it, when an output path cannot be written."""
    if path.exists() and path.is_dir() != directory:
        raise InvalidInput(
            f"{what} {path} is {'a file' if directory else 'a directory'}: "
            f"give a {'folder' if directory else 'file'} path"
        )
    folder = path if directory else path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InvalidInput(f"{what} {path}: cannot create {folder} ({e.strerror})") from None
    if not os.access(folder, os.W_OK):
        raise InvalidInput(f"{what} {path}: {folder} is not writable; choose another place")


# Library errors name Python arguments (lr=0.5, optimizer='sgd'); here they are flags.
FLAG_NAMES = {f.name: f.name for f in dataclasses.fields(Recipe)} | {
    "holdout": "holdout",
    "split_seed": "split_seed",
    "root": "data",
    "device": "device",
}
WAYS_OUT = ways_out("no --data and no FFNN_LAB_DATA", "--data DIR", "--data synthetic")


def in_flags(message: str) -> str:
    """A library message in the command line's words: lr=0.5 is --lr 0.5, optimizer='sgd' --optimizer sgd."""
    return re.sub(
        rf"\b({'|'.join(FLAG_NAMES)})=('?)([^\s',;:)]*)\2",
        lambda m: f"--{FLAG_NAMES[m[1]].replace('_', '-')} {m[3]}".rstrip(),
        message,
    )


def recipe_from(args: argparse.Namespace) -> Recipe:
    """The model's recipe with every recipe flag given on the command line applied."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Recipe)}
    return dataclasses.replace(RECIPES[args.model], **{k: v for k, v in given.items() if v is not None})


def train(args: argparse.Namespace) -> int:
    """Train, print a summary, optionally write JSON; returns the exit code (see README)."""
    if args.json:
        check_writable(args.json, "--json")
    recipe = recipe_from(args)
    device = resolve_device(args.device)
    source = find_source(args.data)
    data = prepare_cifar2(args.data, device, download=True, holdout=args.holdout, split_seed=args.split_seed)
    if len(data.val) == 0:
        raise InvalidInput(
            f"the validation split is empty: use --holdout {len(CIFAR2_SOURCE_LABELS)} or more "
            f"(default {HOLDOUT})"
        )
    print(data.summary)
    torch.manual_seed(args.seed)
    model = build_model(args.model).to(device)
    print(f"model: {args.model} ({count_parameters(model):,} parameters) on {device}\n" + recipe.describe())
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", TrainingUnstable)
            history = fit(model, data.train, data.val, recipe=recipe, seed=args.seed, progress=not args.quiet)
    except TrainingDiverged as e:
        print(f"ffnn-lab: error: {in_flags(str(e))}", file=sys.stderr)
        return 1
    for w in caught:  # fit's other warnings are shown as usual
        if not issubclass(w.category, TrainingUnstable):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    unstable = next((str(w.message) for w in caught if issubclass(w.category, TrainingUnstable)), None)
    seconds = time.perf_counter() - start
    done = len(history)
    summary = {
        "model": args.model,
        "recipe": dataclasses.asdict(recipe),
        "epochs": done,
        "batch_size": recipe.batch_size,
        "lr": recipe.lr,
        "seed": args.seed,
        "split_seed": args.split_seed,
        "device": str(device),
        "data": str(source),
        "n_train": len(data.train),
        "n_val": len(data.val),
        "train_accuracy": evaluate(model, data.train),
        "val_accuracy": evaluate(model, data.val),
        "final_loss": history[-1]["loss"] if history else None,
        "seconds": round(seconds, 3),
        "samples_per_second": round(len(data.train) * done / seconds, 1) if done else 0.0,
        "unstable": unstable,
        "history": history,
    }
    print(
        f"\n{done} epochs in {seconds:.1f} s ({summary['samples_per_second']:,.0f} samples/s)\n"
        f"Accuracy on the training set:   {summary['train_accuracy']:.4f}\n"
        f"Accuracy on the validation set: {summary['val_accuracy']:.4f}"
    )
    if args.json:
        try:
            write_text_atomic(args.json, json.dumps(summary, indent=2) + "\n")
        except OSError as e:  # checked before training, so the disk filled up or the folder went
            raise InvalidInput(
                f"--json {args.json}: cannot write it ({e.strerror}); make room or choose another place"
            ) from None
        print(f"wrote {args.json}")
    if unstable:  # finite but useless: a script or CI job must not take this run for a good one
        print(f"ffnn-lab: error: {in_flags(unstable)}", file=sys.stderr)
        return 1
    return 0 if done == recipe.epochs else 130


def _shard(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N) with 1 <= K <= N."""
    k, _, n = text.partition("/")
    if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise argparse.ArgumentTypeError(f"{text!r}: use K/N with 1 <= K <= N, e.g. 2/4")
    return int(k), int(n)


def grade(args: argparse.Namespace) -> int:
    """Grade every submission, write the reports; 0 when every one was graded, pass or fail."""
    from .grading.policy import Budget
    from .grading.runner import Options
    from .grading.runner import grade as run_grading
    from .grading.sandbox import SandboxUnavailable

    check_writable(args.report_dir, "--report-dir", directory=True)
    options = Options(
        data=args.data,
        budget=Budget(timeout=args.timeout),
        threshold=args.threshold,
        margin=args.margin,
        ceiling=args.ceiling,
        jobs=args.jobs,
        sandboxed=not args.no_sandbox,
        gpu=args.gpu,
        memory_gib=args.memory,
        holdout=args.holdout,
        split_seed=args.split_seed,
        shard=args.shard,
    )
    try:
        rows, code = run_grading(args.submissions, args.report_dir, options)
    except SandboxUnavailable as e:
        print(f"ffnn-lab: error: {e}", file=sys.stderr)
        return 2
    print(
        f"{sum(r.passed for r in rows)} of {len(rows)} passed; "
        f"report: {args.report_dir / 'report.md'} (and .csv, .json); logs: {args.report_dir / 'logs'}"
    )
    return code


def grade_merge(args: argparse.Namespace) -> int:
    """Combine shard reports into one."""
    from .grading.reports import merge

    check_writable(args.report_dir, "--report-dir", directory=True)
    rows = merge(args.reports, args.report_dir, partial=args.partial)
    print(f"{sum(r.passed for r in rows)} of {len(rows)} passed; report: {args.report_dir / 'report.md'}")
    return 0


def release(args: argparse.Namespace) -> int:
    """Write the student release; say what was written and what to check before handing it out."""
    from .release import PACKAGE_URL
    from .release import release as write

    url = args.package_url or PACKAGE_URL
    written = write(
        args.out, after_grading=args.after_grading, force=args.force, checkout=args.checkout, package_url=url
    )
    print(f"student release: {len(written) - 1} notebooks and README.md written to {args.out}")
    if url == PACKAGE_URL:
        print(
            f"note: the students' README installs ffnn-lab from the placeholder {PACKAGE_URL}; "
            "pass --package-url with your course's address"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, run, turn expected failures into one clear line and a non-zero exit."""
    args = parser().parse_args(argv)
    try:
        commands = {"train": train, "grade": grade, "grade-merge": grade_merge, "release": release}
        return commands[args.command](args)
    except DataNotFoundError as e:
        print(f"ffnn-lab: error: {e.problem}\n{WAYS_OUT}", file=sys.stderr)
        return 2
    except LabError as e:  # only the lab's own: any other exception is a bug and keeps its traceback
        print(f"ffnn-lab: error: {in_flags(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nffnn-lab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
