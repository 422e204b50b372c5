"""Run notebooks top to bottom at full length (quick mode off), as a student would, and time each.

    python bench/notebook_times.py 07 08 09 --data ../shared/data/cifar10-jpg --out DIR [--timeout 600]

Writes each executed notebook and times.json (seconds, whether every cell ran, the device the
notebook's setup() reported) to DIR. Notebooks are picked by their number in notebooks/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
DEVICE_LINE = re.compile(r"Device: (\w+)")


def find(number: str) -> Path:
    """The notebook whose name starts with number (in notebooks/ or notebooks/after-grading/)."""
    found = sorted(NOTEBOOKS.glob(f"{number}-*.ipynb")) + sorted(NOTEBOOKS.glob(f"*/{number}-*.ipynb"))
    if not found:
        raise SystemExit(f"no notebook numbered {number} in {NOTEBOOKS}")
    return found[0]


def outputs(nb) -> str:
    return "\n".join(
        str(out.get("text") or out.get("data", {}).get("text/plain") or "")
        for cell in nb.cells
        for out in cell.get("outputs", [])
    )


def run(path: Path, out_dir: Path, timeout: float) -> dict:
    """Execute one notebook in a fresh kernel; its time, outcome and reported device."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    error = ""
    try:
        client.execute()
    except Exception as e:  # a failed cell is a finding to record, not a reason to stop the others
        error = f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[-1][:300]}"
    seconds = time.perf_counter() - start
    nbformat.write(nb, out_dir / path.name)
    device = DEVICE_LINE.search(outputs(nb))
    return {
        "notebook": path.name,
        "seconds": round(seconds, 1),
        "ok": not error,
        "error": error,
        "device": device.group(1) if device else None,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("numbers", nargs="+", help="notebook numbers, e.g. 07 08 09")
    p.add_argument("--data", help="FFNN_LAB_DATA for the notebooks (a folder, or 'synthetic')")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--timeout", type=float, default=600, help="seconds per cell")
    p.add_argument("--quick", action="store_true", help="quick mode (short runs), to test this script")
    args = p.parse_args()
    os.environ.pop("FFNN_LAB_QUICK", None)  # full length, as students run them
    if args.quick:
        os.environ["FFNN_LAB_QUICK"] = "1"
    os.environ["MPLBACKEND"] = "Agg"
    if args.data:
        os.environ["FFNN_LAB_DATA"] = args.data
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for number in args.numbers:
        results.append(run(find(number), args.out, args.timeout))
        r = results[-1]
        print(
            f"{r['notebook']}: {r['seconds']:.0f} s on {r['device']}"
            + ("" if r["ok"] else f" FAILED {r['error']}"),
            flush=True,
        )
        (args.out / "times.json").write_text(
            json.dumps(results, indent=2) + "\n"
        )  # kept if a later one hangs
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
