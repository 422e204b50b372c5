"""How fast the grader gets through a class: submissions per hour, one at a time and with --jobs.

    python bench/grading.py --data ../shared/data/cifar10-jpg --submissions 4 --jobs 1 2

Each submission is notebook 08 as handed out (the lecture's baseline, 100 epochs at full length),
graded in its own sandbox; the pass mark is fixed (--threshold) so the one-off reference training is
not counted. Runs the settings one after the other in this process and prints their ratio.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from ffnn_lab.grading.runner import grade

EXERCISE = Path(__file__).resolve().parents[1] / "notebooks" / "08-exercise-beat-80-percent.ipynb"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="the data to grade on (a folder, or 'synthetic')")
    p.add_argument("--submissions", type=int, default=4)
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        subs = []
        for i in range(args.submissions):
            path = Path(tmp) / "submissions" / f"student{i:02d}" / "exercise.ipynb"
            path.parent.mkdir(parents=True)
            shutil.copy(EXERCISE, path)
            subs.append(path)
        for jobs in args.jobs:
            start = time.perf_counter()
            rows, code = grade(subs, Path(tmp) / f"report-{jobs}", args.data, threshold=0.85, jobs=jobs)
            seconds = time.perf_counter() - start
            if code:  # interrupted: the figures would mean nothing
                raise SystemExit(code)
            graded = sum(r.status == "graded" for r in rows)
            results.append(
                {
                    "jobs": jobs,
                    "seconds": round(seconds, 1),
                    "graded": graded,
                    "per_hour": round(3600 * len(subs) / seconds, 1),
                }
            )
            print(
                f"--jobs {jobs}: {len(subs)} submissions ({graded} graded) in {seconds:.0f} s "
                f"= {results[-1]['per_hour']:.0f} per hour",
                flush=True,
            )
    base = results[0]["seconds"]
    for r in results[1:]:
        print(f"--jobs {r['jobs']} is {base / r['seconds']:.2f}x as fast as --jobs {results[0]['jobs']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
