"""Run one notebook plus an appended cell in a fresh kernel: the grader's child process.

Usage: python run_notebook.py NOTEBOOK CELL_SOURCE TIMEOUT. Exits 1 with the reason on its
last output line when the notebook cannot be read or a cell fails, 3 when a cell timed out.
Imports no torch, so it starts fast; the kernel it starts imports whatever the notebook needs.
"""

import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

TIMED_OUT = 3
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(notebook: Path, cell: str, timeout: float) -> str:
    """'' when every cell ran, else why not (starting with 'timed out' for a timeout)."""
    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception as e:  # any unreadable file is the submission's problem, reported as such
        return f"not a readable notebook: {e}"
    nb.cells.append(nbformat.v4.new_code_cell(cell))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(notebook.parent)}})
    try:
        client.execute()
    except CellTimeoutError:
        return f"timed out after {timeout:g} s"
    except CellExecutionError as e:
        first = (ANSI.sub("", e.evalue or "").strip().splitlines() or [""])[0]
        return f"a cell raised {e.ename}: {first}"
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    return ""


if __name__ == "__main__":
    problem = run(Path(sys.argv[1]), sys.argv[2], float(sys.argv[3]))
    if problem:
        print(" ".join(problem.split()))
        sys.exit(TIMED_OUT if problem.startswith("timed out") else 1)
