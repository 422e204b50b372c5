"""A model as a file that loads without running anyone's Python: a JSON graph of allowed ops and weights.

`export_model` (run where the model lives, e.g. the student's kernel) traces it with torch.export and
writes one .npz: the graph as a JSON string plus one array per weight. `load_graph` reads such a file
with numpy's pickle-free loader and checks its form; `run_graph` evaluates the graph with the
operations of ops.py alone (rules.py says how they may be combined). The file is untrusted:
anything in it may have been forged, so every field is validated before use.
(torch.export.load is not used: it falls back to unpickling when its safe path fails.)
"""

from __future__ import annotations

import contextlib
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
from .ops import ALLOWED, DROPPED

FORMAT = "ffnn-lab-graph"
BATCH = 100  # the graph is traced for batches of exactly this many images; the scorer pads the last
INPUT_SHAPE = (3, 32, 32)
MAX_NODES = 10_000
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
DATA_DEPENDENT = re.compile(r"data.dependent|GuardOnDataDependent|[Dd]ynamic control flow|UserError.*guard")
SHAPE_TROUBLE = re.compile(
    r"shapes? cannot be multiplied|size mismatch|same reduction dim|mat1 and mat2|[Ee]xpected .*dim"
    r"|shape '?\["
)
SCORES_SHAPE = "2 scores per image, shape (N, 2)"
DTYPES = {"float32", "float64", "float16", "bfloat16", "int64", "int32", "bool"}
INPUT_DTYPES = {"float32", "float64"}  # half-precision models are exported in float32


class ExportError(ValueError):
    """The model could not be turned into a graph file; the message says what to change."""


@dataclass
class Graph:
    """A validated graph: nodes in order, the weights they refer to, the input and output names."""

    nodes: list[dict]
    weights: dict[str, torch.Tensor]
    input: str
    output: str
    input_dtype: torch.dtype = torch.float32  # what the model computes in: images are cast to it
    device: str = "cpu"  # where `model` was when it was exported (for the report; not trusted)

    def ops(self) -> list[str]:
        """Each distinct operation, in order of first use."""
        return list(dict.fromkeys(n["op"] for n in self.nodes))


# --- exporting (where the model lives) -------------------------------------------------------------


def _encode(arg, constants: dict):
    if isinstance(arg, torch.fx.Node):
        value = constants.get(arg.name)
        if arg.name in constants and not isinstance(value, torch.Tensor):
            return _encode(value, constants)  # a number computed from the weights
        return {"ref": arg.name}
    if isinstance(arg, (list, tuple)):
        return [_encode(a, constants) for a in arg]
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


def _trace_dtype(model: nn.Module) -> torch.dtype:
    """The dtype the model computes in: its first floating-point parameter's (float32 without one)."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)


def _export_failure(e: Exception, dtype: torch.dtype) -> ExportError:
    """The failure of tracing the student's forward, with the hint that fits it."""
    text = f"{type(e).__name__}: {first_line(e).rstrip('.')}"
    shape = (BATCH, *INPUT_SHAPE)
    if DATA_DEPENDENT.search(text):
        hint = (
            "its forward takes a branch (an `if` or a loop) that depends on the values in a tensor; the "
            "grader needs the same operations for every image: write the choice with torch.where, or drop it"
        )
    elif SHAPE_TROUBLE.search(text):
        hint = "it must take normalised images (N, 3, 32, 32): start it with nn.Flatten()"
    else:
        hint = f"it must run on {str(dtype).removeprefix('torch.')} images shaped (N, 3, 32, 32)"
    return ExportError(f"`model` failed on a batch of images shaped {shape}: {text}. Hint: {hint}")


