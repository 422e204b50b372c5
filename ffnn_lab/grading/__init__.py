"""Grading the exercise: the student's own checks, and the instructor's two-phase, sandboxed grader.

exercise.py  the rule (a clear margin over the untouched exercise), `contract` and `check` for notebook 08
graph.py     a model as a file that loads without running Python: export, validate, check rules, run
sandbox.py   bubblewrap around untrusted code
phase1.py    inside the sandbox: run the notebook, export `model`
phase2.py    grader code only: score the exported graph on the private images
reports.py   report.csv / report.md / report.json, escaped and atomic
runner.py    the instructor's grader: submissions, jobs, shards, signals
"""

from .exercise import MARGIN, THRESHOLD, check, contract, reference_accuracy

__all__ = ["MARGIN", "THRESHOLD", "check", "contract", "reference_accuracy"]
