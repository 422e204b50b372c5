"""The untouched exercise's accuracy on the splits courses use, measured once and shipped with the
package (references.json), so that notebook 08's check needs no 100-epoch run on a student's machine.

An entry is found by the data's fingerprint (the images and labels as bytes, whatever the device or
torch version) together with the recipe and seed it was trained with. `tools/references.py` measures
and adds one."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data import Prepared, TensorData
from ..recipes import Recipe

TABLE = Path(__file__).with_name("references.json")


@dataclass(frozen=True)
class Reference:
    """One shipped measurement: the accuracy, which split it was measured on, and where and when."""

    accuracy: float
    data: str  # the split, in words
    measured: str  # the date, YYYY-MM-DD
    device: str  # the machine, in words
    torch: str  # torch's version
    seconds: float  # how long the training took there

    def provenance(self) -> str:
        """Where the figure comes from, in one line a student can read."""
        return (
            f"measured once for this split ({self.data}) on {self.measured}, on {self.device} with "
            f"torch {self.torch}, and shipped with ffnn-lab: nothing was trained here"
        )


def _raw_bytes(part: TensorData, mean: torch.Tensor, std: torch.Tensor) -> bytes:
    """part's images as the uint8 pixels they were made from: normalising is undone and rounded, so
    the bytes are the same on any device and torch version."""
    x = part.x.detach().to("cpu", torch.float32)
    scale = std.to("cpu", torch.float32).view(1, 3, 1, 1) * 255
    shift = mean.to("cpu", torch.float32).view(1, 3, 1, 1) * 255
    pixels = (x * scale + shift).round_().clamp_(0, 255).to(torch.uint8)
    return f"{tuple(pixels.shape)}".encode() + pixels.numpy().tobytes()


def data_fingerprint(data: Prepared) -> str:
    """A digest of data's training and validation images and labels (not of their order in memory's
    floats): the same split gives the same fingerprint on a laptop's CPU and on a GPU."""
    h = hashlib.sha256()
    for part in (data.train, data.val):
        h.update(_raw_bytes(part, data.mean, data.std))
        h.update(part.y.detach().to("cpu", torch.int64).numpy().tobytes())
    return h.hexdigest()[:24]


def _same_training(entry: dict, recipe: Recipe, seed: int) -> bool:
    return entry.get("recipe") == dataclasses.asdict(recipe) and entry.get("seed") == seed


def load(table: Path | None = None) -> list[dict]:
    """The shipped entries (an empty list when the file is missing or damaged: the check then trains);
    table defaults to TABLE, read when called."""
    try:
        entries = json.loads((table or TABLE).read_text())["references"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def lookup(fingerprint: str, recipe: Recipe, seed: int, table: Path | None = None) -> Reference | None:
    """The shipped reference for this split, recipe and seed, or None when there is none."""
    for entry in load(table):
        if entry.get("fingerprint") != fingerprint or not _same_training(entry, recipe, seed):
            continue
        try:
            reference = Reference(
                float(entry["accuracy"]),
                str(entry["data"]),
                str(entry["measured"]),
                str(entry["device"]),
                str(entry["torch"]),
                float(entry["seconds"]),
            )
        except (KeyError, TypeError, ValueError):
            continue  # a damaged entry is no reference
        if 0 <= reference.accuracy <= 1:
            return reference
    return None


def known_splits(table: Path | None = None) -> list[str]:
    """The splits the table holds a reference for, in words."""
    return [str(e.get("data", "?")) for e in load(table)]


def add(entry: dict, table: Path | None = None) -> None:
    """Add entry to the table, replacing one for the same split, recipe and seed."""
    recipe, seed = Recipe(**entry["recipe"]), entry["seed"]
    kept = [
        e
        for e in load(table)
        if not (e.get("fingerprint") == entry["fingerprint"] and _same_training(e, recipe, seed))
    ]
    about = (
        "The untouched exercise of notebook 08 (the lecture's baseline and recipe), trained once on each "
        "split below and scored on its validation images; written by tools/references.py."
    )
    text = json.dumps({"about": about, "references": [*kept, entry]}, indent=2)
    (table or TABLE).write_text(text + "\n")
