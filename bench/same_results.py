"""Fingerprints of training results, to show that a change to the code changed no number.

  python bench/same_results.py > after.txt    (and the same on the code before: diff the two)

Prints the md5 of each run's history (losses and accuracies, without the times), final weights and
predictions: every named model with its own recipe, recipe variants (momentum, AdamW, one-cycle,
shifts, flips, mixup) on the baseline and the best network, both engines on the CPU, a DataLoader
run, prepare_cifar2's tensors, and the command line's defaults on an array copy large enough for the
default hold-out. Two short epochs on small data each: about 10 seconds on two CPU cores. To run it
on older code, point PYTHONPATH at that checkout."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from ffnn_lab import TensorData, cli, fit, predict, prepare_cifar2
from ffnn_lab.synthetic import make_images

try:
    from ffnn_lab.recipes import RECIPES, build_model
except ImportError:  # 0.2.0, before the registry had a module of its own
    from ffnn_lab.models import build_model
    from ffnn_lab.train import RECIPES

VARIANTS = {
    "momentum": {"momentum": 0.9, "weight_decay": 1e-3},
    "adamw": {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 0.05},
    "onecycle": {"schedule": "onecycle", "optimizer": "adamw", "lr": 2e-3},
    "shifts": {"max_shift": 3},
    "flips": {"flip": True},
    "shifts+flips": {"max_shift": 2, "flip": True, "batch_size": 50},
    "mixup": {"mixup": 0.2, "max_shift": 1},
}
GRAPH_REFUSES = ("mixup", "schedule")  # left to the eager loop
GRAPHABLE = {"eager": {}, "graph": {"mixup": 0.0, "schedule": "constant"}}  # graph: what it refuses, off


def md5(*parts: object) -> str:
    """One digest of tensors (their bytes) and JSON-able values (their sorted JSON), in order."""
    h = hashlib.md5()
    for part in parts:
        if isinstance(part, torch.Tensor):
            h.update(part.detach().cpu().contiguous().numpy().tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True).encode())
    return h.hexdigest()


def run(
    name: str, model_name: str, data: TensorData | DataLoader, val: TensorData, engine: str, **changes
) -> None:
    """Train a fresh named model for two epochs of its recipe with changes; print its fingerprints."""
    torch.manual_seed(0)
    model = build_model(model_name)
    recipe = dataclasses.replace(RECIPES[model_name], epochs=2, **changes)
    history = fit(model, data, val, recipe=recipe, seed=3, progress=False, engine=engine)
    for record in history:
        del record["seconds"]
    weights = md5(*model.state_dict().values())
    print(f"{name:34} {engine:5} history {md5(history)} weights {weights} preds {md5(predict(model, val))}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.parse_args()
    torch.set_num_threads(2)
    prep = prepare_cifar2("synthetic")
    print(
        f"{'prepared synthetic':34} data {md5(prep.train.x, prep.train.y, prep.val.x, prep.val.y)}"
        f" stats {md5(prep.mean, prep.std)} summary {md5(prep.summary)}"
    )
    train = TensorData(prep.train.x[:300], prep.train.y[:300])
    val = TensorData(prep.val.x[:100], prep.val.y[:100])
    for model_name in ("baseline", "small", "deep", "best"):
        for engine in ("eager", "graph"):
            run(f"{model_name} (own recipe)", model_name, train, val, engine, **GRAPHABLE[engine])
    for variant, changes in VARIANTS.items():
        for engine in ("eager", "graph"):
            if engine == "graph" and any(k in changes for k in GRAPH_REFUSES):
                continue
            run(f"baseline + {variant}", "baseline", train, val, engine, **changes)
            sgd = {"optimizer": "sgd"} if "momentum" in changes else {}
            run(f"best + {variant}", "best", train, val, engine, **{**GRAPHABLE["graph"], **sgd, **changes})
    loader = DataLoader(
        TensorDataset(train.x, train.y),
        batch_size=64,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
    )
    run("baseline, a DataLoader", "baseline", loader, val, "eager")

    # the defaults: an array copy big enough for the default hold-out, through prepare_cifar2 and the CLI
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FFNN_LAB_ROOT"] = str(Path(tmp) / "root")
        images, labels = make_images(1100, seed=7)
        np.savez(Path(tmp) / "train.npz", data=images, targets=np.asarray(labels))
        copy = prepare_cifar2(tmp)
        tensors = md5(copy.train.x, copy.train.y, copy.val.x, copy.val.y)
        text = md5(copy.summary.replace(tmp, "DIR"))
        print(f"{'prepared array copy, defaults':34} data {tensors} summary {text}")
        out = Path(tmp) / "run.json"
        argv = ["train", "--data", tmp, "--epochs", "2", "--quiet", "--json", str(out), "--device", "cpu"]
        with contextlib.redirect_stdout(io.StringIO()):
            code = cli.main(argv)
        summary = json.loads(out.read_text())
        for key in ("seconds", "samples_per_second", "data"):
            del summary[key]
        for record in summary["history"]:
            del record["seconds"]
        print(f"{'cli train, defaults':34} exit {code} summary {md5(summary)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
