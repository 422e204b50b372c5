"""A model as a file that loads without running anyone's Python: a JSON graph of allowed ops and weights.

`export_model` (run where the model lives, e.g. the student's kernel) traces it with torch.export and
writes one .npz: the graph as a JSON string plus one array per weight. `load_graph` reads such a file
with numpy's pickle-free loader and checks its form; `rule_problems` says which operations break the
exercise's rules; `run_graph` evaluates the graph with a fixed table of aten operations. The file is
untrusted: anything in it may have been forged, so every field is validated before use.
(torch.export.load is not used: it falls back to unpickling when its safe path fails.)
"""

from __future__ import annotations

import copy
import io
import json
import logging
import operator
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import first_line

FORMAT = "ffnn-lab-graph"
BATCH = 100  # the graph is traced for batches of exactly this many images; the scorer pads the last
INPUT_SHAPE = (3, 32, 32)
MAX_NODES = 10_000
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")

# The exercise's model family, as aten operations: linear maps, elementwise functions, reshaping,
# normalisation and dropout. Everything else, convolution and pooling included, breaks the rules.
LINEAR = {
    "linear.default",
    "addmm.default",
    "mm.default",
    "matmul.default",
    "t.default",
    "transpose.int",
    "permute.default",
}
SHAPE = {
    "view.default",
    "reshape.default",
    "_unsafe_view.default",
    "flatten.using_ints",
    "unflatten.int",
    "squeeze.dim",
    "squeeze.dims",
    "unsqueeze.default",
    "contiguous.default",
    "clone.default",
    "alias.default",
    "detach.default",
    "detach_.default",
    "lift_fresh_copy.default",
    "_to_copy.default",
    "to.dtype",
}
ELEMENTWISE = (
    {
        f"{op}.default"
        for op in (
            "relu",
            "relu_",
            "tanh",
            "tanh_",
            "sigmoid",
            "sigmoid_",
            "gelu",
            "silu",
            "silu_",
            "elu",
            "selu",
            "celu",
            "leaky_relu",
            "hardtanh",
            "hardtanh_",
            "hardswish",
            "hardsigmoid",
            "mish",
            "softplus",
            "log_sigmoid",
            "prelu",
            "_prelu_kernel",
            "threshold",
            "abs",
            "neg",
            "exp",
            "log",
            "sqrt",
            "rsqrt",
            "square",
            "clamp",
            "clamp_min",
            "clamp_max",
            "sin",
            "cos",
            "sign",
            "erf",
            "reciprocal",
        )
    }
    | {
        f"{op}.{kind}"
        for op in ("add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_")
        for kind in ("Tensor", "Scalar")
    }
    | {"rsub.Scalar", "pow.Tensor_Scalar"}
)
NORMALISATION = {
    "batch_norm.default",
    "_native_batch_norm_legit_no_training.default",
    "layer_norm.default",
    "native_layer_norm.default",
    "group_norm.default",
    "rms_norm.default",
}
DROPOUT = {
    "dropout.default",
    "native_dropout.default",
    "alpha_dropout.default",
    "feature_dropout.default",
    "feature_alpha_dropout.default",
}
OUTPUT = {"softmax.int", "log_softmax.int", "_softmax.default", "_log_softmax.default"}
ALLOWED = LINEAR | SHAPE | ELEMENTWISE | NORMALISATION | DROPOUT | OUTPUT | {"getitem"}
FORBIDDEN_KINDS = [
    ("conv", "a convolution"),
    ("pool", "pooling"),
    ("unfold", "patch extraction"),
    ("im2col", "patch extraction"),
    ("upsample", "resampling"),
    ("grid_sampler", "resampling"),
    ("roll", "shifting by position"),
    ("gather", "indexing by position"),
    ("index", "indexing by position"),
    ("embedding", "a lookup table"),
]
# where each op's `training` flag sits among its arguments: True at grading time is refused
TRAINING_FLAG = {
    "batch_norm.default": 5,
    "dropout.default": 2,
    "native_dropout.default": 2,
    "alpha_dropout.default": 2,
    "feature_dropout.default": 2,
    "feature_alpha_dropout.default": 2,
}
DTYPES = {"float32", "float64", "float16", "bfloat16", "int64", "int32", "bool"}


class ExportError(ValueError):
    """The model could not be turned into a graph file; the message says what to change."""


@dataclass
class Graph:
    """A validated graph: nodes in order, the weights they refer to, the input and output names."""

    nodes: list[dict]
    weights: dict[str, torch.Tensor]
    input: str
    output: str

    def ops(self) -> list[str]:
        """Each distinct operation, in order of first use."""
        return list(dict.fromkeys(n["op"] for n in self.nodes))


