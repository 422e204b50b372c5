"""The exercise's rules, checked by structure: what each operation of an exported graph is applied to.

After one flatten of each whole image, only linear maps with fixed weights, elementwise functions,
reductions and normalisation over an image's own features, dropout and a softmax over the scores;
and every image's scores must depend on that image alone. The same words answer the student's
contract() in notebook 08 and the grader's phase 2.
"""

from __future__ import annotations

import torch

from ..errors import first_line
from .graph import BATCH, INPUT_SHAPE, Graph, evaluate, scores
from .ops import (
    ALLOWED,
    BROADCAST,
    DIM_SLOT,
    DROPOUT,
    ELEMENTWISE,
    FEATURE_WISE,
    FORBIDDEN_KINDS,
    LINEAR,
    NORMALISATION,
    OUTPUT,
    PASS_THROUGH,
    RESHAPE,
    TRAINING_FLAG,
    WEIGHT_ONLY,
)

SAME_SCORES = 1e-4  # one image's scores in two batch compositions may differ by round-off, not more
RULES = (
    "the rules allow one flatten of each whole image, then linear layers, elementwise activations, "
    "normalisation and dropout; no convolution, pooling or rearranging of activations"
)
FEATURES = INPUT_SHAPE[0] * INPUT_SHAPE[1] * INPUT_SHAPE[2]


def describe_op(op: str) -> str:
    """What kind of operation op is, for a message: 'a convolution', 'pooling', ..."""
    return next((what for key, what in FORBIDDEN_KINDS if key in op), "not one of the allowed operations")


def rule_problems(graph: Graph) -> list[str]:
    """Each way the graph breaks the exercise's rules, in words; [] when it follows them. The same
    words answer the student's contract() in notebook 08 and the grader's phase 2."""
    unknown = [f"aten.{op} ({describe_op(op)})" for op in graph.ops() if op not in ALLOWED]
    if unknown:
        return list(dict.fromkeys(unknown))  # nothing outside the table is run, not even on zeros
    problems = []
    for node in graph.nodes:  # batch statistics or random masks at grading time would change the scores
        i = TRAINING_FLAG.get(node["op"])
        if i is None:
            continue
        args, kwargs = node["args"], node["kwargs"]
        flag = args[i] if len(args) > i else kwargs.get("training", kwargs.get("train"))
        if flag is not False:
            problems.append(
                f"aten.{node['op']} uses the batch's own statistics (BatchNorm1d with "
                "track_running_stats=False: keep the default)"
                if node["op"].startswith("batch_norm")
                else f"aten.{node['op']} in training mode (the graded model must be in eval mode)"
            )
    try:
        values = evaluate(graph, torch.zeros(BATCH, *INPUT_SHAPE, dtype=graph.input_dtype))
    except Exception as e:  # a forged graph can make an allowed op fail
        return [
            *problems,
            f"the graph fails on a batch of blank images ({type(e).__name__}: {first_line(e, 120)})",
        ]
    problems += _structure(graph, values)
    return list(dict.fromkeys(problems))


def _refs(arg) -> list[str]:
    """The names an encoded argument refers to, in order."""
    if isinstance(arg, list):
        return [r for a in arg for r in _refs(a)]
    if isinstance(arg, dict) and "ref" in arg:
        return [arg["ref"]]
    return []


def _shape(value) -> tuple:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else ()


def _structure(graph: Graph, values: dict) -> list[str]:
    """The rules by structure: what each operation is applied to. Values are the graph run on blank
    images (for shapes). Kinds: weights ('const'), whole images ('image') and, after a flatten of
    each whole image, its activation vector ('act', shape (N, D))."""
    kind = {name: "const" for name in graph.weights}
    kind[graph.input] = "image"
    problems = []
    for node in graph.nodes:
        op, name, args = node["op"], node["name"], node["args"]
        refs = _refs(args) + _refs(list(node["kwargs"].values()))
        kinds = {kind[r] for r in refs}
        if op.endswith("_.Tensor") or op.endswith("_.Scalar") or op.endswith("_.default"):
            if args and _refs(args[:1]) and kind[_refs(args[:1])[0]] == "const":
                problems.append(
                    f"aten.{op} changes a weight in place: the graded model's weights must stay fixed"
                )
        if kinds <= {"const"}:
            kind[name] = "const"
            continue
        if "image" in kinds:
            kind[name] = "image"
            if "act" in kinds:
                problems.append(f"aten.{op} combines whole images with activations after the flatten")
            elif op in RESHAPE and _shape(values[name]) == (BATCH, FEATURES):
                kind[name] = "act"  # the one flatten: each image becomes its 3,072 values
            elif not (op in PASS_THROUGH | DROPOUT or _per_pixel(op, refs, kind, values, name)):
                problems.append(
                    f"aten.{op} on the images before the flatten: only a flatten of each whole image "
                    "may come first"
                )
            continue
        kind[name] = "act"
        problems += _on_activations(node, refs, kind, values)
    if kind.get(graph.output) != "act":
        problems.append("the scores do not come from the flattened images: start the model with nn.Flatten()")
    return problems


def _per_pixel(op: str, refs: list[str], kind: dict, values: dict, name: str) -> bool:
    """An elementwise op on images with fixed numbers per channel or per image (e.g. normalising)."""
    if op not in ELEMENTWISE or _shape(values[name]) != (BATCH, *INPUT_SHAPE):
        return False
    return all(
        kind[r] == "image" or values[r].numel() <= FEATURES and _shape(values[r])[:1] in ((), (1,), (3,))
        for r in refs
    )


