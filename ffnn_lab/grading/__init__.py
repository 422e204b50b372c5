"""Grading the exercise: the student's own checks, and the instructor's two-phase, sandboxed grader.

policy.py       the numbers: the lecture's bar, the margin, the ceiling, the time budget
exercise.py     the untouched exercise's reference, `contract`, `time_check` and `check` for notebook 08
references.py   the untouched exercise's accuracy on the splits courses use, measured once and shipped
graph.py        a model as a file that loads without running Python: export, load, run
ops.py          the aten operations of the exercise's model family, by kind
rules.py        the rules by structure, and every image's scores its own
submissions.py  reading submissions: who they belong to, their bytes
split.py        the graded split: the sandboxes' view and the private images
sandbox.py      bubblewrap around untrusted code; seccomp.py and cgroups.py: its filter and groups
process.py      the one way a command runs under the limits
phase1.py       inside a sandbox: run the notebook, export `model`
phase2.py       inside a second sandbox: check the rules, predict the private images
pipeline.py     one submission: read, phase 1, phase 2, score, its row
reports.py      report.csv / report.md / report.json and each student's feedback, escaped and atomic
runner.py       the class: split, pass mark, jobs, shards, signals
"""

from .policy import CEILING, MARGIN, THRESHOLD

__all__ = ["CEILING", "MARGIN", "THRESHOLD", "check", "contract", "reference_accuracy", "time_check"]


def __getattr__(name: str):
    # the checks load the exporter and the training loop: only when notebook 08 asks for them, so
    # that reading the policy (the CLI's defaults) or running a phase stays light
    if name in ("check", "contract", "reference_accuracy", "time_check"):
        from . import exercise

        return getattr(exercise, name)
    raise AttributeError(f"module 'ffnn_lab.grading' has no attribute {name!r}", name=name, obj=None)