# --- exporting (where the model lives) -------------------------------------------------------------


def _encode(arg, names: set[str]):
    if isinstance(arg, torch.fx.Node):
        return {"ref": arg.name}
    if isinstance(arg, (list, tuple)):
        return [_encode(a, names) for a in arg]
    if arg is None or isinstance(arg, (bool, int, float, str)):
        return arg
    if isinstance(arg, torch.dtype):
        return {"dtype": str(arg).removeprefix("torch.")}
    if isinstance(arg, (torch.device, torch.memory_format, torch.layout)):
        return None  # placement and layout hints: the scorer runs on the CPU in its own layout
    raise ExportError(f"an argument of type {type(arg).__name__} cannot be saved in the graph")


def _op_name(target) -> str:
    if target is operator.getitem:
        return "getitem"
    if isinstance(target, torch._ops.OpOverload):
        return str(target).removeprefix("aten.")
    return getattr(target, "__name__", repr(target))


def to_graph(model: nn.Module) -> tuple[dict, dict[str, np.ndarray]]:
    """model traced on a CPU copy in eval mode, as (JSON-ready graph, weights); raises ExportError."""
    if not isinstance(model, nn.Module):
        raise ExportError(f"`model` is a {type(model).__name__}, not a torch.nn.Module")
    model = copy.deepcopy(model).cpu().eval()  # the student's own model stays where it was
    tracer_log = logging.getLogger("torch._subclasses.fake_tensor")
    level = tracer_log.level
    tracer_log.setLevel(logging.CRITICAL)  # a failed trace is reported below in one line, not logged twice
    try:
        program = torch.export.export(model, (torch.zeros(BATCH, *INPUT_SHAPE),))
    except Exception as e:  # the student's forward: any failure is feedback
        first = first_line(e)
        raise ExportError(
            f"`model` failed on a batch of images shaped {(BATCH, *INPUT_SHAPE)}: "
            f"{type(e).__name__}: {first.rstrip('.')}. It must take normalised images (N, 3, 32, 32): "
            "start it with nn.Flatten()"
        ) from None
    finally:
        tracer_log.setLevel(level)
    weights, user_input = {}, None
    for spec in program.graph_signature.input_specs:
        kind = spec.kind.name
        if kind == "USER_INPUT":
            user_input = spec.arg.name
        elif kind in {"PARAMETER", "BUFFER"}:
            weights[spec.arg.name] = program.state_dict[spec.target]
        elif kind == "CONSTANT_TENSOR":
            weights[spec.arg.name] = program.constants[spec.target]
        else:
            raise ExportError(f"`model` holds a {kind.lower()} input, which a plain network does not")
    nodes, output = [], None
    for node in program.graph.nodes:
        if node.op == "call_function":
            nodes.append(
                {
                    "name": node.name,
                    "op": _op_name(node.target),
                    "args": _encode(list(node.args), set()),
                    "kwargs": {k: _encode(v, set()) for k, v in node.kwargs.items()},
                }
            )
        elif node.op == "output":
            outs = node.args[0]
            if len(outs) != 1 or not isinstance(outs[0], torch.fx.Node):
                raise ExportError("`model` must return one tensor of scores, not several outputs")
            output = outs[0].name
            shape = tuple(getattr(outs[0].meta.get("val"), "shape", ()))
            if shape != (BATCH, 2):
                raise ExportError(
                    f"`model` must return 2 scores per image, shape (N, 2); it returned "
                    f"{shape} for {BATCH} images"
                )
    graph = {
        "format": FORMAT,
        "version": 1,
        "batch": BATCH,
        "input": user_input,
        "output": output,
        "nodes": nodes,
    }
    return graph, {name: t.detach().cpu().numpy() for name, t in weights.items()}


def export_model(model: nn.Module, path: str | Path) -> None:
    """Write model as a graph file (.npz) that load_graph reads without running Python code."""
    graph, weights = to_graph(model)
    arrays: dict[str, Any] = {"__graph__": np.array(json.dumps(graph))}
    arrays.update((f"w_{k}", v) for k, v in weights.items())
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    Path(path).write_bytes(buf.getvalue())


# --- loading and checking (the grader's side: the file is untrusted) -------------------------------


def _check_arg(arg, known: set[str], where: str) -> None:
    if isinstance(arg, list):
        for a in arg:
            _check_arg(a, known, where)
    elif isinstance(arg, dict):
        if set(arg) == {"ref"} and isinstance(arg["ref"], str) and arg["ref"] in known:
            return
        if set(arg) == {"dtype"} and arg["dtype"] in DTYPES:
            return
        raise ExportError(f"{where}: an argument refers to nothing known ({str(arg)[:80]})")
    elif not (arg is None or isinstance(arg, (bool, int, float, str))):
        raise ExportError(f"{where}: an argument of an unexpected kind")


