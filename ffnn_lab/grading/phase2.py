"""Phase 2, grader code only: load an exported graph, check the rules, predict the private images.

Usage: python -m ffnn_lab.grading.phase2 MODEL_FD IMAGES_FD
Reads the graph file and the images (.npy) from inherited file descriptors, so no host path shows
inside its sandbox. Prints one JSON object: {"problems": [...]}, {"predictions": [...], "device": ...}
or {"error": "..."}. It never sees labels: the grader compares the predictions with them itself.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch

from ..errors import first_line
from .graph import ExportError, load_graph
from .rules import batch_problems, rule_problems


def score(model: bytes, images: np.ndarray) -> dict:
    """The graph's predicted class for every image, or the rule problems that stop it being scored."""
    graph = load_graph(model)
    problems = rule_problems(graph)
    if problems:
        return {"problems": problems}
    x = torch.from_numpy(images)
    problems, first = batch_problems(graph, x)
    if problems:
        return {"problems": problems}
    if not torch.isfinite(first).all():
        bad = int((~torch.isfinite(first)).any(dim=1).sum())
        raise ExportError(f"`model` returned NaN or infinite scores for {bad} of {len(x)} images")
    return {"predictions": first.argmax(dim=1).tolist(), "device": graph.device}


def main() -> int:
    with open(f"/proc/self/fd/{int(sys.argv[1])}", "rb") as f:  # a description of its own: offset 0
        model = f.read()
    with open(f"/proc/self/fd/{int(sys.argv[2])}", "rb") as f:
        images = np.load(f, allow_pickle=False)
    try:
        result = score(model, images)
    except ExportError as e:
        result = {"error": str(e)}
    except Exception as e:  # a forged graph can make an allowed op fail: that is the submission's problem
        result = {
            "error": "the exported model failed on the graded images: "
            f"{type(e).__name__}: {first_line(e, 200)}"
        }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
