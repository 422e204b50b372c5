"""How `--model best`'s recipe was chosen: variants of it, several seeds each, on the hold-out.

  python bench/recipe_sweep.py --data DIR [--device auto|cpu|cuda] [--workers 1]
                               [--only NAME ...] [--seeds 3] [--epochs N] [--json PATH]

Each variant changes a few fields of RECIPES["best"] (or the network's width); every run uses the
package's own fit() on the 8,000/2,000 split of `ffnn-lab train`. It prints, per variant, the
hold-out accuracy of every seed, their mean, and two things the recipe does not use:
averaging the seeds' networks (an ensemble: that costs one training per member) and averaging
each test image's shifted and mirrored copies (test-time augmentation: that is pooling over
positions, which the exercise's rules exclude).

On a GPU, --workers runs that many processes at once (each run is too small to fill the card);
on a 2-core CPU keep --workers 1: one run of the full recipe takes about 4 minutes there.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from ffnn_lab import LabError, TensorData, fit, prepare_cifar2, shift, wide_mlp
from ffnn_lab.device import resolve_device
from ffnn_lab.recipes import RECIPES

VARIANTS = {  # name: (recipe overrides, network width)
    "recipe": ({}, 768),
    "100 epochs": ({"epochs": 100}, 768),
    "100 epochs, width 1024": ({"epochs": 100}, 1024),
    "100 epochs, width 1024, no mixup": ({"epochs": 100, "mixup": 0.0}, 1024),
    "100 epochs, mixup 0.4": ({"epochs": 100, "mixup": 0.4}, 768),
    "60 epochs, width 1024, no mixup": ({"epochs": 60, "mixup": 0.0}, 1024),
    "60 epochs, width 1024, no mixup, shifts 4": ({"epochs": 60, "mixup": 0.0, "max_shift": 4}, 1024),
    "60 epochs, width 1024, no mixup, shifts 2": ({"epochs": 60, "mixup": 0.0, "max_shift": 2}, 1024),
}
VIEWS = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]  # test-time copies, each also mirrored


def positive_int(text: str) -> int:
    """An argparse type: a whole number above 0."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: use a whole number greater than 0")
    return int(text)


def run(
    name: str, seed: int, train: TensorData, val: TensorData, device: torch.device, epochs: int | None = None
) -> dict:
    """Train one variant with one seed; return its hold-out logits, plain and test-time averaged."""
    overrides, width = VARIANTS[name]
    recipe = dataclasses.replace(RECIPES["best"], **overrides)
    recipe = dataclasses.replace(recipe, epochs=epochs or recipe.epochs)
    torch.manual_seed(seed)
    model = wide_mlp(width).to(device)
    fit(model, train, recipe=recipe, seed=seed, progress=False)
    model.eval()
    with torch.no_grad():
        x = val.x
        views = [model(shift(v, dx, dy)) for v in (x, x.flip(-1)) for dx, dy in VIEWS]
    return {
        "name": name,
        "seed": seed,
        "logits": views[0].cpu().tolist(),
        "tta": (sum(views) / len(views)).cpu().tolist(),
    }


def worker(args: argparse.Namespace, jobs: list[tuple[str, int]]) -> None:
    """One process's share of the runs, on tensors the parent saved (plain tensors: weights_only loads)."""
    device = resolve_device(args.device)
    saved = torch.load(args.tensors)
    train = TensorData(saved["xt"].to(device), saved["yt"].to(device))
    val = TensorData(saved["xv"].to(device), saved["yv"].to(device))
    results = [run(name, seed, train, val, device, args.epochs) for name, seed in jobs]
    args.worker_out.write_text(json.dumps(results))


def accuracy(logits: list | torch.Tensor, y: torch.Tensor) -> float:
    """The share of rows whose largest logit is the label."""
    return (torch.as_tensor(logits).argmax(1) == y).float().mean().item()


def main() -> int:
    """Parse, train every (variant, seed) across the workers, print and optionally save the summary."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="a directory, 'synthetic', or unset for the official copy")
    p.add_argument("--device", default="auto")
    p.add_argument("--workers", type=positive_int, default=1, help="processes at once (default 1)")
    p.add_argument("--seeds", type=positive_int, default=3, help="seeds 0..N-1 per variant (default 3)")
    p.add_argument("--only", nargs="+", choices=list(VARIANTS), help="run just these variants")
    p.add_argument("--epochs", type=positive_int, help="every variant this long instead (a quick check)")
    p.add_argument("--json", type=Path)
    p.add_argument("--worker-jobs", help=argparse.SUPPRESS)
    p.add_argument("--tensors", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker_jobs:
        worker(args, [tuple(job) for job in json.loads(args.worker_jobs)])
        return 0

    try:
        if args.json:  # fail before hours of training, not after
            args.json.parent.mkdir(parents=True, exist_ok=True)
            if not os.access(args.json.parent, os.W_OK):
                raise PermissionError(f"--json {args.json}: {args.json.parent} is not writable")
        data = prepare_cifar2(args.data, download=True)
    except (LabError, OSError) as e:
        print(f"recipe_sweep: {e}", file=sys.stderr)
        return 2
    print(data.summary, flush=True)
    names = args.only or list(VARIANTS)
    jobs = [(name, seed) for name in names for seed in range(args.seeds)]
    workers = min(args.workers, len(jobs))
    with tempfile.TemporaryDirectory() as tmp:
        tensors = Path(tmp) / "cifar2.pt"
        torch.save({"xt": data.train.x, "yt": data.train.y, "xv": data.val.x, "yv": data.val.y}, tensors)
        procs = []
        for i in range(workers):
            out = Path(tmp) / f"worker{i}.json"
            cmd = [
                sys.executable,
                __file__,
                "--device",
                args.device,
                "--tensors",
                str(tensors),
                *(["--epochs", str(args.epochs)] if args.epochs else []),
                "--worker-out",
                str(out),
                "--worker-jobs",
                json.dumps(jobs[i::workers]),
            ]
            procs.append((subprocess.Popen(cmd), out))
        codes = [proc.wait() for proc, _ in procs]  # every worker, so none outlives the temp folder
        if any(codes):
            print("a worker failed: see its error above", file=sys.stderr)
            return 1
        results = [r for _, out in procs for r in json.loads(out.read_text())]

    y = data.val.y.cpu()
    summary = {}
    for name in names:
        runs = sorted((r for r in results if r["name"] == name), key=lambda r: r["seed"])
        single = [accuracy(r["logits"], y) for r in runs]
        summary[name] = {
            "seeds": single,
            "mean": statistics.mean(single),
            "ensemble_of_all": accuracy(sum(torch.tensor(r["logits"]) for r in runs), y),
            "tta_mean": statistics.mean(accuracy(r["tta"], y) for r in runs),
        }
        s = summary[name]
        print(
            f"{name:<44} mean {s['mean']:.4f}  seeds {' '.join(f'{a:.4f}' for a in single)}  "
            f"ensemble {s['ensemble_of_all']:.4f}  test-time averaging {s['tta_mean']:.4f}",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
