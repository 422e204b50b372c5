"""Measure the untouched exercise once on a split and ship it (ffnn_lab/grading/references.json).

python tools/references.py --data DIR [--holdout 2000] [--split-seed 0] --describe "WHAT SPLIT"

Trains notebook 08's untouched cell (the lecture's baseline and recipe, seed 0) at full length on the
split that `ffnn_lab.prepare_cifar2(DIR, holdout=..., split_seed=...)` gives, scores it on that split's
validation images, and adds the figure with the date, the machine and torch's version. Notebook 08's
check then finds it by the data's fingerprint and trains nothing. Run it on the CPU or a GPU; either
gives a figure within a few tenths of a point of the other (float rounding and thread order differ).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's ffnn_lab

from ffnn_lab import config, prepare_cifar2  # noqa: E402
from ffnn_lab.device import resolve_device  # noqa: E402
from ffnn_lab.grading import exercise, references  # noqa: E402


def machine(device: torch.device) -> str:
    """The device in words: the GPU's name, or the CPU's model and how many cores torch used."""
    if device.type == "cuda":
        return f"a {torch.cuda.get_device_name(device)} GPU"
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"a {torch.get_num_threads()}-core CPU ({model})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the copy of CIFAR-10, as for ffnn-lab train --data")
    parser.add_argument("--holdout", type=int, default=2000)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--describe", required=True, help="the split in words, as students will read it")
    parser.add_argument("--table", type=Path, default=None, help="default: the shipped table")
    args = parser.parse_args()
    if config.quick_mode():
        print("unset FFNN_LAB_QUICK: a shipped reference is measured at full length", file=sys.stderr)
        return 2
    device = resolve_device(args.device)
    data = prepare_cifar2(args.data, device, holdout=args.holdout, split_seed=args.split_seed)
    print(data.summary, flush=True)
    fingerprint = references.data_fingerprint(data)
    start = time.perf_counter()
    accuracy = exercise.train_reference(data.train, data.val.x, data.val.y, progress=True)
    seconds = time.perf_counter() - start
    entry = {
        "data": args.describe,
        "fingerprint": fingerprint,
        "recipe": dataclasses.asdict(exercise.RECIPE),
        "seed": exercise.SEED,
        "accuracy": round(accuracy, 6),  # a share of whole images: no float32 tail
        "n_train": len(data.train),
        "n_val": len(data.val),
        "measured": datetime.date.today().isoformat(),
        "device": machine(device),
        "torch": torch.__version__,
        "seconds": round(seconds, 1),
        "load": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,  # how busy the machine was
    }
    references.add(entry, args.table)
    print(
        f"{accuracy:.4f} in {seconds:.0f} s on {entry['device']}; "
        f"fingerprint {fingerprint}; wrote {args.table or references.TABLE}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
