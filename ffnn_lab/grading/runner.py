"""The instructor's grader for a whole class: the split, the pass mark, the submissions (this shard of
them, `jobs` at a time, each through pipeline.py), the reports and feedback as it goes, and a clean
stop on SIGINT/SIGTERM. Everything it writes is private to the instructor (umask 077).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..data import HOLDOUT, SPLIT_SEED
from ..errors import InvalidInput
from . import process, sandbox
from .exercise import reference_accuracy
from .pipeline import Bar, Settings, grade_one
from .policy import CEILING, MARGIN, Budget, bar
from .reports import Row, clean, write_feedback, write_reports
from .split import Split, prepare_split
from .submissions import submission_ids

CUDA_PROBE = "import torch; print('CUDA', torch.cuda.is_available())"


@dataclass(frozen=True)
class Options:
    """How a class is graded (the CLI's `grade` flags)."""

    data: str | None = None
    budget: Budget = field(default_factory=Budget)
    threshold: float | None = None  # a fixed pass mark instead of the reference + margin
    margin: float = MARGIN
    ceiling: float = CEILING
    jobs: int = 1
    sandboxed: bool = True
    gpu: bool = False
    memory_gib: float | None = None
    holdout: int = HOLDOUT
    split_seed: int = SPLIT_SEED
    shard: tuple[int, int] = (1, 1)


class Interrupted(Exception):
    """SIGINT or SIGTERM reached the grader; .signum says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def grade(notebooks: list[Path], report_dir: Path, options: Options = Options()) -> tuple[list[Row], int]:
    """Grade notebooks (this shard of them), writing the reports as it goes; (rows, exit code)."""
    settings = _settings(options)
    ids = submission_ids(notebooks)
    k, n = options.shard
    mine = [i for pos, i in enumerate(sorted(range(len(ids)), key=lambda i: ids[i][0])) if pos % n == k - 1]
    header = _header(options, settings, ids)
    rows: dict[int, Row] = {}
    code, umask = 0, os.umask(0o077)
    try:
        with _stop_on_signals():
            split = prepare_split(options.data, options.holdout, options.split_seed)
            try:
                goal = _bar(split, options)
                header.update(_split_header(split, goal, options))
                _grade_class(
                    notebooks, ids, mine, split, settings, goal, report_dir, header, rows, options.jobs
                )
            finally:
                split.close()
    except Interrupted as e:
        code = 128 + e.signum
        print(f"\ngrading interrupted by {e}: the report marks the rest as not graded", file=sys.stderr)
    finally:  # whatever happened, the report says what was graded and what was not
        final = [rows.get(i) or _not_graded(ids[i], header) for i in sorted(mine, key=lambda i: ids[i][0])]
        try:
            write_reports(final, report_dir, header)
        finally:
            os.umask(umask)
    return final, code


def _header(options: Options, settings: Settings, ids: list[tuple[str, str]]) -> dict:
    """The report's header: the run's settings, the isolation, and which class it belongs to."""
    everyone = sorted(rel for rel, _ in ids)  # shards cut from another list of notebooks do not merge
    header: dict = {
        "timeout": options.budget.timeout,
        "shard": f"{options.shard[0]}/{options.shard[1]}",
        "jobs": options.jobs,
        "submissions in the class": len(everyone),
        "class": hashlib.sha256("\0".join(everyone).encode("utf-8", "surrogateescape")).hexdigest()[:16],
    }
    header.update(
        settings.sandbox.describe(settings.limits) if settings.sandbox else {"sandbox": "UNSANDBOXED"}
    )
    return header


def _not_graded(ident: tuple[str, str], header: dict) -> Row:
    return Row(
        submission=ident[0],
        student=ident[1],
        status="not graded",
        passed=False,
        sandbox=str(header.get("sandbox", "")).split()[0],
        error="grading stopped before this one",
    )


def _settings(options: Options) -> Settings:
    """The sandbox this machine allows, the limits per submission, its share of the cores."""
    limits = sandbox.Limits.for_run(options.budget.timeout, options.jobs, options.memory_gib)
    threads = max(1, (os.cpu_count() or 1) // max(1, options.jobs))
    box = sandbox.Sandbox.here(gpu=_gpu_works(options, limits)) if options.sandboxed else None
    if box and box.cgroups and options.jobs > 1:
        print(
            f"warning: no control groups here ({box.cgroups}): with --jobs {options.jobs}, one "
            "submission can slow the others down",
            file=sys.stderr,
        )
    return Settings(options.budget, box, limits, threads)


def _gpu_works(options: Options, limits: sandbox.Limits) -> bool:
    """--gpu: whether CUDA starts inside a sandbox here; if not, say so and grade on the CPU."""
    if not options.gpu or not options.sandboxed:
        return False
    if not sandbox.gpu_present():
        raise InvalidInput(
            "--gpu asked for, but this machine has no NVIDIA GPU (no /dev/nvidia*): drop --gpu"
        )
    box = sandbox.Sandbox.here(gpu=True)
    out = process.run([sys.executable, "-c", CUDA_PROBE], limit=120, limits=limits, sandbox=box, env={})
    said = bytes(out.output.data).decode(errors="replace")
    if "CUDA True" in said:
        return True
    print(
        f"warning: --gpu: CUDA did not start inside the sandbox ({said.strip()[-200:] or 'no output'}); "
        "grading on the CPU instead",
        file=sys.stderr,
    )
    return False


def _bar(split: Split, options: Options) -> Bar:
    """The pass mark: a fixed --threshold, or the untouched exercise's score on this split + margin."""
    if options.threshold is not None:
        return Bar(options.threshold, None, options.ceiling)
    print("the untouched exercise's score on this split (trained once per split, then cached)...", flush=True)
    reference = reference_accuracy(
        split.student.train, split.images, torch.from_numpy(split.labels), split_key=split.fingerprint
    )
    return Bar(bar(reference, options.margin), reference, options.ceiling)


def _split_header(split: Split, goal: Bar, options: Options) -> dict:
    print(f"grading on {split.description}; pass mark {goal.pass_mark:.2%}", flush=True)
    return {
        "data": split.description,
        "fingerprint": split.fingerprint,
        "reference (untouched exercise)": goal.reference,
        "pass mark": goal.pass_mark,
        "margin over reference": None if options.threshold is not None else options.margin,
        "ceiling": goal.ceiling,
    }


def _grade_class(notebooks, ids, mine, split, settings, goal, report_dir, header, rows, jobs) -> None:
    """Each submission of this shard, `jobs` at a time, each in a slot (its own sandbox user); the
    reports and the student's feedback are rewritten after every one."""
    slots: queue.Queue[int] = queue.Queue()
    for slot in range(jobs):
        slots.put(slot)
    logs = report_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    def one(pos: int, i: int) -> Row:
        slot = slots.get()
        try:
            log = logs / f"{pos:04d}-{_slug(ids[i][0])}.log"
            return grade_one(Path(notebooks[i]), ids[i], split, settings, goal, log, slot)
        finally:
            slots.put(slot)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {i: pool.submit(one, pos, i) for pos, i in enumerate(mine)}
        try:
            for i, future in futures.items():
                rows[i] = _result(future)
                r = rows[i]
                acc = "-" if r.accuracy is None else f"{r.accuracy:.2%}"
                verdict = "PASS" if r.passed else "REVIEW" if r.status == "review" else "FAIL"
                print(
                    f"{clean(r.submission)}: {verdict} {acc} ({r.seconds:.0f} s)"
                    + (f" - {r.error}" if r.error else ""),
                    flush=True,
                )
                write_reports([rows[j] for j in sorted(rows, key=lambda j: ids[j][0])], report_dir, header)
                log = (logs / r.log).read_text(errors="replace") if (logs / r.log).exists() else ""
                write_feedback(r, report_dir, log, settings.budget.timeout)
        finally:
            if process.stopping.is_set():
                for future in futures.values():
                    future.cancel()
                process.kill_all()


def _result(future):
    """A future's result, waited for in short steps so that a signal is handled promptly."""
    while True:
        try:
            return future.result(timeout=0.5)
        except TimeoutError:
            continue
        except process.Stopped:
            raise Interrupted(signal.SIGTERM) from None


@contextlib.contextmanager
def _stop_on_signals():
    """SIGINT/SIGTERM stop the run (in the main thread, the only one where signals can be caught)."""

    def on_signal(signum, frame):
        process.stopping.set()
        raise Interrupted(signum)

    in_main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)} if in_main else {}
    process.stopping.clear()
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:80]