def _on_activations(node: dict, refs: list[str], kind: dict, values: dict) -> list[str]:
    """What may be done to activation vectors: linear maps with fixed weights, elementwise functions,
    reductions and normalisation over an image's own features, joining feature vectors, dropout, a
    softmax over the scores. Reshaping, permuting or multiplying activations with each other is where
    pooling and patches hide; a fixed number per batch position would make scores depend on the batch."""
    op, name, args = node["op"], node["name"], node["args"]
    shape = _shape(values[name])
    acts = [r for r in refs if kind[r] == "act"]
    consts = [r for r in refs if kind[r] == "const"]
    where = f"aten.{op} on the activations after the flatten"
    if op in LINEAR:
        operands = _refs(args)
        data_slot = 1 if op == "addmm.default" else 0  # addmm(bias, input, weight)
        if len(acts) > 1:
            return [
                f"{where} multiplies activations with each other (a linear layer multiplies them by weights)"
            ]
        if operands[data_slot : data_slot + 1] != acts:
            return [
                f"{where} multiplies the activations from the left: a linear layer takes them as its input"
            ]
        bias = {"addmm.default": 0, "linear.default": 2}.get(op)
        for i, arg in enumerate(args):
            ref = _refs([arg])
            if i == bias and ref and not _per_feature(_shape(values[ref[0]]), shape):
                return [f"{where} adds a bias shaped {_shape(values[ref[0]])}: {PER_IMAGE}"]
    elif op in RESHAPE:
        if _squeezed(shape) != _squeezed(_shape(values[acts[0]])):
            return [
                f"{where} reshapes them {_shape(values[acts[0]])} -> {shape}: rearranging activations "
                "is how pooling and patches are rebuilt, so it is not allowed"
            ]
    elif op in WEIGHT_ONLY:
        return [f"{where} rearranges them: only weights may be transposed or permuted"]
    elif op in ELEMENTWISE:
        for r in acts:
            if not _same_image(_shape(values[r]), shape):
                return [f"{where} combines activations of different shapes"]
        for r in consts:
            if not _per_feature(_shape(values[r]), shape):
                return [f"{where} uses fixed numbers shaped {_shape(values[r])}: {PER_IMAGE}"]
    elif op in OUTPUT | FEATURE_WISE:
        slot = DIM_SLOT.get(op, 1)
        dim = (
            args[slot] if len(args) > slot else node["kwargs"].get("dim", -1 if op == "glu.default" else None)
        )
        dims = dim if isinstance(dim, list) else [dim]
        if not dims or any(d not in (1, -1) for d in dims) or len(_shape(values[acts[0]])) != 2:
            return [f"{where} works over dim {dim}: only over each image's own features (dim 1) is allowed"]
    elif op in BROADCAST:
        if len(_squeezed(_shape(values[acts[0]]))) != 1:
            return [f"{where} repeats them: only one number per image may be spread over its features"]
    elif op == "cat.default":
        dim = args[1] if len(args) > 1 else node["kwargs"].get("dim", 0)
        if consts or dim not in (1, -1):
            return [f"{where} joins them along dim {dim}: only activation vectors, side by side (dim 1)"]
    elif op in NORMALISATION and op.startswith(("layer_norm", "native_layer_norm", "rms_norm")):
        normalised = args[1] if len(args) > 1 else None
        if list(normalised or []) != list(shape[-1:]):
            return [f"{where} normalises over {normalised}, not over each image's features"]
    if op != "getitem" and not (shape and shape[0] == BATCH and len(_squeezed(shape)) <= 2):
        return [f"{where} makes them {shape}: activations stay one vector per image, (N, features)"]
    return []


def _squeezed(shape: tuple) -> tuple:
    """The shape without its size-1 dimensions after the batch's: (N, 1, D) and (N, D) are the same."""
    return shape[:1] + tuple(size for size in shape[1:] if size != 1)


def _same_image(a: tuple, b: tuple) -> bool:
    """Whether two activations are each image's own: the same shape, or one number per image."""
    return a == b or (a[:1] == b[:1] and (len(_squeezed(a)) == 1 or len(_squeezed(b)) == 1))


def _per_feature(const: tuple, act: tuple) -> bool:
    """Whether a fixed tensor broadcasts over the batch: one number, or one per feature."""
    return all(size == 1 for size in const[:-1]) and (not const or const[-1] in (1, act[-1] if act else 1))


PER_IMAGE = (
    "they differ from image to image in a batch, and each image's scores must depend on that image alone"
)


def batch_problems(graph: Graph, x: torch.Tensor) -> tuple[list[str], torch.Tensor]:
    """Score every image twice, in two compositions of batches: ([] and the scores) when each image's
    scores stay the same, else the words saying they do not (what no structure check can see)."""
    first = scores(graph, x)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    second = torch.empty_like(first)
    second[order] = scores(graph, x[order])
    moved = ~torch.isclose(first, second, rtol=SAME_SCORES, atol=SAME_SCORES).all(dim=1)
    if not moved.any():
        return [], first
    return [
        f"the scores of {int(moved.sum())} of {len(x)} images changed when the same images were scored "
        f"in other batches: {PER_IMAGE}"
    ], first
