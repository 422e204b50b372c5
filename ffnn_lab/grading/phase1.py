"""Phase 1, inside the sandbox: run a submission in a fresh kernel, then export its `model`.

Usage: python -m ffnn_lab.grading.phase1 NOTEBOOK TIMEOUT EXPORT_FD STATUS_FD
Writes the exported graph file (ffnn_lab.grading.graph) to file descriptor EXPORT_FD, and to
STATUS_FD one JSON object {"kind": ..., "said": ...}: what went wrong ("" when nothing did) and the
notebook's own words about it. The kernel cannot reach STATUS_FD (not inherited, and this process
is not dumpable, so /proc/PID/fd is closed to it); it can still kill this process, and then the
grader finds no status. The export and the words are the submission's, and treated as such.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import tempfile
from pathlib import Path

from ..errors import ANSI, first_line

PR_SET_DUMPABLE = 4
LOG_PER_CELL = 20_000  # characters of one cell's output shown in the log
EXPORT_CELL = """\
import ffnn_lab.grading.graph as _ffnn_lab_graph
try:
    model
except NameError:
    raise NameError("the notebook defines no `model`: the grader scores the variable `model`") from None
_ffnn_lab_graph.export_model(model, {path!r})
"""


def show_outputs(nb) -> None:
    """Print each cell's text output, so the grader's log shows what the notebook said."""
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            text = out.get("text") or out.get("data", {}).get("text/plain") or out.get("evalue") or ""
            if text:
                print(f"[cell {i}] {ANSI.sub('', str(text))[:LOG_PER_CELL]}", flush=True)


def run(notebook: Path, timeout: float, export: Path) -> tuple[str, str]:
    """('', '') when every cell ran and model was exported, else (what went wrong, the notebook's words)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception as e:  # any unreadable file is the submission's problem, reported as such
        return "unreadable", first_line(e)
    nb.cells.append(nbformat.v4.new_code_cell(EXPORT_CELL.format(path=str(export))))
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}}
    )
    try:
        client.execute()
    except CellTimeoutError:
        return "timeout", ""
    except CellExecutionError as e:
        kind = "export" if e.ename == "ExportError" else "cell"
        return kind, f"{e.ename}: {first_line(e.evalue)}"
    except Exception as e:  # the kernel died, was killed, or never started
        return "kernel", f"{type(e).__name__}: {first_line(e)}"
    finally:
        show_outputs(nb)
    return "", ""


def main() -> int:
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # before the kernel starts: see above
    notebook, timeout, fd, status_fd = (
        Path(sys.argv[1]),
        float(sys.argv[2]),
        int(sys.argv[3]),
        int(sys.argv[4]),
    )
    export = Path(tempfile.mkdtemp()) / "model.npz"
    kind, said = run(notebook, timeout, export)
    if not kind:
        try:
            data = export.read_bytes()
        except OSError as e:
            kind, said = "export", f"no exported model: {e.strerror}"
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
    status = json.dumps({"kind": kind, "said": said})
    print(f"PHASE1 {status}", flush=True)  # for the log
    with os.fdopen(status_fd, "w") as out:
        out.write(status)
    return 1 if kind else 0


if __name__ == "__main__":
    sys.exit(main())