def to_graph(model: nn.Module) -> tuple[dict, dict[str, np.ndarray]]:
    """model traced on a CPU copy in eval mode, as (JSON-ready graph, weights); raises ExportError.

    Whatever depends on the weights alone (a weight_norm or spectral_norm parametrisation, a
    transpose) is computed here and stored as a plain weight, so the graph holds only the work done
    on images; assertions torch.export adds for dtype conversions are left out."""
    if not isinstance(model, nn.Module):
        raise ExportError(f"`model` is a {type(model).__name__}, not a torch.nn.Module")
    device = next((p.device.type for p in model.parameters()), "cpu")
    model = copy.deepcopy(model).cpu().eval()  # the student's own model stays where it was
    dtype = _trace_dtype(model)
    if dtype not in (
        torch.float32,
        torch.float64,
    ):  # half precision: scored in float32 (NumPy has no bfloat16)
        model, dtype = model.float(), torch.float32
    logging.disable(logging.CRITICAL)  # a failed trace is reported below in one line, not logged as well
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            program = torch.export.export(model, (torch.zeros(BATCH, *INPUT_SHAPE, dtype=dtype),))
    except Exception as e:  # the student's forward: any failure is feedback
        raise _export_failure(e, dtype) from None
    finally:
        logging.disable(logging.NOTSET)
    mutated = [s.target for s in program.graph_signature.output_specs if s.kind.name != "USER_OUTPUT"]
    if mutated:
        raise ExportError(
            f"`model` changes its own state while it runs ({', '.join(map(str, mutated[:3]))}): the graded "
            "model must give each image the same scores whatever came before it"
        )
    constants: dict[str, torch.Tensor] = {}
    user_input = None
    for spec in program.graph_signature.input_specs:
        kind = spec.kind.name
        if kind == "USER_INPUT":
            user_input = spec.arg.name
        elif kind in {"PARAMETER", "BUFFER"}:
            constants[spec.arg.name] = program.state_dict[spec.target]
        elif kind == "CONSTANT_TENSOR":
            constants[spec.arg.name] = program.constants[spec.target]
        else:
            raise ExportError(f"`model` holds a {kind.lower()} input, which a plain network does not")
    used = {a.name for node in program.graph.nodes for a in node.all_input_nodes}
    nodes, weights, output = [], {}, None
    for node in program.graph.nodes:
        if node.op == "call_function":
            if node.name not in used and _op_name(node.target) in DROPPED:
                continue  # a check torch.export inserts; it computes nothing
            inputs = node.all_input_nodes
            if all(a.name in constants for a in inputs):  # weights in, weights out: compute it now
                args = fx_map(node.args, lambda a: constants[a.name])
                kwargs = fx_map(node.kwargs, lambda a: constants[a.name])
                with torch.no_grad():
                    constants[node.name] = node.target(*args, **kwargs)
                continue
            for a in inputs:
                if a.name in constants and isinstance(constants[a.name], torch.Tensor):
                    weights[a.name] = constants[a.name]
            nodes.append(
                {
                    "name": node.name,
                    "op": _op_name(node.target),
                    "args": _encode(list(node.args), constants),
                    "kwargs": {k: _encode(v, constants) for k, v in node.kwargs.items()},
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
                    f"`model` must return {SCORES_SHAPE}; it returned {shape} for {BATCH} images"
                )
    if output is None or output in constants:
        raise ExportError("`model`'s scores do not depend on the image it is given")
    graph = {
        "format": FORMAT,
        "version": 1,
        "batch": BATCH,
        "input": user_input,
        "input_dtype": str(dtype).removeprefix("torch."),
        "device": device,
        "output": output,
        "nodes": nodes,
    }
    return graph, {name: t.detach().cpu().numpy() for name, t in weights.items()}


def fx_map(arg, fn):
    """arg with every fx Node in it (nested in lists, tuples and dicts) replaced by fn(node)."""
    if isinstance(arg, torch.fx.Node):
        return fn(arg)
    if isinstance(arg, (list, tuple)):
        return type(arg)(fx_map(a, fn) for a in arg)
    if isinstance(arg, dict):
        return {k: fx_map(v, fn) for k, v in arg.items()}
    return arg


def export_bytes(model: nn.Module) -> bytes:
    """model as a graph file (.npz) that load_graph reads without running Python code."""
    graph, weights = to_graph(model)
    arrays: dict[str, Any] = {"__graph__": np.array(json.dumps(graph))}
    arrays.update((f"w_{k}", v) for k, v in weights.items())
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def export_model(model: nn.Module, path: str | Path) -> None:
    """Write model's graph file to path (phase 1's last cell does this in the student's kernel)."""
    Path(path).write_bytes(export_bytes(model))


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
    dtype, device = spec.get("input_dtype", "float32"), spec.get("device", "cpu")
    if dtype not in INPUT_DTYPES or not (isinstance(device, str) and NAME.fullmatch(device)):
        raise ExportError("the exported model's graph is malformed")
    return Graph(nodes, weights, inp, out, getattr(torch, dtype), device)


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
def evaluate(graph: Graph, x: torch.Tensor) -> dict:
    """Every node's value for the batch x (ALLOWED operations only; the caller checks the rules)."""
    values = {**graph.weights, graph.input: x.to(graph.input_dtype)}
    for node in graph.nodes:
        if node["op"] not in ALLOWED:
            raise ExportError(f"node {node['name']}: aten.{node['op']} is outside the rules")
        args = _resolve(node["args"], values)
        kwargs = {k: _resolve(v, values) for k, v in node["kwargs"].items()}
        if node["op"] == "getitem" and not (
            len(args) == 2 and isinstance(args[1], int) and isinstance(args[0], (tuple, list))
        ):
            raise ExportError(f"node {node['name']}: getitem only picks one output of an operation")
        values[node["name"]] = _function(node["op"])(*args, **kwargs)
    return values


@torch.no_grad()
def run_graph(graph: Graph, x: torch.Tensor) -> torch.Tensor:
    """The graph's scores (float32) for a batch x of BATCH images. Check rule_problems first: this
    runs only ALLOWED operations, but it does not check how they are combined."""
    if tuple(x.shape) != (BATCH, *INPUT_SHAPE):
        raise ValueError(f"run_graph takes batches shaped {(BATCH, *INPUT_SHAPE)}, not {tuple(x.shape)}")
    out = evaluate(graph, x)[graph.output]
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (BATCH, 2):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ExportError(f"`model` must return {SCORES_SHAPE}; it returned {shape} for {BATCH} images")
    return out.float()


def scores(graph: Graph, x: torch.Tensor) -> torch.Tensor:
    """The graph's scores for every image in x, BATCH at a time (the last batch padded with blanks)."""
    out = []
    for i in range(0, len(x), BATCH):
        batch = x[i : i + BATCH]
        n = len(batch)
        if n < BATCH:  # the graph was traced for full batches: pad with blank images, drop their scores
            batch = torch.cat([batch, batch.new_zeros(BATCH - n, *batch.shape[1:])])
        out.append(run_graph(graph, batch)[:n])
    return torch.cat(out)
