"""Phase 2, grader code only: load an exported graph, check the rules, predict the private images.

Usage: python -m ffnn_lab.grading.phase2 MODEL_NPZ IMAGES_NPY
Prints one JSON object: {"ops": [...], "problems": [...], "predictions": [...]} or {"error": "..."}.
It never sees labels: the grader compares the predictions with them in its own process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from ..errors import first_line
from .graph import BATCH, ExportError, load_graph, rule_problems, run_graph


def score(model: bytes, images: np.ndarray) -> dict:
    """The graph's predicted class for every image, or the rule problems that stop it being scored."""
    graph = load_graph(model)
    problems = rule_problems(graph)
    if problems:
        return {"ops": graph.ops(), "problems": problems}
    x = torch.from_numpy(images)
    predictions = []
    for i in range(0, len(x), BATCH):
        batch = x[i : i + BATCH]
        n = len(batch)
        if n < BATCH:  # the graph was traced for full batches: pad with blank images, drop their scores
            batch = torch.cat([batch, batch.new_zeros(BATCH - n, *batch.shape[1:])])
        scores = run_graph(graph, batch)[:n]
        if not torch.isfinite(scores).all():
            bad = int((~torch.isfinite(scores)).any(dim=1).sum())
            raise ExportError(f"`model` returned NaN or infinite scores for {bad} of {n} images")
        predictions += scores.argmax(dim=1).tolist()
    return {"ops": graph.ops(), "problems": [], "predictions": predictions}


def main() -> int:
    model, images = Path(sys.argv[1]).read_bytes(), np.load(sys.argv[2], allow_pickle=False)
    try:
        result = score(model, images)
    except ExportError as e:
        result = {"error": str(e)}
    except Exception as e:  # a forged graph can make an allowed op fail: that is the submission's problem
        result = {
            "error": f"the exported model failed on the graded images: {type(e).__name__}: "
            f"{first_line(e, 200)}"
        }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