def load_graph(data: bytes) -> Graph:
    """Parse and validate a graph file's bytes (no pickle, no code); raises ExportError."""
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("a single array, not a graph file")
        with loaded as z:
            arrays = {k: z[k] for k in z.files}
        spec = json.loads(str(arrays.pop("__graph__")))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise ExportError(f"the exported model is not a readable graph file ({type(e).__name__})") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT or spec.get("version") != 1:
        raise ExportError("the exported model is not a graph file of this grader's format")
    nodes, inp, out = spec.get("nodes"), spec.get("input"), spec.get("output")
    if not (
        isinstance(nodes, list)
        and 0 < len(nodes) <= MAX_NODES
        and isinstance(inp, str)
        and isinstance(out, str)
        and spec.get("batch") == BATCH
    ):
        raise ExportError("the exported model's graph is malformed")
    weights = {}
    for key, value in arrays.items():
        name = key.removeprefix("w_")
        if not key.startswith("w_") or not NAME.fullmatch(name) or value.dtype.kind not in "fiub":
            raise ExportError("the exported model holds something that is not a numeric weight")
        weights[name] = torch.from_numpy(np.ascontiguousarray(value))
    known = set(weights) | {inp}
    for i, node in enumerate(nodes):
        if not (
            isinstance(node, dict)
            and set(node) == {"name", "op", "args", "kwargs"}
            and isinstance(node["name"], str)
            and NAME.fullmatch(node["name"])
            and node["name"] not in known
            and isinstance(node["op"], str)
            and isinstance(node["args"], list)
            and isinstance(node["kwargs"], dict)
        ):
            raise ExportError(f"node {i} of the exported graph is malformed")
        _check_arg(node["args"], known, f"node {node['name']}")
        _check_arg(list(node["kwargs"].values()), known, f"node {node['name']}")
        known.add(node["name"])
    if out not in known:
        raise ExportError("the exported graph's output is not one of its nodes")
    return Graph(nodes, weights, inp, out)


def describe_op(op: str) -> str:
    """What kind of operation op is, for a message: 'a convolution', 'pooling', ..."""
    return next((what for key, what in FORBIDDEN_KINDS if key in op), "not one of the allowed operations")


def rule_problems(graph: Graph) -> list[str]:
    """Each operation that breaks the exercise's rules, named; [] when the graph follows them."""
    problems = [f"aten.{op} ({describe_op(op)})" for op in graph.ops() if op not in ALLOWED]
    for node in graph.nodes:  # batch statistics or random masks at grading time would change the scores
        i = TRAINING_FLAG.get(node["op"])
        if i is None:
            continue
        args, kwargs = node["args"], node["kwargs"]
        flag = args[i] if len(args) > i else kwargs.get("training", kwargs.get("train"))
        if flag is not False:
            problems.append(f"aten.{node['op']} in training mode (the graded model must be in eval mode)")
    return list(dict.fromkeys(problems))


def _resolve(arg, values: dict):
    if isinstance(arg, list):
        return [_resolve(a, values) for a in arg]
    if isinstance(arg, dict):
        return values[arg["ref"]] if "ref" in arg else getattr(torch, arg["dtype"])
    return arg


def _function(op: str):
    if op == "getitem":
        return operator.getitem
    name, overload = op.rsplit(".", 1)
    return getattr(getattr(torch.ops.aten, name), overload)


@torch.no_grad()
def run_graph(graph: Graph, x: torch.Tensor) -> torch.Tensor:
    """The graph's output for a batch x of BATCH images; only ALLOWED operations run."""
    if rule_problems(graph):
        raise ExportError("the graph uses operations outside the rules")
    if tuple(x.shape) != (BATCH, *INPUT_SHAPE):
        raise ValueError(f"run_graph takes batches shaped {(BATCH, *INPUT_SHAPE)}, not {tuple(x.shape)}")
    values = {**graph.weights, graph.input: x}
    for node in graph.nodes:
        args = _resolve(node["args"], values)
        kwargs = {k: _resolve(v, values) for k, v in node["kwargs"].items()}
        if node["op"] == "getitem" and not (
            len(args) == 2 and isinstance(args[1], int) and isinstance(args[0], (tuple, list))
        ):
            raise ExportError(f"node {node['name']}: getitem only picks one output of an operation")
        values[node["name"]] = _function(node["op"])(*args, **kwargs)
    out = values[graph.output]
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (BATCH, 2):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ExportError(
            f"`model` must return 2 scores per image, shape (N, 2); it returned {shape} for {BATCH} images"
        )
    return out
