"""How fast the grader gets through a class: the fixed cost of one submission, and submissions per hour
one at a time and with --jobs.

    python bench/grading.py --data ../shared/data/cifar10-jpg --submissions 4 --jobs 1 2
    python bench/grading.py --data synthetic --kind nothing --submissions 3 --jobs 1

--kind exercise: notebook 08 as handed out (the lecture's baseline, 100 epochs at full length).
--kind nothing: a notebook that trains nothing (an untrained baseline): what every submission pays
whatever it does (a sandbox, a kernel, imports, the export, scoring), a class of 300 pays it 300 times.
Each is graded in its own sandbox; the pass mark is fixed (--threshold) so the one-off reference
training is not counted. Settings run one after the other in this process; their ratio is printed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from ffnn_lab.grading.runner import Options, grade

EXERCISE = Path(__file__).resolve().parents[1] / "notebooks" / "08-exercise-beat-80-percent.ipynb"
NOTHING = "import ffnn_lab\nmodel = ffnn_lab.baseline()  # trains nothing: the grader's fixed cost alone"


def make(path: Path, kind: str) -> None:
    path.parent.mkdir(parents=True)
    if kind == "exercise":
        shutil.copy(EXERCISE, path)
    else:
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(NOTHING)]), path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="the data to grade on (a folder, or 'synthetic')")
    p.add_argument("--kind", choices=["exercise", "nothing"], default="exercise")
    p.add_argument("--submissions", type=int, default=4)
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--gpu", action="store_true", help="bind the GPU into the sandboxes (grade --gpu)")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submissions"
        subs = [folder / f"student{i:02d}" / "exercise.ipynb" for i in range(args.submissions)]
        for path in subs:
            make(path, args.kind)
        for jobs in args.jobs:
            options = Options(data=args.data, threshold=0.85, ceiling=1.0, jobs=jobs, gpu=args.gpu)
            start = time.perf_counter()
            rows, code = grade(subs, Path(tmp) / f"report-{jobs}", options)
            seconds = time.perf_counter() - start
            if code:  # interrupted: the figures would mean nothing
                raise SystemExit(code)
            per = sorted(r.seconds for r in rows)
            results.append(
                {
                    "kind": args.kind,
                    "jobs": jobs,
                    "seconds": round(seconds, 1),
                    "graded": sum(r.status in ("graded", "review") for r in rows),
                    "per_submission_s": [round(s, 1) for s in per],
                    "per_hour": round(3600 * len(subs) / seconds, 1),
                    "device": sorted({r.device for r in rows}),
                }
            )
            r = results[-1]
            print(
                f"--jobs {jobs}: {len(subs)} submissions ({r['graded']} graded) in {seconds:.0f} s = "
                f"{r['per_hour']:.0f} per hour; each {per[0]:.1f}-{per[-1]:.1f} s; trained on {r['device']}",
                flush=True,
            )
    base = results[0]["seconds"]
    for r in results[1:]:
        print(f"--jobs {r['jobs']} is {base / r['seconds']:.2f}x as fast as --jobs {results[0]['jobs']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
