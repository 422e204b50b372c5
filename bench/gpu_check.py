"""Everything the lab must check on a GPU, in one run, each step under a time limit:

  1. the CUDA tests (pytest tests/test_cuda.py);
  2. bench/speed.py --device cuda --full-run: both engines side by side, and whether the graph
     matches the eager loop and beats it, into bench/results/<device>-<date>.json;
  3. does CUDA start inside the grader's sandbox? (a probe: the sandbox as the grader builds it,
     and variants, so a failure says what it needs);
  4. the grader, sandboxed, on notebook 08 as handed out and on an improved submission: time per
     submission and the device each one trained on;
  5. notebooks 07, 08 and 09 at full length on CUDA (side by side, to fit the time), their wall times;
  6. the sandboxes' control groups on this machine (cgroup v1 or v2): the kernel's limits on CPU,
     memory and processes (tests/test_grading_cgroups.py) and a CPU hog beside an honest notebook;
  7. one summary table, printed and written as summary.md beside everything else measured.

    bash bench/gpu_check.sh [--data ../shared/data/cifar10-jpg] [--out DIR] [--budget 420]

Every step's output goes to DIR/<step>.log; a step that fails or runs out of time is recorded as
such and the next one runs. Needs bubblewrap for step 4 (the grader refuses without it).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
EXERCISE = REPO / "notebooks" / "08-exercise-beat-80-percent.ipynb"
EDIT_MARK = "# ✏️ EDIT THIS CELL"
# an improvement a student could hand in: wider and deeper, regularised, a better optimiser
IMPROVED = """\
# ✏️ EDIT THIS CELL: your model and your training choices
torch.manual_seed(0)
model = nn.Sequential(
    nn.Flatten(),
    nn.Linear(3072, 1024), nn.BatchNorm1d(1024), nn.GELU(), nn.Dropout(0.2),
    nn.Linear(1024, 512), nn.BatchNorm1d(512), nn.GELU(), nn.Dropout(0.2),
    nn.Linear(512, 2),
).to(lab.device)

history = ffnn_lab.fit(
    model, data.train, data.val,
    epochs=lab.epochs(40), batch_size=128, lr=2e-3, optimizer="adamw", weight_decay=0.05,
    schedule="onecycle", max_shift=3, flip=True,
)
"""
STEPS = ("env", "cgroups", "cuda-tests", "speed", "sandbox", "grading", "fixed-cost", "notebooks")
PROBE = """\
import json, time, warnings
start = time.perf_counter()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import torch
    cuda = torch.cuda.is_available()
import os
r = {"import_and_init_s": round(time.perf_counter() - start, 2), "cuda": cuda, "uid": os.getuid(),
     "warnings": [str(w.message)[:300] for w in caught]}
if cuda:
    x = torch.randn(2048, 2048, device="cuda")
    r["matmul_ok"] = bool(torch.isfinite(x @ x).all())
    r["device"] = torch.cuda.get_device_name()
print("PROBE " + json.dumps(r))
"""


def device_slug() -> str:
    return re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name().lower()).strip("-")


class Steps:
    """Runs commands one after another within one deadline, each under its own limit too."""

    def __init__(self, out: Path, budget: float) -> None:
        self.out, self.deadline, self.results = out, time.monotonic() + budget, {}

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def run(self, name: str, cmd: list[str], limit: float, env: dict | None = None) -> dict:
        """Run cmd with output to <name>.log; {'seconds', 'code' (None: out of time), 'limit'}."""
        limit = max(1.0, min(limit, self.left()))
        log = self.out / f"{name}.log"
        print(f"== {name} (limit {limit:.0f} s): {' '.join(map(str, cmd))}", flush=True)
        start = time.monotonic()
        with log.open("wb") as f:
            proc = subprocess.Popen(
                cmd,
                stdout=f,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
            try:
                code = proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
                code = None
        r = {"seconds": round(time.monotonic() - start, 1), "code": code, "limit": round(limit)}
        self.results[name] = r
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        print(
            f"   {'TIMED OUT' if code is None else f'exit {code}'} after {r['seconds']} s", *tail, sep="\n   "
        )
        return r


def probe_sandbox(out: Path) -> list[dict]:
    """Does CUDA start in the grader's sandbox as `grade --gpu` builds it? (And outside, to compare.)"""
    from ffnn_lab.grading import process, sandbox

    limits = sandbox.Limits.for_run(600)
    box = sandbox.Sandbox.here(gpu=True)
    found = []
    for name, where in (("outside the sandbox", None), ("in the sandbox, as `grade --gpu` builds it", box)):
        start = time.monotonic()
        run = process.run([sys.executable, "-c", PROBE], limit=90, limits=limits, sandbox=where, env={})
        said = [
            ln
            for ln in bytes(run.output.data).decode(errors="replace").splitlines()
            if ln.startswith("PROBE ")
        ]
        r = (
            json.loads(said[-1][6:])
            if said
            else {"cuda": False, "output": bytes(run.output.data)[-600:].decode(errors="replace")}
        )
        r.update(variant=name, code=run.code, seconds=round(time.monotonic() - start, 1))
        found.append(r)
        print(f"   {name}: CUDA {'yes' if r.get('cuda') else 'NO'} ({r['seconds']} s)", flush=True)
    found.append({"variant": "sandbox settings", **box.describe(limits)})
    (out / "sandbox-probe.json").write_text(json.dumps(found, indent=2) + "\n")
    return found


def make_submissions(out: Path) -> list[Path]:
    """Notebook 08 as handed out, and the same notebook with IMPROVED in its edit cell."""
    import nbformat

    paths = []
    for student, edit in (("handed-out", None), ("improved", IMPROVED)):
        nb = nbformat.read(EXERCISE, as_version=4)
        if edit:
            cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(EDIT_MARK))
            cell.source = edit
        path = out / "submissions" / student / "exercise.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        paths.append(path)
    return paths


def grading_rows(report: Path) -> list[dict]:
    """Each graded row, with the device its notebook's setup() reported in the log."""
    try:
        rows = json.loads((report / "report.json").read_text())["rows"]
    except (OSError, ValueError, KeyError):
        return []
    for row in rows:
        try:
            log = (report / "logs" / row["log"]).read_text(errors="replace")
        except (OSError, KeyError):
            log = ""
        found = re.search(r"Device: (\w+)", log)
        row["trained_on"] = found.group(1) if found else None
    return rows


def summary(
    out: Path, steps: Steps, speed: dict, probe: list[dict], rows: list[dict], notebooks: list[dict]
) -> str:
    """The run in one Markdown page."""
    env = (out / "env.log").read_text(errors="replace").strip() if (out / "env.log").exists() else ""
    lines = [
        f"# GPU check, {datetime.date.today()}",
        "",
        "```",
        env,
        "```",
        "",
        "| step | outcome | seconds |",
        "|---|---|---|",
    ]
    for name, r in steps.results.items():
        outcome = "out of time" if r["code"] is None else ("ok" if r["code"] == 0 else f"exit {r['code']}")
        lines.append(f"| {name} | {outcome} | {r['seconds']} |")
    lines += ["", "| measurement | value |", "|---|---|"]
    for key in (
        "epoch_package_s",
        "epoch_floor_s",
        "floor_ratio",
        "epoch_graph_s",
        "epoch_graph_floor_s",
        "graph_floor_ratio",
        "graph_speedup",
        "baseline_100_epochs_eager_s",
        "baseline_100_epochs_graph_s",
        "graph_loss_max_rel_diff",
        "graph_train_accuracy_max_diff",
        "graph_verdict",
    ):
        if key in speed:
            value = speed[key]
            lines.append(f"| {key} | {value:.4g} |" if isinstance(value, float) else f"| {key} | {value} |")
    for p in probe:
        if "seconds" in p:
            lines.append(f"| CUDA {p['variant']} | {'yes' if p.get('cuda') else 'no'} ({p['seconds']} s) |")
        else:
            lines += [f"| sandbox: {k} | {v} |" for k, v in p.items() if k != "variant"]
    for row in rows:
        acc = "-" if row.get("accuracy") is None else f"{row['accuracy']:.2%}"
        lines.append(
            f"| graded {row['student']} | {'PASS' if row['passed'] else row['status'].upper()} {acc} in "
            f"{row['seconds']:.1f} s, trained on {row.get('device') or row['trained_on']} "
            f"{row.get('error', '')} |"
        )
    fixed = out / "fixed-cost.json"
    for r in json.loads(fixed.read_text()) if fixed.exists() else []:
        lines.append(f"| fixed cost (a notebook that trains nothing) | {r['per_submission_s']} s each |")
    for nb in notebooks:
        lines.append(
            f"| notebook {nb['notebook']} | {nb['seconds']} s on {nb['device']} "
            f"{'' if nb['ok'] else 'FAILED'} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "cifar10-jpg"))
    p.add_argument("--out", type=Path, help="default bench/results/gpu-check-<device>-<date>")
    p.add_argument("--budget", type=float, default=420, help="seconds for the whole run")
    p.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS), help="which steps (default all)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="test this script without a GPU: every step on the CPU, synthetic data, quick notebooks",
    )
    args = p.parse_args()
    if not torch.cuda.is_available() and not args.dry_run:
        print(
            "gpu_check: no CUDA device here; this script is for a machine with an NVIDIA GPU", file=sys.stderr
        )
        return 2
    device = "cpu" if args.dry_run else "cuda"
    if args.dry_run:
        args.data = "synthetic"
    tag = f"{device_slug() if device == 'cuda' else 'dry-run'}-{datetime.date.today()}"
    out = (args.out or REPO / "bench" / "results" / f"gpu-check-{tag}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    steps = Steps(out, args.budget)
    py = sys.executable
    env_cmd = (
        "nvidia-smi -L; nvidia-smi --query-gpu=driver_version,memory.total --format=csv,noheader; nproc; "
    )
    versions = "import sys, torch, torchvision as tv; print(sys.version, torch.__version__, tv.__version__)"
    env_cmd += f"{py} -c '{versions}'; "
    env_cmd += "bwrap --version || echo 'bwrap: not found'"
    want = set(args.steps)
    if "env" in want:
        steps.run("env", ["bash", "-c", env_cmd], 30)
    if "cgroups" in want:
        layout = "from ffnn_lab.grading import cgroups as c; print('groups:', c.unavailable() or c.layout())"
        cg_env = "cat /proc/self/cgroup; grep cgroup /proc/self/mountinfo; "
        cg_env += "head /sys/fs/cgroup/cgroup.controllers /sys/fs/cgroup/cgroup.subtree_control; "
        steps.run("cgroups-env", ["bash", "-c", cg_env + f'{py} -c "{layout}"'], 30)
        steps.run(
            "cgroups",
            [
                py,
                "-m",
                "pytest",
                "tests/test_grading_cgroups.py",
                "tests/test_grading_sandbox.py",
                "-k",
                "cgroups or hog or bounded or key_store",
                "-q",
                "-rs",
                "-p",
                "no:cacheprovider",
            ],
            240,
        )
    if "cuda-tests" in want:
        steps.run(
            "cuda-tests", [py, "-m", "pytest", "tests/test_cuda.py", "-q", "-p", "no:cacheprovider"], 120
        )
    speed_json = REPO / "bench" / "results" / f"{tag}.json"
    if "speed" in want:
        steps.run(
            "speed",
            [
                py,
                "bench/speed.py",
                "--data",
                args.data,
                "--device",
                device,
                "--full-run",
                "--repeats",
                "3",
                "--json",
                speed_json,
            ],
            240,
        )
    speed = json.loads(speed_json.read_text()) if "speed" in want and speed_json.exists() else {}

    probe: list[dict] = []
    if "sandbox" in want and shutil.which("bwrap"):
        print("== sandbox probe", flush=True)
        probe = probe_sandbox(out)

    rows: list[dict] = []
    if "grading" in want and shutil.which("bwrap"):
        subs = make_submissions(out)
        report = out / "grading"
        steps.run(
            "grading",
            [
                py,
                "-m",
                "ffnn_lab",
                "grade",
                *map(str, subs),
                "--data",
                args.data,
                "--report-dir",
                str(report),
                "--timeout",
                "240",
                *(["--gpu"] if device == "cuda" else []),
            ],
            300,
        )
        rows = grading_rows(report)
    if "fixed-cost" in want and shutil.which("bwrap"):
        steps.run(
            "fixed-cost",
            [
                py,
                "bench/grading.py",
                "--data",
                args.data,
                "--kind",
                "nothing",
                "--submissions",
                "2",
                "--jobs",
                "1",
                *(["--gpu"] if device == "cuda" else []),
                "--json",
                str(out / "fixed-cost.json"),
            ],
            120,
        )

    if "notebooks" in want:
        steps.run(
            "notebooks",
            [
                "bash",
                "-c",
                " & ".join(
                    f"{py} bench/notebook_times.py {n} --data {args.data} --out {out / 'notebooks' / n}"
                    + (" --quick" if args.dry_run else "")
                    for n in ("07", "08", "09")
                )
                + " & wait",
            ],
            420,
        )
    notebooks = []
    for n in ("07", "08", "09") if "notebooks" in want else ():
        times = out / "notebooks" / n / "times.json"
        notebooks += (
            json.loads(times.read_text())
            if times.exists()
            else [{"notebook": n, "seconds": None, "ok": False, "device": None}]
        )

    text = summary(out, steps, speed, probe, rows, notebooks)
    (out / "summary.md").write_text(text)
    (out / "summary.json").write_text(
        json.dumps(
            {
                "steps": steps.results,
                "speed": speed,
                "sandbox_probe": probe,
                "grading": rows,
                "notebooks": notebooks,
            },
            indent=2,
        )
        + "\n"
    )
    print("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
